"""authkeys: methods, indexes, key rules, file mode; keys never appear in messages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from config_helpers import HOWTO_KEY, lines_of, texts

from twinbeat.config.authkeys import parse_authkeys, read_authkeys
from twinbeat.config.messages import Report
from twinbeat.config.model import AuthKey, AuthKeys

PATH = "/etc/ha.d/authkeys"


def parse(text: str) -> tuple[AuthKeys | None, Report]:
    lines, report = lines_of(text, PATH)
    return parse_authkeys(lines, PATH, report), report


def test_howto_md5_key() -> None:
    keys, report = parse(f"auth 1\n1 md5 {HOWTO_KEY}\n")
    assert report.errors == []
    assert keys == AuthKeys(1, {1: AuthKey(1, "md5", HOWTO_KEY.encode())})


def test_all_methods_and_several_keys() -> None:
    # heartbeat's own example file, uncommented: crc signs, so the other slots weaken nothing.
    keys, report = parse("# comment\n\nauth 1\n1 crc\n2 sha1 HI-there-0123456789\n"
                         "3 sha256 0123456789abcdef0123\n4 MD5 some-long-enough-key\n")
    assert report.errors == []
    assert keys is not None and keys.active == 1
    assert {k.index: k.method for k in keys.keys.values()} == {
        1: "crc", 2: "sha1", 3: "sha256", 4: "md5"}
    assert keys.keys[1].key is None


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256"])
@pytest.mark.parametrize("crc_first", [True, False])
def test_crc_slot_beside_a_keyed_active_slot_is_refused(method: str, crc_first: bool) -> None:
    """Every slot verifies: a crc slot would let anyone forge frames by naming it (#11.9)."""
    key_line, crc_line = f"1 {method} 0123456789abcdef0123", "2 crc"
    body = f"{crc_line}\n{key_line}\n" if crc_first else f"{key_line}\n{crc_line}\n"
    keys, report = parse("auth 1\n" + body)
    assert keys is None
    line = 2 if crc_first else 3
    assert texts(report.errors) == [
        f"{PATH}:{line}: key 2: crc is weaker than the active key 1 ({method}); every key in "
        "authkeys verifies received frames, so anyone could forge frames as key 2 "
        "(remove it)"]


def test_keyed_slots_of_other_methods_are_accepted_with_a_warning() -> None:
    """md5 -> sha256 is the usual key change; it must work one node at a time."""
    keys, report = parse("auth 2\n1 md5 0123456789abcdef0123\n2 sha256 0123456789abcdef0123\n")
    assert report.errors == [] and keys is not None and keys.active == 2
    assert texts(report.warnings) == [
        f"{PATH}:2: key 1: also verifies received frames (kept for a key change?); remove it "
        "once both nodes sign with auth 2"]


def test_one_key_gives_no_slot_warning() -> None:
    _, report = parse(f"auth 1\n1 md5 {HOWTO_KEY}\n")
    assert report.warnings == []


def test_auth_may_follow_the_key_lines() -> None:
    keys, report = parse("1 sha256 0123456789abcdef0123\nauth 1\n")
    assert report.errors == [] and keys is not None and keys.active == 1


def test_auth_must_name_a_defined_index() -> None:
    keys, report = parse("auth 2\n1 sha256 0123456789abcdef0123\n")
    assert keys is None
    assert texts(report.errors) == [f"{PATH}:1: auth 2: key 2 not found in this file"]


def test_missing_auth_directive() -> None:
    keys, report = parse("1 sha256 0123456789abcdef0123\n")
    assert keys is None
    assert texts(report.errors) == [f"{PATH}: missing auth directive (add `auth N`)"]


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256"])
def test_keyed_methods_need_a_key(method: str) -> None:
    keys, report = parse(f"auth 1\n1 {method}\n")
    assert keys is None
    assert texts(report.errors) == [f"{PATH}:2: key 1: auth method {method} requires a key"]


def test_crc_with_a_key_is_an_error_and_the_key_is_not_shown() -> None:
    keys, report = parse("auth 1\n1 crc s3cr3t-value\n")
    assert keys is None
    assert texts(report.errors) == [f"{PATH}:2: key 1: auth method crc doesn't use a key"]
    assert "s3cr3t" not in "".join(texts(report.errors + report.warnings))


def test_crc_alone_is_accepted_with_a_warning() -> None:
    keys, report = parse("auth 1\n1 crc\n")
    assert keys is not None and report.errors == []
    assert any("crc authenticates nothing" in w for w in texts(report.warnings))


def test_unknown_method_is_not_echoed() -> None:
    # A forgotten method puts the key where the method should be.
    keys, report = parse(f"auth 1\n1 {HOWTO_KEY}\n")
    assert keys is None
    assert texts(report.errors) == [
        f"{PATH}:2: key 1: invalid authtype (use md5, sha1, sha256, crc)"]
    assert HOWTO_KEY not in "".join(texts(report.errors))


def test_invalid_line_is_not_echoed() -> None:
    keys, report = parse(f"auth 1\n{HOWTO_KEY}\n1 md5 {HOWTO_KEY}\n")
    assert keys is None
    assert len(report.errors) == 1 and ":2: invalid auth line" in str(report.errors[0])
    assert HOWTO_KEY not in str(report.errors[0])


@pytest.mark.parametrize("line", ["auth", "auth 16", "auth x", "auth 1 2"])
def test_bad_auth_directive(line: str) -> None:
    _, report = parse(f"{line}\n1 sha256 0123456789abcdef0123\n")
    assert any(f"{PATH}:1: auth: needs one key index" in e for e in texts(report.errors))


def test_index_out_of_range_and_duplicates() -> None:
    _, report = parse("auth 1\n16 md5 0123456789abcdef0123\n1 md5 0123456789abcdef0123\n"
                      "1 sha1 0123456789abcdef0123\n")
    errs = texts(report.errors)
    assert any(":2: invalid auth line" in e for e in errs)
    assert any(":4: key 1: defined twice (line 3)" in e for e in errs)


def test_key_is_one_word_and_may_contain_hash() -> None:
    keys, report = parse("auth 1\n1 sha256 abc#def0123456789xyz trailing words\n")
    assert keys is not None and keys.keys[1].key == b"abc#def0123456789xyz"
    assert any("text after the key is ignored" in w for w in texts(report.warnings))


def test_short_key_warns_without_showing_it() -> None:
    keys, report = parse("auth 1\n1 md5 Hello!\n")
    assert keys is not None
    assert any("shorter than 16" in w for w in texts(report.warnings))
    assert "Hello!" not in "".join(texts(report.warnings))


def test_keys_are_not_in_repr() -> None:
    keys, _ = parse(f"auth 1\n1 md5 {HOWTO_KEY}\n")
    assert HOWTO_KEY not in repr(keys)
    assert HOWTO_KEY not in repr(keys.keys[1]) if keys else False


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660])
def test_mode_with_group_or_other_bits_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "authkeys"
    path.write_text("auth 1\n1 sha256 0123456789abcdef0123\n")
    os.chmod(path, mode)
    report = Report()
    assert read_authkeys(str(path), report) is not None  # read anyway: all problems at once
    assert texts(report.errors) == [
        f"{path}: bad permissions {mode:04o} (group/other may read or write it); "
        "600 recommended"]


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_mode_is_accepted(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "authkeys"
    path.write_text("auth 1\n")
    os.chmod(path, mode)
    report = Report()
    assert read_authkeys(str(path), report) == b"auth 1\n"
    assert report.errors == []
