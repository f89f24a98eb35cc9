"""The wire codec: round trips, xCAT's shapes, hostile documents."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xcatpy.protocol import Request, Response, data, error, info, warning
from xcatpy.wire import (
    WireError,
    decode_request,
    decode_response,
    encode_request,
    encode_responses,
    split_request,
)


def test_installer_request_parses() -> None:
    req = decode_request(b"<xcatrequest>\n<command>nextdestiny</command>\n</xcatrequest>")
    assert req.command == "nextdestiny" and req.noderange is None and req.args == []


def test_request_round_trip() -> None:
    req = Request("rpower", "n[01-10],-n05", ["stat", "-V"], stdin="a<b&c", cwd="/root",
                  environment={"XCAT_FOO": "bar"})
    back = decode_request(encode_request(req))
    assert (back.command, back.noderange, back.args, back.stdin, back.cwd) == (
        "rpower", "n[01-10],-n05", ["stat", "-V"], "a<b&c", "/root")
    assert back.environment == {"XCAT_FOO": "bar"}


def test_split_keeps_pipelined_requests() -> None:
    two = encode_request(Request("a")) + encode_request(Request("b"))
    first, rest = split_request(two)
    second, rest = split_request(rest)
    assert decode_request(first).command == "a"  # type: ignore[arg-type]
    assert decode_request(second).command == "b"  # type: ignore[arg-type]
    assert split_request(rest.strip()) == (None, b"")


@pytest.mark.parametrize(
    "doc",
    [
        b"<xcatrequest>",
        b"<other><command>x</command></other>",
        b"<xcatrequest></xcatrequest>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<xcatrequest><command>&b;</command></xcatrequest>",
        b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><xcatrequest><command>x</command></xcatrequest>',
        b"<xcatrequest>" + b"<a>" * 100 + b"</a>" * 100 + b"<command>x</command></xcatrequest>",
    ],
)
def test_hostile_or_broken_requests_are_refused(doc: bytes) -> None:
    with pytest.raises(WireError):
        decode_request(doc)


def test_response_shapes_round_trip() -> None:
    sent = [
        data("on", node="n1"),
        data("x86_64", node="n2", desc="arch"),
        error("timeout", node="n3"),
        data("free line"),
        data("value", desc="key"),
        warning("careful"),
        info("note"),
    ]
    got, done = decode_response(encode_responses(sent))
    assert not done
    assert got == sent
    got, done = decode_response(b"<xcatresponse><serverdone></serverdone></xcatresponse>")
    assert done and got == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(blob: bytes) -> None:
    try:
        decode_request(blob)
    except WireError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60), st.lists(st.text(max_size=20), max_size=5))
def test_any_text_survives_the_round_trip(cmd: str, args: list[str]) -> None:
    cmd = cmd.strip() or "x"
    back = decode_request(encode_request(Request(cmd.replace("\r", ""), args=args)))
    assert len(back.args) == len(args)
    assert isinstance(back, Request)
    assert all(isinstance(r, Response) for r in decode_response(encode_responses([data(cmd)]))[0])


def test_text_with_markup_and_line_ends_survives() -> None:
    tricky = "a<b>&c\r\nd\x01e \"q\" 'x'"
    got, _ = decode_response(encode_responses([data(tricky, node="n<1>"), error(tricky)]))
    assert got[0].node == "n<1>"
    assert got[0].text == "a<b>&c\r\nd?e \"q\" 'x'"
    assert got[1].text == got[0].text and got[1].errorcode == 1
