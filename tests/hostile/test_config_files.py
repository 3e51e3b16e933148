"""Hostile configuration files: any bytes as any of the three files give a Config or
ConfigErrors (one-line messages, no control characters), never a traceback.

(Moved here from tests/unit/config so that docs/security.md's index of hostile-input tests
is one directory; the parser-level cases stay beside the parsers' other tests.)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinbeat.cli import main
from twinbeat.config import Config, ConfigErrors, load
from twinbeat.config.check import summary

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "config"))
from config_helpers import HOWTO_AUTHKEYS, HOWTO_HACF, HOWTO_HARESOURCES

# Bytes biased towards the files' own vocabulary, so that the parsers get past the first
# token often; plus plain random bytes.
WORDS = [b"node", b"prime", b"calc", b"bcast", b"ucast", b"mcast", b"serial", b"baud",
         b"keepalive", b"deadtime", b"warntime", b"initdead", b"udpport", b"auth", b"1",
         b"md5", b"sha256", b"crc", b"IPaddr::", b"198.18.1.100", b"/24", b"/eth0", b"eth0",
         b"::", b"#", b"\\", b"\n", b" ", b",", b"\t", b"10", b"2ms", b"-1", b"\xff", b"\x00",
         b"auto_failback", b"on", b"crm", b"ping_group", b"respawn", b"/dev/ttyS0"]
vocabulary = st.lists(st.sampled_from(WORDS), max_size=40).map(b"".join)
contents = st.one_of(st.binary(max_size=300), vocabulary)
which = st.sampled_from(["ha.cf", "authkeys", "haresources"])
DEFAULTS = {"ha.cf": HOWTO_HACF, "authkeys": HOWTO_AUTHKEYS, "haresources": HOWTO_HARESOURCES}


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=which, data=contents, mode=st.sampled_from([0o600, 0o644]))
def test_any_bytes_give_a_model_or_config_errors(name: str, data: bytes, mode: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        for file, text in DEFAULTS.items():
            with open(os.path.join(d, file), "wb") as f:
                f.write(data if file == name else text.encode())
        os.chmod(os.path.join(d, "authkeys"), mode)
        try:
            config = load(d, node="prime")
        except ConfigErrors as exc:
            assert exc.messages  # an error exit always says why
            for msg in (*exc.messages, *exc.warnings):
                text = str(msg)
                assert "\n" not in text and "\x00" not in text and "\x1b" not in text
            return
        assert isinstance(config, Config)
        assert mode == 0o600
        summary(config)  # printing a valid model never fails either


def test_binary_garbage_through_check_gives_errors_not_a_traceback(tmp_path: Path,
                                                                     capsys) -> None:
    d = tmp_path / "ha.d"
    d.mkdir()
    (d / "ha.cf").write_bytes(b"\x00\xff\xfe\x1b[2J" * 50 + b"\nnode \xc3\x28\n")
    (d / "authkeys").write_bytes(os.urandom(300))
    os.chmod(d / "authkeys", 0o600)
    (d / "haresources").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert main(["check", "--config-dir", str(d), "--node", "prime"]) == 1
    err = capsys.readouterr().err
    assert "not UTF-8 text" in err
    assert "\x1b" not in err and "\x00" not in err
    assert "Traceback" not in err
