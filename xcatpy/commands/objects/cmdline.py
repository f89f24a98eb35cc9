"""What an object command works on: its types, names and ``attr=val`` pairs.

The command line is parsed and checked as xCAT's ``processArgs`` does, with
its messages; names may also come from a stanza on stdin or a template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from xcatpy import __version__
from xcatpy.commands._util import new_nodes
from xcatpy.commands.objects.options import Opts, _HelpTypes, _Stop, parse_args
from xcatpy.commands.objects.stanza import parse_stanza, templates
from xcatpy.errors import NoderangeError
from xcatpy.protocol import Request
from xcatpy.store.defspec import OBJECT_TYPES, SITE_OBJECT

_NICS = ("nicips,nichostnamesuffixes,nichostnameprefixes,nictypes,niccustomscripts,"
         "nicnetworks,nicaliases,nicextraparams,nicdevices")
_LOG_TYPES = ("auditlog", "eventlog")  # left out of -a: they can be huge


@dataclass
class Target:
    """What one command works on."""

    command: str
    req: Request
    opts: Opts
    types: list[str]
    names: list[str] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    stanza: dict[str, dict[str, str]] = field(default_factory=dict)
    noderange: str | None = None
    from_args: bool = False
    """Names came from -o or a noderange (lsdef then checks they exist)."""
    all_types: bool = False
    wheres: list[Any] = field(default_factory=list)


def _validate_types(text: str) -> list[str]:
    types = [t for t in text.split(",") if t]
    for t in types:
        if t not in OBJECT_TYPES:
            raise _Stop(f"Type '{t}' is not a valid xCAT object type.")
    return types


def _expand_nodes(text: str, catalog: Any, req: Request) -> list[str]:
    """A noderange as xCAT's ``noderange($nr, 0)``: names that are neither nodes
    nor groups are kept as node names."""
    try:
        return new_nodes(text, req, catalog.view)
    except NoderangeError as exc:
        raise _Stop(exc.message) from None


def target(command: str, req: Request, catalog: Any) -> Target:
    """Options, object types, object names and attr=val pairs of the command line
    (xCAT's processArgs), with its checks and messages."""
    opts = _options(command, req)
    tgt = Target(command, req, opts, [])
    _words(tgt)
    if command == "rmdef" and (opts.d or opts.i or opts.l or opts.m or opts.p or opts.w
                               or opts.x or opts.z or opts.s):
        raise _Stop("Invalid flag specified, see rmdef manpage for details.", usage=True)
    if command == "chdef" and opts.t in (None, "node") and (opts.m or opts.p):
        if any(re.match(r"^nic\w+\..*$", a) for a in tgt.attrs):
            raise _Stop("chdef does not support to change the nic related attributes "
                        "with -m or -p flag.")
    if opts.t:
        tgt.types = _validate_types(opts.t)
        if len(tgt.types) > 1 and tgt.attrs:
            raise _Stop("Cannot combine multiple types with 'att=val' pairs on the command line.")
    if opts.h:
        raise _HelpTypes(tgt.types, opts.i)
    _file_input(tgt, req)
    if not tgt.types and not tgt.all_types and not opts.a and (
        not tgt.stanza or opts.template is not None
    ):
        tgt.types = ["node"]
    _names(tgt, req, catalog)
    if opts.w:
        tgt.wheres = _wheres(opts)
    if opts.i and command != "lsdef":
        raise _Stop("The '-i' option is only valid for the lsdef command.")
    return tgt


def _options(command: str, req: Request) -> Opts:
    """The parsed options, with xCAT's defaults filled in and their conflicts refused."""
    args = list(req.args)
    if req.noderange:  # a client that sends the noderange apart, as most xCAT commands do
        args.insert(0, req.noderange)
    if command == "lsdef":
        if not args or args == ["-S"]:
            args += ["-t", "node", "-s"]
        elif sorted(args) in (["-S", "-l"], ["-l"]):
            args += ["-t", "node"]
    elif not args:
        raise _Stop(usage=True)
    opts = parse_args(args)
    if opts.v:
        raise _Stop(f"{command} - Version {__version__}", info=True)
    if opts.h and not opts.t:
        raise _Stop(usage=True)
    if opts.u and command not in ("mkdef", "chdef"):
        raise _Stop(f"Option '-u' can not work with {command}.", usage=True)
    if opts.C and command != "rmdef":
        raise _Stop(f"Option '-C' can not be used with {command}.", usage=True)
    if opts.u:
        if not opts.t and not req.stdin:
            opts.t = "osimage"
        elif opts.t != "osimage":
            raise _Stop("Option '-u' only work for objtype 'osimage'.", usage=True)
    if not opts.t and not opts.a and command == "lsdef":
        opts.t = "node"
    _check_flags(command, opts)
    if opts.nics:
        opts.i = _NICS
    return opts


def _words(tgt: Target) -> None:
    """Sort the words left after the options into ``attr=val`` pairs and a noderange."""
    for word in tgt.opts.rest:
        if "=" in word:
            m = re.match(r"^\s*(.*?)\s*=\s*(\S*.*)$", word, re.S)
            if m is None or not m.group(1):
                raise _Stop(f"Incorrect 'attr=val' pair - {word}.")
            tgt.attrs[m.group(1)] = m.group(2)
        elif tgt.noderange is not None:
            raise _Stop("noderange can not contain spaces.", usage=True)
        else:
            tgt.noderange = word


def _wheres(opts: Opts) -> list[Any]:
    """The ``-w`` selections, parsed; for a dynamic group they must name node attributes."""
    from xcatpy.store.objects import parse_where

    wheres = []
    for text in opts.w:
        try:
            where = parse_where(text)
        except re.error:
            where = None
        if where is None:
            raise _Stop("Incorrect selection string specified with -w flag.")
        wheres.append(where)
    if opts.t == "group" and opts.d:
        valid = set(OBJECT_TYPES["node"].attr_names)
        for where in wheres:
            if where.attr not in valid:
                raise _Stop(f"Incorrect attribute '{where.attr}' in the selection "
                            "string specified with -w flag.")
    return wheres


def _check_flags(command: str, o: Opts) -> None:
    pairs = [
        (o.x, "The '-x' (XML format) option is not yet implemented."),
        (o.i and o.osimage, "The flags '-i' and '--osimage' cannot be used together."),
        (o.z and o.osimage, "The flags '-z' and '--osimage' cannot be used together."),
        (o.a and o.t, "The flags '-a' and '-t' cannot be used together."),
        (o.l and o.s, "The flags '-l' and '-s' cannot be used together."),
        (o.nics and o.i, "The flags '-i' and '--nics' cannot be used together."),
        (o.i and o.s, "The flags '-i' and '-s' cannot be used together."),
        (o.c and not (o.i or o.nics), "The flags '-c' and '-i' must be used together."),
    ]
    for bad, message in pairs:
        if bad:
            raise _Stop(message, usage=True)
    if o.template is not None:
        if command not in ("mkdef", "lsdef"):
            raise _Stop(f"The option '--template' can not be used with '{command}'.",
                        usage=True)
        if command == "mkdef" and not o.template:
            raise _Stop("no object definition template specified for mkdef --template!",
                        usage=True)
        if command == "mkdef" and "," in o.template:
            raise _Stop("Only 1 template object definition should be specified for mkdef!",
                        usage=True)
    if command == "chdef" and o.n is not None and not re.fullmatch(r"[A-Za-z0-9_.:+-]+", o.n):
        raise _Stop(f"The new object name '{o.n}' is not valid.", usage=True)


def _file_input(tgt: Target, req: Request) -> None:
    opts = tgt.opts
    if opts.template is not None:
        if req.stdin:
            raise _Stop("The file input can not be used with --template option!", usage=True)
        shipped = templates()
        if tgt.command == "lsdef" and not opts.a:
            shipped = {n: a for n, a in shipped.items() if a.get("objtype") in tgt.types}
        if opts.template:
            picked = {}
            for name in opts.template.split(","):
                if name in shipped:
                    picked[name] = shipped[name]
                elif tgt.command == "lsdef":
                    raise _Stop(f"Could not find {name} in xCAT templates.")
            shipped = picked
        tgt.stanza = shipped
        if opts.a:
            tgt.all_types = True
        return
    if req.stdin:
        tgt.stanza = parse_stanza(req.stdin).objects


def _names(tgt: Target, req: Request, catalog: Any) -> None:
    opts = tgt.opts
    first = tgt.types[0] if tgt.types else None
    if tgt.noderange is not None and opts.t and opts.t != "node":
        tgt.names = [n for n in tgt.noderange.split(",") if n]
        tgt.from_args = True
    elif tgt.noderange is not None:
        nodes = _expand_nodes(tgt.noderange, catalog, req)
        if not nodes:
            raise _Stop(f"No node in '{tgt.noderange}', check the noderange syntax.")
        if first == "node":
            tgt.names = nodes
            tgt.from_args = True
    if opts.o:
        tgt.from_args = True
        if opts.t == "site" and opts.o != SITE_OBJECT:
            tgt.names = [opts.o, SITE_OBJECT]
        elif first == "node":
            tgt.names = _expand_nodes(opts.o, catalog, req)
        else:
            tgt.names = [n for n in opts.o.split(",") if n]
    if opts.t == "site" and not opts.o:
        tgt.names = [SITE_OBJECT]
        tgt.from_args = True
    if opts.a and (opts.o or (tgt.stanza and opts.template is None) or tgt.noderange):
        raise _Stop("Cannot use '-a' with '-o', a noderange or file input.")
    if opts.t and not (opts.o or tgt.stanza or opts.a or tgt.noderange or tgt.names):
        if tgt.command in ("rmdef", "chdef"):
            raise _Stop("No object names were provided.", usage=True)
    if opts.a and opts.template is None:
        tgt.all_types = True
        tgt.types = [t for t in OBJECT_TYPES if t not in _LOG_TYPES]
    if tgt.command == "mkdef" and opts.template:
        _apply_template(tgt, catalog)


def _apply_template(tgt: Target, catalog: Any) -> None:
    """mkdef --template NAME: unset attributes come from a shipped template or,
    failing that, from an existing object of the type."""
    name = tgt.opts.template or ""
    if name in tgt.stanza:
        for attr, value in tgt.stanza[name].items():
            if attr == "objtype":
                continue
            if value.startswith("OPTIONAL:"):
                value = ""
            elif value.startswith("MANDATORY:"):
                if not tgt.attrs.get(attr):
                    raise _Stop(f'The attribute "{attr}" must be specified!')
                value = ""
            if not tgt.attrs.get(attr) and value:
                tgt.attrs[attr] = value
        tgt.stanza = {}
        return
    otype = tgt.types[0]
    if name not in catalog.exists(otype):
        raise _Stop(f"Could not find the template object named '{name}' of type '{otype}'.")
    if name in tgt.names:
        raise _Stop("The template node cannot be the same as the node to create.")
    values = catalog.read(otype, [name]).values.get(name, {})
    for attr, value in values.items():
        if not tgt.attrs.get(attr):
            tgt.attrs[attr] = value
