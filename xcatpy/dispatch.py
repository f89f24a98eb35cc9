"""Command name → handler, and the one place handler failures become responses.

A handler is ``handler(request, ctx) -> Iterable[Response]``.  It may raise
:class:`~xcatpy.errors.XcatError` for a request-wide failure; per-node
failures are error responses it yields itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from xcatpy.commands.context import Context
from xcatpy.errors import XcatError
from xcatpy.paths import Paths
from xcatpy.protocol import Request, Response, error

if TYPE_CHECKING:
    from xcatpy.store.db import Store

Handler = Callable[[Request, Context], Iterable[Response]]

# command -> "module:function", imported on first use so that a daemon or a
# bypassed command loads only what it runs.
HANDLERS: dict[str, str] = {
    "nodels": "xcatpy.commands.nodes:nodels",
    "nodeadd": "xcatpy.commands.nodes:nodeadd",
    "noderm": "xcatpy.commands.nodes:noderm",
    "nodech": "xcatpy.commands.nodes:nodech",
    "nodegrpch": "xcatpy.commands.nodes:nodegrpch",
    "tabdump": "xcatpy.commands.tables:tabdump",
    "tabrestore": "xcatpy.commands.tables:tabrestore",
    "tabch": "xcatpy.commands.tables:tabch",
    "chtab": "xcatpy.commands.tables:chtab",
    "gettab": "xcatpy.commands.tables:gettab",
    "tabgrep": "xcatpy.commands.tables:tabgrep",
    "tabprune": "xcatpy.commands.tables:tabprune",
    "lsdef": "xcatpy.commands.objects:lsdef",
    "mkdef": "xcatpy.commands.objects:mkdef",
    "chdef": "xcatpy.commands.objects:chdef",
    "rmdef": "xcatpy.commands.objects:rmdef",
    "xcatconfig": "xcatpy.commands.config:xcatconfig",
    "getdestiny": "xcatpy.commands.destiny:getdestiny",
    "nextdestiny": "xcatpy.commands.destiny:nextdestiny",
    "lsxcatd": "xcatpy.commands.daemoninfo:lsxcatd",
    "rpower": "xcatpy.commands.hardware:rpower",
    "rinv": "xcatpy.commands.hardware:rinv",
    "rvitals": "xcatpy.commands.hardware:rvitals",
    "rsetboot": "xcatpy.commands.hardware:rsetboot",
    "rbeacon": "xcatpy.commands.hardware:rbeacon",
    "reventlog": "xcatpy.commands.hardware:reventlog",
    "mkvm": "xcatpy.commands.vm:mkvm",
    "rmvm": "xcatpy.commands.vm:rmvm",
    "lsvm": "xcatpy.commands.vm:lsvm",
    "chvm": "xcatpy.commands.vm:chvm",
    "rmigrate": "xcatpy.commands.vm:rmigrate",
    "makehosts": "xcatpy.commands.netconf:makehosts",
    "makedhcp": "xcatpy.commands.netconf:makedhcp",
    "nodeset": "xcatpy.commands.provision:nodeset",
    "rinstall": "xcatpy.commands.provision:rinstall",
}


def get_handler(command: str) -> Handler:
    target = HANDLERS.get(command)
    if target is None:
        raise XcatError(f"Unsupported command: {command}")
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


def run_request(request: Request, paths: Paths, store: Store | None = None) -> Iterator[Response]:
    """Run one request to completion, turning XcatError into an error response.

    The daemon passes its long-lived ``store``; a bypassed command opens one.
    """
    ctx = Context(paths, request.username or "", store)
    try:
        handler = get_handler(request.command)
        yield from handler(request, ctx)
    except XcatError as exc:
        yield error(exc.message, errorcode=exc.exit_code)
    finally:
        ctx.close()
