"""rmdef: remove object definitions, with the membership of removed groups."""

from __future__ import annotations

from collections.abc import Iterator

from xcatpy.commands._util import writing
from xcatpy.commands.context import Context
from xcatpy.commands.objects.cmdline import target
from xcatpy.commands.objects.define import _apply_member_ops, _Run
from xcatpy.commands.objects.options import _Stop
from xcatpy.errors import XcatError
from xcatpy.protocol import Request, Response, data, error


def _remove(command: str, req: Request, ctx: Context) -> Iterator[Response]:
    from xcatpy.store.objects import Catalog, RowWrites, delete_objects

    with writing(ctx) as (conn, view):
        catalog = Catalog(view)
        tgt = target(command, req, catalog)
        opts = tgt.opts
        if opts.a and not opts.f:
            raise _Stop("You must use the '-f' option when using the '-a' option.", usage=True)
        if tgt.all_types:
            wanted = [(t, n) for t in tgt.types for n in catalog.names(t)]
        else:
            wanted = [(tgt.types[0], n) for n in dict.fromkeys(tgt.names)]
        if not wanted and not tgt.all_types:
            raise _Stop("No object names were provided.", usage=True)
        run = _Run(command, tgt, catalog, RowWrites())
        gone: dict[str, list[str]] = {}
        for t, name in wanted:
            if name not in catalog.exists(t):
                yield error(f"Could not find an object named '{name}' of type '{t}'.")
                continue
            gone.setdefault(t, []).append(name)
        for group in gone.get("group", []):
            values = catalog.read("group", [group], {"grouptype"}).values.get(group, {})
            if values.get("grouptype") != "dynamic":
                run.member_ops.append(("remove", group, catalog.static_members(group)))
        _apply_member_ops(run)
        if opts.C and gone.get("node"):
            yield from _cleanup(req, ctx, gone["node"])
        run.writes.flush(conn, view.store)
        for t, names in gone.items():
            delete_objects(conn, view.store, t, names)
        count = sum(len(v) for v in gone.values())
        if not count:
            yield data("No objects have been removed from the xCAT database.")
        elif opts.V:
            names = sorted(n for v in gone.values() for n in v)
            yield data("\n".join(["The following objects were removed:", *names]))
        else:
            yield data(f"{count} object definitions have been removed.")


def _cleanup(req: Request, ctx: Context, nodes: list[str]) -> Iterator[Response]:
    """rmdef -C: 'nodeset offline' for the nodes when this server has nodeset.

    As in xCAT, its output and failures do not stop the removal.
    """
    from xcatpy import dispatch

    if "nodeset" not in dispatch.HANDLERS:
        return
    if len(nodes) > 100:
        yield data("Performing configuration cleanup. This might take a some time.")
    sub = Request("nodeset", noderange=",".join(nodes), args=["offline"], cwd=req.cwd,
                  environment=dict(req.environment), username=req.username)
    try:
        for _ in dispatch.get_handler("nodeset")(sub, ctx):
            pass
    except XcatError:
        pass
