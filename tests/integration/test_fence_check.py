"""`twinbeat check` (and `twinbeat run`) on fencing: the checks that need this machine.

Real cluster-glue (`stonith -L`) and fence-agents (`fence_dummy -o metadata`); the
configuration directory is the test's own (authkeys must be root's, hence `root`).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from twinbeat.config import load
from twinbeat.config.check import run as check_run
from twinbeat.config.fencecheck import (
    check_fencing,
    find_fence_agent,
    parameters_from_metadata,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "config"))
from config_helpers import HOWTO_KEY

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(shutil.which("fence_dummy", path="/usr/sbin:/usr/bin") is None
                       or not os.path.exists("/usr/sbin/stonith"),
                       reason="needs fence-agents and cluster-glue (scripts/install-deps)"),
]
HACF = "node prime\nnode calc\nbcast eth0\nkeepalive 1\ndeadtime 5\n"  # fencing from line 6


def config_dir(tmp_path: Path, fencing: str, haresources: str = "prime 198.18.1.100\n",
               hacf_mode: int = 0o600) -> Path:
    d = tmp_path / "ha.d"
    d.mkdir(exist_ok=True)
    (d / "ha.cf").write_text(HACF + fencing)
    os.chmod(d / "ha.cf", hacf_mode)
    (d / "authkeys").write_text(f"auth 1\n1 md5 {HOWTO_KEY}\n")
    os.chmod(d / "authkeys", 0o600)
    (d / "haresources").write_text(haresources)
    return d


def found(tmp_path: Path, fencing: str, **kw: object) -> tuple[list[str], list[str]]:
    d = config_dir(tmp_path, fencing, **kw)  # type: ignore[arg-type]
    result = check_fencing(load(str(d), node="prime"))
    return [str(m) for m in result.errors], [str(m) for m in result.warnings]


def secret_file(tmp_path: Path, mode: int = 0o600) -> Path:
    path = tmp_path / "pw"
    path.write_text("hunter2\n")
    os.chmod(path, mode)
    return path


def test_a_usable_configuration(tmp_path: Path) -> None:
    pw = secret_file(tmp_path)
    errors, warnings = found(tmp_path, "stonith_host * null calc\n"
                                       f"fence fence_dummy type=file password_file={pw}\n")
    assert errors == []
    assert warnings == [f"{tmp_path}/ha.d/ha.cf:7: fence fence_dummy: option password is not "
                        "one of the agent's (`fence_dummy -o metadata`)"]


def test_an_unknown_stonith_type(tmp_path: Path) -> None:
    errors, _ = found(tmp_path, "stonith_host * external/nosuch calc\n")
    assert errors == [f"{tmp_path}/ha.d/ha.cf:6: stonith_host * external/nosuch: no STONITH "
                      "device type external/nosuch (`stonith -L` lists them)"]


def test_missing_agents(tmp_path: Path) -> None:
    errors, _ = found(tmp_path, "fence fence_twinbeat_nosuch\nfence /nonexistent/fence_x\n")
    assert errors == [
        f"{tmp_path}/ha.d/ha.cf:6: fence fence_twinbeat_nosuch: no such fence agent (not on "
        "PATH nor in /usr/sbin); apt-get install fence-agents",
        f"{tmp_path}/ha.d/ha.cf:7: fence /nonexistent/fence_x: no such fence agent; apt-get "
        "install fence-agents"]


def test_an_unsafe_secret_file(tmp_path: Path) -> None:
    pw = secret_file(tmp_path, 0o644)
    errors, _ = found(tmp_path, f"fence fence_dummy password_file={pw}\n")
    assert errors == [f"{tmp_path}/ha.d/ha.cf:6: fence fence_dummy: password_file: {pw}: bad "
                      f"permissions 0644 (group/other may read or write it); 600 recommended "
                      f"(chmod 600 {pw})"]


def test_only_this_nodes_lines_are_checked(tmp_path: Path) -> None:
    errors, warnings = found(tmp_path, "stonith_host calc external/nosuch prime\n"
                                       "fence prime fence_twinbeat_nosuch\n")
    assert errors == []
    assert warnings == [f"{tmp_path}/ha.d/ha.cf:6: fencing lines, but none for node prime "
                        "(stonith_host HOSTFROM, fence NODE): this node takes over without "
                        "fencing"]


def test_stonith_parameter_files(tmp_path: Path) -> None:
    cfg = tmp_path / "null.cfg"
    errors, _ = found(tmp_path, f"stonith null {cfg}\n")
    assert errors == [f"{tmp_path}/ha.d/ha.cf:6: stonith null {cfg}: cannot read the parameter "
                      "file: No such file or directory"]
    cfg.write_text("calc\n")
    os.chmod(cfg, 0o644)
    errors, warnings = found(tmp_path, f"stonith null {cfg}\n")
    assert errors == []
    assert warnings == [f"{tmp_path}/ha.d/ha.cf:6: stonith null {cfg}: others may read the "
                        "parameter file (mode 0644); it usually holds a password: 600 "
                        "recommended"]


def test_stonith_host_parameters_in_a_readable_hacf(tmp_path: Path) -> None:
    _, warnings = found(tmp_path, "stonith_host * null calc\n", hacf_mode=0o644)
    assert warnings == [f"{tmp_path}/ha.d/ha.cf:6: stonith_host parameters in an ha.cf others "
                        "may read (mode 0644): if they include a password, use `stonith TYPE "
                        "FILE` with a 0600 file, or chmod 600"]


def test_storage_without_fencing_gets_heartbeats_words(tmp_path: Path) -> None:
    d = config_dir(tmp_path, "", haresources="prime 198.18.1.100 Filesystem::/dev/sdb1::/d\n")
    assert [str(w) for w in load(str(d), node="prime").warnings
            if "STONITH" in str(w)] == [
        f"{d}/haresources:1: No STONITH device configured. Shared disks are not protected. "
        "(Filesystem::/dev/sdb1::/d uses storage; configure stonith_host or fence, "
        "docs/fencing.md)"]
    d = config_dir(tmp_path, "stonith_host * null calc\n",
                   haresources="prime 198.18.1.100 Filesystem::/dev/sdb1::/d\n")
    assert not [w for w in load(str(d), node="prime").warnings if "STONITH" in str(w)]


def test_check_prints_the_devices_and_refuses_errors(tmp_path: Path) -> None:
    d = config_dir(tmp_path, "fence_delay 5\nfence_action off\nstonith_host * null calc\n"
                             "fence fence_dummy password=hunter2\n")
    out, err = io.StringIO(), io.StringIO()
    assert check_run(str(d), "prime", out, err) == 0
    assert ("fencing:  off the peer, each device in turn, at most 60s each; head start 5s\n"
            "  stonith_host * null (ha.cf:8) -> /usr/sbin/stonith -t null\n"
            "  fence fence_dummy (ha.cf:9) -> /usr/sbin/fence_dummy; password=***\n"
            ) in out.getvalue()
    assert "hunter2" not in out.getvalue() + err.getvalue()
    d = config_dir(tmp_path, "stonith_host * external/nosuch calc\n")
    out, err = io.StringIO(), io.StringIO()
    assert check_run(str(d), "prime", out, err) == 1
    assert "1 error(s); twinbeat will not start" in err.getvalue()


def test_check_without_fencing_says_so(tmp_path: Path) -> None:
    out = io.StringIO()
    assert check_run(str(config_dir(tmp_path, "")), "prime", out, io.StringIO()) == 0
    assert "fencing:  none (node prime takes over without fencing)" in out.getvalue()


def test_run_refuses_to_start_when_it_cannot_fence(tmp_path: Path) -> None:
    d = config_dir(tmp_path, "fence fence_twinbeat_nosuch\n")
    done = subprocess.run([sys.executable, "-m", "twinbeat", "run", "--config-dir", str(d),
                           "--node", "prime", "--state-dir", str(tmp_path / "state"),
                           "--run-dir", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-2:] == [
        f"{d}/ha.cf:6: fence fence_twinbeat_nosuch: no such fence agent (not on PATH nor in "
        "/usr/sbin); apt-get install fence-agents",
        "twinbeat: not started: fencing configuration error"]
    assert not (tmp_path / "state" / "generation").exists()


def test_agents_are_found_in_sbin_and_by_path() -> None:
    assert find_fence_agent("fence_dummy") == "/usr/sbin/fence_dummy"
    assert find_fence_agent("/usr/sbin/fence_dummy") == "/usr/sbin/fence_dummy"
    assert find_fence_agent("/etc/passwd") is None


def test_metadata_parsing() -> None:
    assert parameters_from_metadata(b'<resource-agent><parameters><parameter name="plug"/>'
                                    b'<parameter name="ip"/></parameters></resource-agent>'
                                    ) == {"plug", "ip"}
    assert parameters_from_metadata(b"not xml") is None
    assert parameters_from_metadata(b"<resource-agent/>") is None
