"""getdestiny / nextdestiny: where a node boots next, from the ``chain`` table.

An installing node calls these anonymously; the daemon has already limited
such a request to the node the connection comes from.
"""

from __future__ import annotations

from collections.abc import Iterator

from xcatpy.commands._util import reading, request_nodes, writing
from xcatpy.commands.context import Context
from xcatpy.errors import UsageError
from xcatpy.protocol import Request, Response, data, error
from xcatpy.store import rows
from xcatpy.store.attrs import split_list

FALLBACK = "standby"


def _nodes(req: Request, view: object) -> list[str]:
    if not req.noderange:
        raise UsageError(
            f"{req.command}: no node: give a noderange, or call from an installing node"
        )
    return request_nodes(req, view)


def getdestiny(req: Request, ctx: Context) -> Iterator[Response]:
    with reading(ctx) as (_conn, view):
        nodes = _nodes(req, view)
        res = view.attributes(nodes, {"chain": ["currstate"]})
    for node in nodes:
        yield data(res.get(node, "chain", "currstate") or FALLBACK, node=node)


def next_state(currchain: str | None, chain: str | None) -> tuple[str, str]:
    """(new current state, remaining chain): the next entry is popped; the last sticks."""
    steps = split_list(currchain) or split_list(chain)
    if not steps:
        return FALLBACK, ""
    if len(steps) == 1:
        return steps[0], steps[0]
    return steps[0], ",".join(steps[1:])


def nextdestiny(req: Request, ctx: Context) -> Iterator[Response]:
    out: list[Response] = []
    with writing(ctx) as (conn, view):
        nodes = _nodes(req, view)
        res = view.attributes(nodes, {"chain": ["currchain", "chain"]})
        changes = []
        for node in nodes:
            state, rest = next_state(
                res.get(node, "chain", "currchain"), res.get(node, "chain", "chain")
            )
            changes.append(({"node": node}, {"currstate": state, "currchain": rest}))
            out.append(data(state, node=node))
        for node, messages in res.errors.items():
            out.extend(error(m, node=node) for m in messages)
        rows.upsert(conn, ctx.store, "chain", changes)
    yield from out
