"""lsdef, mkdef, chdef and rmdef: xCAT's object definition commands.

As in xCAT (``DBobjectdefs.pm``) the client sends the whole command line as
arguments and it is parsed here.  Messages, output layout and exit codes are
xCAT's; where this implementation deliberately differs, the docstring of the
function says so.  The main differences:

* a command's writes are one transaction: mkdef/chdef write nothing at all when
  any object or attribute is in error (xCAT wrote the objects it could);
* object names are listed in natural order (n2 before n10), as every noderange
  here is; xCAT sorts them as strings;
* a malformed stanza line is an error naming the line (xCAT skipped it);
* a condition (``only_if``) is checked against the value being set when one is
  given, else the stored one (xCAT accepted either, and could write both);
  an attribute no mapping accepts is an error naming the conditions;
* rmdef of a node or group clears every table whose first key is the node
  column (xCAT only the tables its attributes map to); mkdef -f, which replaces
  a definition, clears only those, as xCAT does;
* a new static group's nodegroup row always says ``members=static``, and a
  dynamic group's ``members=dynamic`` even when a stanza lists its members, so
  ``lsdef -z | mkdef -z -f`` gives back the same tables;
* group members may be nodes defined earlier in the same command.

Reads and writes go through :mod:`xcatpy.store.objects`: one query per table
for any number of objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from xcatpy.commands.context import Context
from xcatpy.commands.objects.define import _define
from xcatpy.commands.objects.listing import _lsdef
from xcatpy.commands.objects.options import _HelpTypes, _Stop, attribute_help, usage
from xcatpy.commands.objects.remove import _remove
from xcatpy.protocol import Request, Response, data, error


def _run(command: str, req: Request, ctx: Context, body: Any) -> Iterator[Response]:
    try:
        yield from body(command, req, ctx)
    except _HelpTypes as h:
        yield from attribute_help(h.types, h.only)
    except _Stop as stop:
        for message in stop.messages:
            yield data(message) if stop.info else error(message)
        if stop.usage:
            yield usage(command)


def lsdef(req: Request, ctx: Context) -> Iterator[Response]:
    yield from _run("lsdef", req, ctx, _lsdef)


def mkdef(req: Request, ctx: Context) -> Iterator[Response]:
    yield from _run("mkdef", req, ctx, _define)


def chdef(req: Request, ctx: Context) -> Iterator[Response]:
    yield from _run("chdef", req, ctx, _define)


def rmdef(req: Request, ctx: Context) -> Iterator[Response]:
    yield from _run("rmdef", req, ctx, _remove)
