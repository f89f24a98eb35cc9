"""getdestiny / nextdestiny: where a node boots next, from the ``chain`` table.

An installing node calls these anonymously; the daemon has already limited
such a request to the node the connection comes from.
"""

from __future__ import annotations

from collections.abc import Iterator

from xcatpy.commands._util import reading, request_nodes, writing
from xcatpy.commands.context import Context
from xcatpy.errors import UsageError
from xcatpy.protocol import Request, Response, data, error, warning
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
    """Move each node one step along its chain, then point its boot entry there.

    An installer calls this when it is done; without the second step the
    node's PXE/iPXE/GRUB file would still say install and it would install
    again at its next network boot.
    """
    out: list[Response] = []
    with writing(ctx) as (conn, view):
        nodes = _nodes(req, view)
        res = view.attributes(nodes, {"chain": ["currchain", "chain"], "noderes": ["netboot"]})
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
        netbooted = [n for n in nodes
                     if n not in res.errors and res.get(n, "noderes", "netboot")]
    if netbooted:
        out.extend(_rewrite_boot_entries(req, ctx, netbooted))
    yield from out


def _rewrite_boot_entries(req: Request, ctx: Context, nodes: list[str]) -> list[Response]:
    """``nodeset enact`` for ``nodes``: their boot files follow the new chain state.

    The chain step has already happened; a boot file that cannot be written is
    a warning, not a failure of the step.
    """
    from xcatpy.commands.provision import apply_nodeset

    sub = Request("nodeset", noderange=",".join(nodes), nodes=list(nodes), cwd=req.cwd,
                  environment=dict(req.environment), username=req.username)
    responses, _done = apply_nodeset(sub, ctx, "enact", None, dhcp=False)
    return [warning(f"boot entry not rewritten: {r.text}", node=r.node)
            for r in responses if r.kind in ("error", "warning")]
