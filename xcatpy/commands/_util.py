"""Small helpers shared by handlers: option parsing, read views, noderanges."""

from __future__ import annotations

import getopt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from xcatpy.commands.context import Context
from xcatpy.errors import UsageError
from xcatpy.protocol import Request


def parse_opts(
    args: Sequence[str], shortopts: str, longopts: Sequence[str], usage: str = ""
) -> tuple[dict[str, list[str]], list[str]]:
    """getopt (GNU style) → ({option: [values...]}, positional); UsageError on bad options.

    Option keys are normalised to the long name when one exists in the usual
    ``-x``/``--xname`` pairing is not known, so callers look up both spellings.
    """
    try:
        pairs, rest = getopt.gnu_getopt(list(args), shortopts, list(longopts))
    except getopt.GetoptError as exc:
        msg = str(exc)
        raise UsageError(f"{msg}\n{usage}" if usage else msg) from None
    opts: dict[str, list[str]] = {}
    for name, value in pairs:
        opts.setdefault(name, []).append(value)
    return opts, rest


def has(opts: dict[str, list[str]], *names: str) -> bool:
    return any(n in opts for n in names)


def value(opts: dict[str, list[str]], *names: str) -> str | None:
    for n in names:
        if n in opts:
            return opts[n][-1]
    return None


@contextmanager
def reading(ctx: Context) -> Iterator[tuple[Any, Any]]:
    """A read connection and a NodeView over it."""
    from xcatpy.store.attrs import NodeView

    with ctx.store.connect() as conn:
        yield conn, NodeView(ctx.store, conn)


@contextmanager
def writing(ctx: Context) -> Iterator[tuple[Any, Any]]:
    """A connection in one transaction (all or nothing) and a NodeView over it."""
    from xcatpy.store.attrs import NodeView

    with ctx.store.begin() as conn:
        yield conn, NodeView(ctx.store, conn)


def request_nodes(req: Request, view: Any, *, allow_missing: bool = False) -> list[str]:
    """The request's noderange expanded against the tables (sorted naturally)."""
    if req.nodes is not None:
        return list(req.nodes)
    from xcatpy.store.resolver import expand

    return expand(
        req.noderange,
        view,
        cwd=req.cwd,
        environment=req.environment,
        allow_missing=allow_missing,
    )


def new_nodes(text: str, req: Request, view: Any) -> list[str]:
    """``text`` expanded as a noderange whose names need not exist yet.

    Groups still expand to their members; other names are kept as node names
    (xCAT's ``noderange($nr, 0)``).  Raises NoderangeError on bad syntax.
    """
    from xcatpy.store.resolver import expand

    return expand(text, view, cwd=req.cwd, environment=req.environment or {}, verify=False)


def says_no(value: str | None) -> bool:
    """A site switch turned off: n, no, 0 or false (any case); unset is not 'no'."""
    return (value or "").strip().lower() in ("n", "no", "0", "false")
