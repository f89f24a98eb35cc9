"""xcatconfig: set up the management node."""

from __future__ import annotations

import getopt
from collections.abc import Iterator

from xcatpy.commands.context import Context
from xcatpy.errors import UsageError
from xcatpy.protocol import Request, Response, info


def xcatconfig(req: Request, ctx: Context) -> Iterator[Response]:
    try:
        opts, rest = getopt.gnu_getopt(req.args, "idV", ["initinstall", "database", "verbose"])
    except getopt.GetoptError as exc:
        raise UsageError(str(exc)) from None
    flags = {o for o, _ in opts}
    if rest or not flags & {"-i", "--initinstall", "-d", "--database"}:
        raise UsageError("xcatconfig: specify -i (initialise) or -d (database only)")
    from xcatpy.store.init import initialise

    for line in initialise(ctx.paths):
        yield info(line)
