"""lsxcatd: what this management node runs."""

from __future__ import annotations

from collections.abc import Iterator

from xcatpy import __version__
from xcatpy.commands._util import has, parse_opts, reading
from xcatpy.commands.context import Context
from xcatpy.errors import UsageError
from xcatpy.protocol import Request, Response, data

USAGE = "Usage: lsxcatd [-v|--version] [-d|--database] [-a|--all] [-h|--help]"


def lsxcatd(req: Request, ctx: Context) -> Iterator[Response]:
    opts, rest = parse_opts(req.args, "vdat", ["version", "database", "all", "nodetype"], USAGE)
    if rest or not opts:
        raise UsageError(USAGE)
    everything = has(opts, "-a", "--all")
    if everything or has(opts, "-v", "--version"):
        yield data(f"Version {__version__}")
    if everything or has(opts, "-t", "--nodetype"):
        yield data("This is a Management Node")
    if everything or has(opts, "-d", "--database"):
        url = ctx.store.engine.url
        yield data(f"dbengine={url.get_backend_name()}")
        if url.get_backend_name() == "sqlite":
            yield data(f"dbinstance={url.database}")
        else:
            yield data(f"dbinstance={url.host or 'localhost'}:{url.port or ''}")
            yield data(f"dbname={url.database}")
    if everything:
        with reading(ctx) as (_conn, view):
            for key in ("xcatdport", "xcatiport"):
                if view.site.get(key):
                    yield data(f"{key}={view.site[key]}")
