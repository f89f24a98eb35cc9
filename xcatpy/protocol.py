"""Requests and responses, as xCAT's wire protocol shapes them.

A :class:`Request` mirrors an ``<xcatrequest>`` document (command, unexpanded
noderange, ordered args, piped stdin, cwd, XCAT_* environment).  A handler
answers with a stream of :class:`Response` records, each one of the shapes of
an ``<xcatresponse>``: per-node data or error, or top-level data, error,
warning or info.  These records carry no formatting; ``xcatpy.cli.render``
turns them into lines.  Stdlib only: every command imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["data", "error", "warning", "info"]


@dataclass
class Request:
    command: str
    noderange: str | None = None
    args: list[str] = field(default_factory=list)
    stdin: str | None = None
    cwd: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    clienttype: str = "cli"
    username: str | None = None
    """Filled in by whoever authenticated the request (daemon or bypass)."""
    nodes: list[str] | None = None
    """The noderange already expanded (by the daemon, for the policy check);
    when set, handlers use it instead of expanding ``noderange`` again."""


@dataclass
class Response:
    kind: Kind
    text: str
    node: str | None = None
    desc: str | None = None
    errorcode: int = 0


def data(text: str, node: str | None = None, desc: str | None = None) -> Response:
    return Response("data", text, node=node, desc=desc)


def error(text: str, node: str | None = None, errorcode: int = 1) -> Response:
    return Response("error", text, node=node, errorcode=errorcode or 1)


def warning(text: str, node: str | None = None) -> Response:
    return Response("warning", text, node=node)


def info(text: str) -> Response:
    return Response("info", text)
