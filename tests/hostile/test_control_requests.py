"""parse_request_untrusted: any bytes give a request or BadRequestError, nothing else.

The control socket is open to every local user and this parser runs before SO_PEERCRED
decides anything, so it is held to the rule of every `*_untrusted` parser (DESIGN.md §2):
random bytes, random JSON of any depth and shape, and near-misses of real requests.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinbeat.control.requests import (
    MAX_GROUP_KEY,
    MAX_NESTING,
    MAX_REQUEST,
    BadRequestError,
    ClearRequest,
    FenceAckRequest,
    HandoffRequest,
    ReloadRequest,
    StatusRequest,
    nesting_exceeds,
    parse_request_untrusted,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)
near_misses = st.fixed_dictionaries(
    {"cmd": st.sampled_from(["status", "standby", "takeover", "clear", "fence-ack", "STATUS",
                             "fence_ack", "reload", ""]) | json_values},
    optional={"which": st.sampled_from(["local", "foreign", "all", "none"]) | json_values,
              "timeout": st.floats() | st.integers() | json_values,
              "group": st.text(max_size=MAX_GROUP_KEY + 2) | json_values,
              "node": st.sampled_from(["calc", "prime", "", "a b", "é", "x" * 65]) | st.text()
              | json_values,
              "dry_run": st.booleans() | json_values},
)


def parses_or_refuses(line: bytes) -> None:
    try:
        request = parse_request_untrusted(line)
    except BadRequestError as exc:
        assert str(exc)
    else:
        assert isinstance(request, StatusRequest | HandoffRequest | ClearRequest | FenceAckRequest
                          | ReloadRequest)
        if isinstance(request, ClearRequest) and request.group is not None:
            assert 0 < len(request.group) <= MAX_GROUP_KEY and request.group.isprintable()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=MAX_REQUEST + 10))
def test_random_bytes(line):
    parses_or_refuses(line)


@settings(max_examples=300, deadline=None)
@given(json_values | near_misses)
def test_random_json(value):
    parses_or_refuses(json.dumps(value).encode())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([b"[", b"{", b'{"":', b"]", b"}", b'"', b"\\", b",", b"1"]),
                max_size=3000))
def test_bracket_soup(parts):
    parses_or_refuses(b"".join(parts))


@pytest.mark.parametrize("depth", [1000, 2000, 4000])
@pytest.mark.parametrize("opener", [b"[", b'{"":', b'{"cmd": "status", "x": ['])
def test_deep_nesting_is_refused_before_json_recurses(depth, opener):
    with pytest.raises(BadRequestError, match=r"nested deeper|too long"):
        parse_request_untrusted(opener * depth)


def test_nesting_counts_brackets_outside_strings_only():
    assert not nesting_exceeds(b'{"cmd": "[[[[[[[[[[{{{{{{"}', MAX_NESTING)
    assert not nesting_exceeds(b'{"a": "\\"[[[[[[[["}', MAX_NESTING)
    assert nesting_exceeds(b'{"a": "\\\\", "b": [[[[[]]]]]}', MAX_NESTING)
    assert not nesting_exceeds(b"[[[[]]]][[[[]]]][[[[]]]]", MAX_NESTING)


@pytest.mark.parametrize(("line", "expected"), [
    (b'{"cmd": "status"}', StatusRequest()),
    (b'{"cmd": "standby"}', HandoffRequest("standby", "all", 60.0)),
    (b'{"cmd": "takeover", "which": "foreign", "timeout": 5}',
     HandoffRequest("takeover", "foreign", 5.0)),
    (b'{"cmd": "clear"}', ClearRequest(None)),
    (b'{"cmd": "clear", "group": null}', ClearRequest(None)),
    (b'{"cmd": "clear", "group": "IPaddr::198.18.1.100/24/eth0", "which": "x"}',
     ClearRequest("IPaddr::198.18.1.100/24/eth0")),
])
def test_real_requests_parse(line, expected):
    assert parse_request_untrusted(line) == expected


@pytest.mark.parametrize("timeout", [b"true", b"NaN", b"Infinity", b"-1", b"0", b"3601",
                                     b"1" + b"0" * 400, b'"60"', b"null"])
def test_odd_timeouts_are_refused(timeout):
    with pytest.raises(BadRequestError, match="timeout must be"):
        parse_request_untrusted(b'{"cmd": "standby", "timeout": ' + timeout + b"}")


@pytest.mark.parametrize("group", [b'""', b"1", b"true", b"[]", b'{"k": 1}', b'"a\\nb"',
                                   b'"\\ud800"', b'"\\u0000"',
                                   b'"' + b"x" * (MAX_GROUP_KEY + 1) + b'"'])
def test_odd_groups_are_refused(group):
    with pytest.raises(BadRequestError, match="clear: group must be a group key"):
        parse_request_untrusted(b'{"cmd": "clear", "group": ' + group + b"}")
def test_fence_ack_parses():
    assert parse_request_untrusted(b'{"cmd": "fence-ack", "node": "calc"}') == (
        FenceAckRequest("calc"))
    # Case is the daemon's business (it lower-cases); the parser only bounds the shape.
    assert parse_request_untrusted(b'{"cmd": "fence-ack", "node": "CALC"}') == (
        FenceAckRequest("CALC"))


@pytest.mark.parametrize("node", [b"", b'""', b'"a b"', b'"calc\\n"', b'"caf\\u00e9"', b"1",
                                  b"null", b'["calc"]', b'{"n": "calc"}', b"true",
                                  b'"' + b"x" * 65 + b'"', b'"\\u0000"'])
def test_fence_ack_needs_a_node_name(node):
    line = b'{"cmd": "fence-ack"' + (b', "node": ' + node if node else b"") + b"}"
    with pytest.raises(BadRequestError, match="fence-ack: node must be a node name"):
        parse_request_untrusted(line)


def test_fence_ack_at_the_longest_name():
    assert parse_request_untrusted(
        b'{"cmd": "fence-ack", "node": "' + b"x" * 64 + b'"}') == FenceAckRequest("x" * 64)


def test_reload_parses():
    assert parse_request_untrusted(b'{"cmd": "reload"}') == ReloadRequest(False)
    assert parse_request_untrusted(b'{"cmd": "reload", "dry_run": true}') == ReloadRequest(True)


@pytest.mark.parametrize("value", [b"1", b'"yes"', b"null", b"[]"])
def test_reload_dry_run_must_be_a_boolean(value):
    with pytest.raises(BadRequestError, match="reload: dry_run must be true or false"):
        parse_request_untrusted(b'{"cmd": "reload", "dry_run": ' + value + b"}")
