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

import getopt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xcatpy import __version__
from xcatpy.commands._util import reading, writing
from xcatpy.commands.context import Context
from xcatpy.errors import NoderangeError, XcatError
from xcatpy.noderange import natural_key
from xcatpy.protocol import Request, Response, data, error, warning
from xcatpy.store.defspec import OBJECT_TYPES, SITE_OBJECT

_SHORT = "acdfi:hlsmn:o:pt:Vvw:xzSuC"
_LONG = [
    "all", "compress", "dynamic", "force", "help", "long", "short", "minus", "plus",
    "verbose", "version", "xml", "stanza", "nocache", "osimage", "nics", "cleanup",
]
_NICS = ("nicips,nichostnamesuffixes,nichostnameprefixes,nictypes,niccustomscripts,"
         "nicnetworks,nicaliases,nicextraparams,nicdevices")
_CHUNK = 2000  # output lines per response
_LOG_TYPES = ("auditlog", "eventlog")  # left out of -a: they can be huge


class _Stop(Exception):
    """End the command: error lines, optionally followed by the usage text."""

    def __init__(self, *messages: str, usage: bool = False, info: bool = False) -> None:
        super().__init__(messages[0] if messages else "")
        self.messages = messages
        self.usage = usage
        self.info = info


@dataclass
class Opts:
    a: bool = False
    c: bool = False
    d: bool = False
    f: bool = False
    h: bool = False
    i: str | None = None
    l: bool = False  # noqa: E741
    s: bool = False
    m: bool = False
    n: str | None = None
    o: str | None = None
    p: bool = False
    t: str | None = None
    V: bool = False
    v: bool = False
    w: list[str] = field(default_factory=list)
    x: bool = False
    z: bool = False
    S: bool = False
    u: bool = False
    C: bool = False
    osimage: bool = False
    nics: bool = False
    template: str | None = None
    rest: list[str] = field(default_factory=list)


_FLAG_NAMES = {
    "-a": "a", "--all": "a", "-c": "c", "--compress": "c", "-d": "d", "--dynamic": "d",
    "-f": "f", "--force": "f", "-h": "h", "--help": "h", "-l": "l", "--long": "l",
    "-s": "s", "--short": "s", "-m": "m", "--minus": "m", "-p": "p", "--plus": "p",
    "-V": "V", "--verbose": "V", "-v": "v", "--version": "v", "-x": "x", "--xml": "x",
    "-z": "z", "--stanza": "z", "-S": "S", "-u": "u", "-C": "C", "--cleanup": "C",
    "--osimage": "osimage", "--nics": "nics", "--nocache": "",
}


def parse_args(args: Sequence[str]) -> Opts:
    """The options of all four commands, as xCAT's GetOptions takes them.

    ``--template`` takes an optional value (the next word unless it is an option).
    """
    opts = Opts()
    words: list[str] = []
    i = 0
    args = list(args)
    while i < len(args):
        a = args[i]
        if a == "--":
            words.extend(args[i:])
            break
        if a == "--template":
            if i + 1 < len(args) and not args[i + 1].startswith("-"):
                opts.template = args[i + 1]
                i += 2
            else:
                opts.template = ""
                i += 1
            continue
        if a.startswith("--template="):
            opts.template = a.partition("=")[2]
        else:
            words.append("-h" if a == "-?" else a)  # xCAT's third help flag
        i += 1
    try:
        pairs, rest = getopt.gnu_getopt(words, _SHORT, _LONG)
    except getopt.GetoptError:
        raise _Stop("Invalid option..", usage=True) from None
    for name, value in pairs:
        if name in _FLAG_NAMES:
            if _FLAG_NAMES[name]:
                setattr(opts, _FLAG_NAMES[name], True)
        elif name == "-w":
            opts.w.append(value)
        else:
            setattr(opts, name[1:], value)
    opts.rest = rest
    return opts


# --------------------------------------------------------------------------- #
# usage and attribute help

_USAGE: Mapping[str, tuple[str, ...]] = {
    "lsdef": (
        "Usage: lsdef - List xCAT data object definitions.",
        "",
        "  lsdef [-h | --help ] [-t object-types] [-i attr-list]",
        "  lsdef [-V | --verbose] [-l | --long] [-s | --short] [-a | --all] [-S]",
        "        [-t object-types] [-o object-names] [-z | --stanza] [-i attr-list]",
        "        [-c | --compress] [--osimage] [--nics] [[-w attr==val]",
        "        [-w attr=~val] ...] [noderange]",
        "  lsdef [-l | --long] [-a | --all] [-t object-types] [-z | --stanza]",
        "        [-i attr-list] [--template [template-object-name]]",
    ),
    "mkdef": (
        "Usage: mkdef - Create xCAT data object definitions.",
        "",
        "  mkdef [-h | --help ] [-t object-types]",
        "  mkdef [-V | --verbose] [-t object-types] [--template template-object-name]",
        "        [-o object-names] [-z | --stanza] [-d | --dynamic]",
        "        [-w attr==val [-w attr=~val] ...] [-f | --force]",
        "        [noderange] [attr=val [attr=val...]]",
    ),
    "chdef": (
        "Usage: chdef - Change xCAT data object definitions.",
        "",
        "  chdef [-h | --help ] [-t object-types]",
        "  chdef [-t object-types] [-o object-names] [-n new-name] [node]",
        "  chdef [-V | --verbose] [-t object-types] [-o object-names] [-d | --dynamic]",
        "        [-z | --stanza] [-m | --minus] [-p | --plus]",
        "        [-w attr==val [-w attr=~val] ... ] [noderange] [attr=val [attr=val...]]",
    ),
    "rmdef": (
        "Usage: rmdef - Remove xCAT data object definitions.",
        "",
        "  rmdef [-h | --help ] [-t object-types]",
        "  rmdef [-V | --verbose] [-t object-types] [-a | --all] [-f | --force]",
        "        [-C | --cleanup] [-o object-names] [noderange]",
    ),
}


def usage(command: str) -> Response:
    lines = ["", *_USAGE[command], "",
             "The following data object types are supported by xCAT:",
             ",".join(sorted(OBJECT_TYPES)), "",
             "Use the '-h' option together with the '-t <object-types>' option to",
             "get a list of valid attribute names for each object type."]
    return data("\n".join(lines))


def attribute_help(types: Sequence[str], only: str | None) -> Iterator[Response]:
    """``-h -t TYPES [-i attrs]``: each type's attributes with their descriptions."""
    from xcatpy.store.schema import SITE_KEY_DOCS

    wanted = None
    if only:
        wanted = {re.sub(r"^(nic\w+)\..*$", r"\1", a) for a in only.split(",")}
    for t in types:
        if t == "site":
            if only:
                yield warning("It is not supported to list the description of some specific "
                              "site attributes, displaying the description for all site "
                              "attributes instead.")
            lines = ["There can only be one xCAT site definition. This definition consists",
                     "of an unlimited list of user-defined attributes and values that "
                     "represent", "global settings for the whole cluster. The following is "
                     "a list", "of the attributes currently supported by xCAT.", ""]
            lines += [f"{k}:{_gap(k)}{v}" for k, v in sorted(SITE_KEY_DOCS.items())]
            yield data("\n".join(lines))
            continue
        otype = OBJECT_TYPES[t]
        entries: dict[str, str] = {}
        for spec in otype.attrs:
            if wanted is not None and spec.attr not in wanted:
                continue
            entries.setdefault(spec.attr, f"{spec.attr}:{_gap(spec.attr)}{spec.description}")
        lines = [] if only else [f"The valid attribute names for object type '{t}' are:"]
        lines += ["Attribute          Description", ""]
        lines.append("\n\n".join(sorted(entries.values())))
        yield data("\n".join(lines))


def _gap(attr: str) -> str:
    return "\t\t" if len(attr) < 7 else "\t"


# --------------------------------------------------------------------------- #
# stanza files (xcatstanzafile(5)) and shipped templates


@dataclass
class Stanza:
    objects: dict[str, dict[str, str]] = field(default_factory=dict)
    """Object name -> attributes (``objtype`` included), in file order."""


def parse_stanza(text: str) -> Stanza:
    """Parse stanza text: ``name:`` headers, ``attr=value`` lines, ``#`` comments,
    ``default-<type>:`` stanzas whose values apply to later objects of the type.

    As in xCAT, defaults are applied where an object's ``objtype`` line is met,
    and quotes around values are dropped.  Unlike xCAT, a line that is neither
    a header, an attribute nor a comment is an error naming the line.
    """
    out = Stanza()
    defaults: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    default_type: str | None = None
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith(":") and "=" not in line:
            name = line[:-1].strip()
            if not name:
                raise _Stop(f"Invalid stanza header on line {lineno}: {raw.strip()}")
            if name.startswith("default-"):
                default_type = name[len("default-"):]
                defaults.setdefault(default_type, {})
                current = None
                continue
            default_type = None
            current = out.objects.setdefault(name, {})
            continue
        m = re.match(r"^\s*(.*?)\s*=\s*(.*?)\s*$", raw)
        if m is None or (current is None and default_type is None):
            raise _Stop(f"Invalid line {lineno} in the stanza input: {raw.strip()}")
        attr, value = m.group(1), m.group(2)
        value = re.sub(r'^\s*"\s*', "", value)
        value = re.sub(r'\s*"\s*$', "", value)
        if default_type is not None:
            defaults[default_type][attr] = value
            continue
        assert current is not None
        current[attr] = value
        if attr == "objtype":
            current.update(defaults.get(value, {}))
    return out


# Object definition templates shipped with xcatpy (lsdef/mkdef --template).
# MANDATORY: values must be given on mkdef; OPTIONAL: values are left unset.
TEMPLATES = """
x86_64-template:
    objtype=node
    arch=x86_64
    bmc=MANDATORY:address or host name of the node's BMC
    bmcpassword=OPTIONAL:BMC password, when not the one in the passwd table
    bmcusername=OPTIONAL:BMC user, when not the one in the passwd table
    cons=ipmi
    consoleondemand=yes
    groups=all
    ip=OPTIONAL:address of the node on the installation network
    mac=OPTIONAL:MAC address of the installation interface
    mgt=ipmi
    netboot=xnba
    usercomment=x86_64 server managed over IPMI

ppc64le-template:
    objtype=node
    arch=ppc64le
    bmc=MANDATORY:address or host name of the node's BMC
    bmcpassword=OPTIONAL:BMC password, when not the one in the passwd table
    bmcusername=OPTIONAL:BMC user, when not the one in the passwd table
    cons=ipmi
    consoleondemand=yes
    groups=all
    ip=OPTIONAL:address of the node on the installation network
    mac=OPTIONAL:MAC address of the installation interface
    mgt=ipmi
    netboot=petitboot
    usercomment=POWER little-endian server managed over IPMI

ppc64le-openbmc-template:
    objtype=node
    arch=ppc64le
    bmc=MANDATORY:address or host name of the node's OpenBMC
    bmcpassword=OPTIONAL:OpenBMC password, when not the one in the passwd table
    bmcusername=OPTIONAL:OpenBMC user, when not the one in the passwd table
    cons=openbmc
    consoleondemand=yes
    groups=all
    ip=OPTIONAL:address of the node on the installation network
    mac=OPTIONAL:MAC address of the installation interface
    mgt=openbmc
    netboot=petitboot
    usercomment=POWER little-endian server managed by OpenBMC

switch-template:
    objtype=node
    groups=switch
    ip=MANDATORY:management address of the switch
    mgt=switch
    nodetype=switch
    password=OPTIONAL:SSH password of the switch
    switchtype=OPTIONAL:switch vendor type, e.g. onie or cumulus
    username=OPTIONAL:SSH user of the switch
    usercomment=network switch

pdu-template:
    objtype=node
    groups=pdu
    ip=MANDATORY:management address of the PDU
    mgt=pdu
    nodetype=pdu
    pdutype=OPTIONAL:PDU vendor type, e.g. irpdu or crpdu
    usercomment=power distribution unit
"""


def templates() -> dict[str, dict[str, str]]:
    return parse_stanza(TEMPLATES).objects


# --------------------------------------------------------------------------- #
# object names from the command line


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
    from xcatpy import noderange
    from xcatpy.store.resolver import StoreResolver

    env = req.environment or {}
    try:
        exp = noderange.expand(
            text, StoreResolver(catalog.view), verify=False,
            node_prefix=env.get("XCAT_NODE_PREFIX", "node"),
            node_suffix=env.get("XCAT_NODE_SUFFIX", ""), cwd=req.cwd,
        )
    except NoderangeError as exc:
        raise _Stop(exc.message) from None
    return exp.nodes


def target(command: str, req: Request, catalog: Any) -> Target:
    """Options, object types, object names and attr=val pairs of the command line
    (xCAT's processArgs), with its checks and messages."""
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
    tgt = Target(command, req, opts, [])
    for word in opts.rest:
        if "=" in word:
            m = re.match(r"^\s*(.*?)\s*=\s*(\S*.*)$", word, re.S)
            if m is None or not m.group(1):
                raise _Stop(f"Incorrect 'attr=val' pair - {word}.")
            tgt.attrs[m.group(1)] = m.group(2)
        elif tgt.noderange is not None:
            raise _Stop("noderange can not contain spaces.", usage=True)
        else:
            tgt.noderange = word
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
        from xcatpy.store.objects import parse_where

        for text in opts.w:
            try:
                where = parse_where(text)
            except re.error:
                where = None
            if where is None:
                raise _Stop("Incorrect selection string specified with -w flag.")
            tgt.wheres.append(where)
        if opts.t == "group" and opts.d:
            valid = set(OBJECT_TYPES["node"].attr_names)
            for where in tgt.wheres:
                if where.attr not in valid:
                    raise _Stop(f"Incorrect attribute '{where.attr}' in the selection "
                                "string specified with -w flag.")
    if opts.i and command != "lsdef":
        raise _Stop("The '-i' option is only valid for the lsdef command.")
    return tgt


class _HelpTypes(Exception):
    def __init__(self, types: list[str], only: str | None) -> None:
        super().__init__("help")
        self.types = types
        self.only = only


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


# --------------------------------------------------------------------------- #
# handler entry points


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


def lines_out(lines: list[str]) -> Iterator[Response]:
    """Output lines in a few large responses rather than one per line."""
    for i in range(0, len(lines), _CHUNK):
        yield data("\n".join(lines[i : i + _CHUNK]))


# --------------------------------------------------------------------------- #
# lsdef


def _lsdef(command: str, req: Request, ctx: Context) -> Iterator[Response]:
    from xcatpy.store.objects import Catalog

    with reading(ctx) as (_conn, view):
        catalog = Catalog(view)
        tgt = target(command, req, catalog)
        yield from _list(tgt, catalog)


@dataclass
class _Listing:
    lines: list[str] = field(default_factory=list)
    messages: list[Response] = field(default_factory=list)
    total: int = 0


def _list(tgt: Target, catalog: Any) -> Iterator[Response]:
    opts = tgt.opts
    long = bool(opts.l or tgt.noderange or opts.o or opts.i or opts.z
                or opts.template is not None) and not opts.s
    want_values = long or bool(opts.w)
    only: list[str] | None = None
    nic_only: dict[str, list[str]] = {}
    if opts.i:
        only = []
        for a in opts.i.split(","):
            m = re.match(r"^(nic\w+)\.(.*)$", a)
            if m:
                a = m.group(1)
                nic_only.setdefault(a, []).append(m.group(2))
            if a not in only:
                only.append(a)
    if opts.template is not None:
        per_type = _template_objects(tgt)
    else:
        per_type = _db_objects(tgt, catalog, want_values, None if long else [], only)
    if not any(names for names, _ in per_type.values()):
        if not tgt.from_args:
            yield data("Could not find any object definitions to display.")
            return
    out = _Listing()
    if opts.z:
        out.lines.append("# <xCAT data object stanza file>")
    defaults = (None, None)
    if "node" in per_type and not opts.z and want_values:
        defaults = catalog.xcatdefaults()
    for t, (names, values) in per_type.items():
        _list_type(tgt, catalog, t, names, values, only, nic_only, long, defaults, out)
    yield from out.messages
    if out.lines:
        yield from lines_out(out.lines)
    elif out.total:
        yield data("No object definitions have been found")


def _template_objects(tgt: Target) -> dict[str, tuple[list[str], Any]]:
    from xcatpy.store.objects import ObjectData

    per: dict[str, tuple[list[str], Any]] = {}
    for name, attrs in tgt.stanza.items():
        t = attrs.get("objtype", "")
        names, od = per.setdefault(t, ([], ObjectData()))
        names.append(name)
        od.values[name] = {a: v for a, v in attrs.items() if a != "objtype"}
    for names, _od in per.values():
        names.sort(key=natural_key)
    if tgt.all_types:
        tgt.types = list(per)
    return per


def _db_objects(tgt: Target, catalog: Any, want_values: bool, shown: list[str] | None,
                only: list[str] | None) -> dict[str, tuple[list[str], Any]]:
    """Names and values of the objects to list, each type read once.

    Only the attributes shown (``only``, or none for a list of names) and
    those the -w selections test are read, unless -l asks for everything.
    """
    from xcatpy.store.objects import ObjectData

    if only is not None and not tgt.opts.l:
        shown = only

    per: dict[str, tuple[list[str], Any]] = {}
    for t in tgt.types:
        if tgt.from_args:
            names = list(dict.fromkeys(tgt.names)) if t == tgt.types[0] else []
        else:
            names = catalog.names(t)
        known = catalog.exists(t)
        existing = names if not tgt.from_args else [n for n in names if n in known]
        if want_values and existing:
            attrs = None
            if shown is not None:
                attrs = set(shown) | {w.attr for w in tgt.wheres}
                if t == "group":
                    attrs |= {"grouptype", "wherevals"}
            od = catalog.read(t, existing, attrs, with_sources=tgt.opts.V)
        else:
            od = ObjectData(values={n: {} for n in existing})
        per[t] = (names, od)
    return per


def _list_type(tgt: Target, catalog: Any, t: str, names: list[str], od: Any,
               only: list[str] | None, nic_only: dict[str, list[str]], long: bool,
               defaults: tuple[str | None, str | None], out: _Listing) -> None:
    from xcatpy.store.objects import expand_nics

    opts = tgt.opts
    for msg in od.errors:
        out.messages.append(warning(msg))
    if not names:
        if len(tgt.types) > 1 and not tgt.all_types:
            out.messages.append(data(f"Could not find any objects of type '{t}'."))
        return
    shown_attrs: list[str] = []
    if t not in ("site", "monitoring"):
        if only is not None:
            valid = set(OBJECT_TYPES[t].attr_names)
            for a in only:
                if a in valid:
                    shown_attrs.append(a)
                else:
                    out.messages.append(
                        error(f"'{a}' is not a valid attribute name for an object type of '{t}'.")
                    )
        else:
            shown_attrs = [a for a in OBJECT_TYPES[t].attr_names if a != OBJECT_TYPES[t].key_attr]
    shown_sorted = sorted(shown_attrs)
    shown_set = set(shown_attrs)
    hidden = set()
    if t == "node" and not opts.S and opts.template is None:
        hidden = catalog.view.hidden_nodes() & set(names)
    exists = catalog.exists(t) if opts.template is None else set(names)
    multi = len(tgt.types) > 1
    lines = out.lines
    for obj in names:
        if obj in hidden:
            continue
        out.total += 1
        if tgt.from_args and obj not in exists:
            out.messages.append(error(f"Could not find an object named '{obj}' of type '{t}'."))
            continue
        values = od.values.get(obj, {})
        if t == "node" and (defaults[0] or defaults[1]) and not opts.z:
            values = _with_defaults(values, defaults)
        if t == "group" and (long or tgt.wheres):
            values = dict(values)
            values["members"] = ",".join(catalog.members(obj, values))
        if tgt.wheres and not all(w.matches(values) for w in tgt.wheres):
            continue
        if not long:
            if opts.z:
                lines += ["", f"{obj}:"]
            elif tgt.all_types:
                lines.append(f"{obj} ({t})")
            else:
                lines.append(f"{obj}  ({t})")
            continue
        if opts.z:
            lines += ["", f"{obj}:", f"    objtype={t}"]
        elif multi:
            lines.append(f"Object name: {obj}  ({t})")
        elif not opts.c:
            lines.append(f"Object name: {obj}")
        if t in ("site", "monitoring"):
            attrlist = sorted(only if only is not None else values)
        elif only is not None:
            attrlist = shown_sorted
        else:
            attrlist = sorted(a for a in values if a in shown_set)
        sources = od.sources.get(obj, {}) if opts.V else {}
        for attr in attrlist:
            value = values.get(attr)
            if value is not None and opts.V:
                value = _verbose(t, attr, value, sources.get(attr))
            if only is not None:
                if attr.startswith("nic") and t in ("node", "group"):
                    nics = expand_nics(attr, value or "", nic_only.get(attr))
                    prefix = f"{obj}: " if opts.c else "    "
                    lines += [f"{prefix}{k}={v}" for k, v in nics]
                elif opts.c:
                    lines.append(f"{obj}: {attr}={value or ''}")
                else:
                    lines.append(f"    {attr}={value or ''}")
            elif t == "group" and attr == "members":
                lines.append(f"    members={value or ''}")
            elif value:
                if attr.startswith("nic") and t in ("node", "group"):
                    lines += [f"    {k}={v}" for k, v in expand_nics(attr, value)]
                else:
                    lines.append(f"    {attr}={value}")
        if opts.osimage and t == "node":
            lines += _osimage_lines(catalog, values)


def _with_defaults(values: Mapping[str, str],
                   defaults: tuple[str | None, str | None]) -> dict[str, str]:
    """Every node also runs the ``xcatdefaults`` scripts, listed first."""
    out = dict(values)
    for attr, extra in zip(("postscripts", "postbootscripts"), defaults, strict=True):
        if extra:
            out[attr] = f"{extra},{out[attr]}" if out.get(attr) else extra
    return out


def _verbose(t: str, attr: str, value: str, step: Any) -> str:
    if t == "site":
        return f"{value}\t(Table:site - Key:{attr})"
    if step is None:
        return value
    return (f"{value}\t(Table:{step.lookup.table} - Key:{step.lookup.name_col}"
            f" - Column:{step.spec.column})")


def _osimage_lines(catalog: Any, values: Mapping[str, str]) -> list[str]:
    """--osimage: the attributes of the node's osimage (provmethod names it) that
    the node does not define itself."""
    image = values.get("provmethod")
    if not image or image in ("install", "netboot", "statelite"):
        return []
    img = catalog.read_all("osimage").get(image, {})
    return [f"    {a}={v}" for a, v in sorted(img.items()) if a not in values and v]


# --------------------------------------------------------------------------- #
# mkdef and chdef

_FAILED = "One or more errors occured when attempting to create or modify xCAT object definitions."
_GROUP_OWN = frozenset({"objtype", "grouptype", "members", "membergroups", "wherevals",
                        "usercomment"})


@dataclass
class _Run:
    """The state of one mkdef/chdef: queued writes, messages, membership changes."""

    command: str
    tgt: Target
    catalog: Any
    writes: Any
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    deletes: dict[str, list[str]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    """node -> its groups as this command leaves them (only nodes it touches)."""
    member_ops: list[tuple[str, str, list[str]]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return len(self.names)

    def node_groups(self, node: str) -> list[str]:
        if node not in self.groups:
            self.groups[node] = list(self.catalog.view.groups_of(node))
        return self.groups[node]


def _define(command: str, req: Request, ctx: Context) -> Iterator[Response]:
    from xcatpy.store.objects import Catalog, RowWrites

    with writing(ctx) as (conn, view):
        catalog = Catalog(view)
        tgt = target(command, req, catalog)
        opts = tgt.opts
        if command == "mkdef" and (opts.p or opts.m):
            raise _Stop("The '-p' and '-m' options are not valid for the mkdef command.",
                        usage=True)
        if command == "chdef" and opts.n is not None:
            yield from _rename(tgt, catalog, conn)
            return
        if command == "chdef" and opts.f:
            raise _Stop("The '-f' option is not valid for the chdef command.", usage=True)
        if opts.u and (opts.p or opts.m):
            raise _Stop("Cannot use '-u' with '-p' or '-m'.")
        if opts.t and (opts.a or opts.z or opts.x):
            raise _Stop("Cannot combine '-t' and '-a', '-z', or '-x' options.", usage=True)
        if opts.z and (opts.o or tgt.noderange):
            raise _Stop("Cannot use '-z' with '-o' or a noderange.",
                        f"Example of -z usage:\n\t'cat stanzafile | {command} -z'", usage=True)
        if not tgt.names and not tgt.stanza:
            raise _Stop("No object names were provided.", usage=True)
        run = _Run(command, tgt, catalog, RowWrites())
        defs = _definitions(run)
        for t in sorted({t for t, _, _ in defs}, key=list(OBJECT_TYPES).index):
            _define_type(run, t, [(n, a) for tt, n, a in defs if tt == t])
        _apply_member_ops(run)
        for w in run.warnings:
            yield warning(w)
        if run.errors:
            for e in run.errors:
                yield error(e)
            yield error(_FAILED)
            return
        from xcatpy.store.objects import delete_objects

        for t, names in run.deletes.items():
            delete_objects(conn, view.store, t, names, everything=False)
        run.writes.flush(conn, view.store)
        if opts.V:
            yield data("\n".join(["The database was updated for the following objects:",
                                  *sorted(run.names, key=natural_key)]))
            return
        yield data(f"{run.done} object definitions have been created or modified.")
        if command == "chdef" and run.created:
            yield data(f"New object definitions '{','.join(run.created)}' have been created.")


def _definitions(run: _Run) -> list[tuple[str, str, dict[str, str]]]:
    """(type, name, attributes) of every object the command defines, in order."""
    from xcatpy.store.objects import invalid_attrs

    tgt = run.tgt
    defs: list[tuple[str, str, dict[str, str]]] = []
    if tgt.names:
        t = tgt.types[0]
        for attr in invalid_attrs(t, tgt.attrs):
            run.errors.append(
                f"'{attr}' is not a valid attribute name for an object type of '{t}'."
            )
        for name in dict.fromkeys(tgt.names):
            defs.append((t, name, dict(tgt.attrs)))
    for name, attrs in tgt.stanza.items():
        t = attrs.get("objtype", "")
        if not t:
            run.errors.append(f"No objtype value was specified for '{name}'. "
                              "Cannot create object definition.")
            continue
        if t not in OBJECT_TYPES:
            run.errors.append(f"Type '{t}' is not a valid xCAT object type.")
            continue
        for attr in invalid_attrs(t, attrs):
            run.errors.append(
                f"'{attr}' is not a valid attribute name for an object type of '{t}'."
            )
        defs.append((t, name, {a: v for a, v in attrs.items() if a != "objtype"}))
    return defs


def _define_type(run: _Run, t: str, items: list[tuple[str, dict[str, str]]]) -> None:
    from xcatpy.store.objects import collapse_nics, plan_for, plan_writes

    opts = run.tgt.opts
    catalog = run.catalog
    existing = catalog.exists(t)
    mode = "plus" if opts.p else "minus" if opts.m else "replace"
    force = run.command == "mkdef" and opts.f
    old = [n for n, _ in items if n in existing and not force]
    wanted = {a for _, attrs in items for a in attrs}
    wanted = {re.sub(r"^(nic\w+)\..*$", r"\1", a) for a in wanted}
    if t == "group":
        wanted |= {"grouptype", "wherevals"}
    if t == "osimage" and opts.u:
        wanted |= set(_IMAGE_ATTRS)
    current = catalog.read(t, old, wanted).values if old and wanted else {}
    if t == "network":
        _check_networks(run, items, existing, force)
    plan = plan_for(t)
    capitals = []
    for name, attrs in items:
        now = current.get(name, {})
        is_new = name not in existing or force
        if run.command == "mkdef" and name in existing and not force:
            run.errors += [f"A definition for '{name}' already exists.",
                           "To remove the old definition and replace it with a new definition "
                           "use the force '-f' option.",
                           "To change the existing definition use the 'chdef' command."]
            continue
        if t == "node" and not _node_ok(run, name, attrs, is_new):
            continue
        if t == "node" and re.search(r"[A-Z]", name) and is_new:
            capitals.append(name)
        if run.command == "chdef" and opts.m and name not in existing:
            run.errors.append(f"The '-m' option is not valid since the '{name}' definition "
                              "does not exist.")
            continue
        if t in ("node", "group"):
            collapse_nics(attrs, now)
        delim = ","
        if t == "group":
            if not _group(run, name, attrs, now, is_new):
                continue
            if (now.get("grouptype") or attrs.get("grouptype")) == "dynamic":
                delim = "::"
        if t == "osimage" and opts.u:
            for attr in _IMAGE_ATTRS:
                if attr not in attrs and now.get(attr):
                    attrs[attr] = now[attr]
            if not _fill_osimage(run, attrs):
                continue
        if t == "osimage" and is_new and run.command == "chdef" and "imagetype" not in attrs:
            attrs["imagetype"] = "NIM"
        res = plan_writes(t, name, attrs, now, mode, run.writes, delim=delim)
        run.errors += [f"{name}: {e}" if len(items) > 1 else e for e in res.errors]
        run.warnings += res.warnings
        if t == "node" and "groups" in res.written:
            from xcatpy.store.attrs import split_list

            run.groups[name] = split_list(res.written["groups"])
        if is_new and plan.key_lookup is not None and t not in ("node", "site"):
            run.writes.set(plan.key_lookup, name, plan.key_lookup.name_col, name)
        if force and name in existing:
            run.deletes.setdefault(t, []).append(name)
        if name not in existing and run.command == "chdef":
            run.created.append(name)
        run.names.append(name)
    if capitals:
        run.warnings.append(f"The node name '{','.join(capitals)}' contains capital letters "
                            "which may not be resolved correctly by the dns server.")


_IMAGE_ATTRS = ("imagetype", "provmethod", "profile", "osname", "osvers", "osarch")


def _fill_osimage(run: _Run, attrs: dict[str, str]) -> bool:
    """-u: complete a Linux osimage from profile and provmethod, as xCAT does.

    The OS version and architecture default to the management node's.  List
    and template files are looked for under ``<installdir>/custom/<install|
    netboot>/<platform>/`` (xcatpy ships no per-distribution files of its own).
    """
    import os
    import platform

    profile, prov = attrs.get("profile"), attrs.get("provmethod")
    if not profile or not prov:
        run.errors.append("The profile and provmethod are all need to be specified.")
        return False
    if not re.search("install|netboot|statelite", prov):
        run.errors.append(f"The provmethod: {prov} is incorrect.")
        return False
    osvers = attrs.setdefault("osvers", _host_osvers())
    arch = attrs.setdefault("osarch", re.sub(r"^i.86$", "x86", platform.machine()))
    if osvers.lower().startswith("ubuntu") and arch.lower().startswith("ppc64le"):
        arch = attrs["osarch"] = "ppc64el"
    for attr, want in (("imagetype", "linux"), ("osname", "Linux")):
        if attrs.get(attr) and not attrs[attr].lower().startswith(want.lower()):
            run.errors.append(f"The input {attr}:{attrs[attr]} not match {want}.")
            return False
        attrs.setdefault(attr, want)
    attrs["osdistroname"] = f"{osvers}-{arch}"
    root = run.catalog.view.site.get("installdir") or "/install"
    kind = "install" if prov == "install" else "netboot"
    genos = re.sub(r"\..*", "", osvers)
    genos = re.sub(r"^rh.*s(\d*)$", r"rhel\1", genos)
    base = os.path.join(root, "custom", kind)
    plat = osvers
    while plat and not os.path.isdir(os.path.join(base, plat)):
        plat = plat[:-1]
    base = os.path.join(base, plat) if plat else ""

    def find(suffix: str) -> str | None:
        for stem in (f"{osvers}.{arch}", f"{genos}.{arch}", arch, osvers, genos, ""):
            path = os.path.join(base, ".".join(p for p in (profile, stem, suffix) if p))
            if base and os.path.isfile(path):
                return path
        return None

    if prov == "install":
        attrs.update(exlist="", postinstall="", rootimgdir="")
        found = find("tmpl")
        if found and (run.command == "chdef" or "template" not in attrs):
            attrs["template"] = found
    else:
        attrs["template"] = ""
        for attr, suffix in (("exlist", "exlist"), ("postinstall", "postinstall")):
            if attr not in attrs and find(suffix):
                attrs[attr] = find(suffix) or ""
        attrs.setdefault("rootimgdir", f"{root}/netboot/{osvers}/{arch}/{profile}")
    for attr, suffix in (("pkglist", "pkglist"), ("otherpkglist", "otherpkgs.pkglist")):
        if attr not in attrs and find(suffix):
            attrs[attr] = find(suffix) or ""
    attrs.setdefault("otherpkgdir", f"{root}/post/otherpkgs/{osvers}/{arch}")
    attrs.setdefault("pkgdir", f"{root}/{osvers}/{arch}")
    return True


def _host_osvers() -> str:
    """The management node's OS in xCAT's spelling (rhels9.4, sles15.5, ubuntu22.04)."""
    info: dict[str, str] = {}
    try:
        with open("/etc/os-release", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.strip().partition("=")
                info[key] = value.strip('"')
    except OSError:
        return ""
    names = {"rhel": "rhels", "almalinux": "alma", "opensuse-leap": "sle", "sles": "sles"}
    return names.get(info.get("ID", ""), info.get("ID", "")) + info.get("VERSION_ID", "")


def _node_ok(run: _Run, name: str, attrs: Mapping[str, str], is_new: bool) -> bool:
    if is_new and "." in name:
        run.errors.append(f"The object name '{name}' is invalid, Cannot use '.' in node name.")
        return False
    if is_new and not attrs.get("groups"):
        run.errors.append(f"Attribute 'groups' is not specified for node '{name}', "
                          "skipping to the next node.")
        return False
    return True


def _check_networks(run: _Run, items: list[tuple[str, dict[str, str]]], existing: set[str],
                    force: bool) -> None:
    """A new network needs net and mask, and no other network may have the same pair."""
    catalog = run.catalog
    known = catalog.read("network", sorted(existing), {"net", "mask"}).values
    for name, attrs in items:
        if name in existing and not force:
            continue
        if not (attrs.get("net") and attrs.get("mask")):
            run.errors.append(f"Net or mask value should not be empty for xCAT network "
                              f"object '{name}'.")
            continue
        for other, vals in known.items():
            if other != name and (vals.get("net"), vals.get("mask")) == (attrs["net"],
                                                                         attrs["mask"]):
                run.errors.append(
                    f"A network definition called '{other}' already exists that contains "
                    f"the same net and mask values. Cannot create a definition for '{name}'."
                )


def _group(run: _Run, name: str, attrs: dict[str, str], now: Mapping[str, str],
           is_new: bool) -> bool:
    """Static or dynamic group: settle grouptype/members/wherevals and queue the
    membership change of the member nodes.  False when the group is in error."""
    opts = run.tgt.opts
    gtype = attrs.get("grouptype") or ("" if is_new else now.get("grouptype", ""))
    if not gtype and opts.d:
        gtype = "dynamic"
    gtype = gtype or "static"
    if gtype == "dynamic":
        if set(attrs) - _GROUP_OWN:
            run.errors.append(f"Can not assign attributes to dynamic node group '{name}'.")
            return False
        if not attrs.get("wherevals") and opts.w:
            attrs["wherevals"] = "::".join(opts.w)
        if is_new and not attrs.get("wherevals"):
            run.errors.append(f"The 'where' attributes and values were not provided for "
                              f"dynamic group '{name}'.")
            return False
        if is_new:
            attrs["grouptype"] = "dynamic"
        attrs["members"] = "dynamic"
        return True
    if is_new:
        # the member list of a static group lives in nodelist.groups; the
        # nodegroup row only says so (xCAT left it unset when no member was named)
        attrs.setdefault("grouptype", "static")
        attrs.setdefault("members", "")
    if opts.w and attrs.get("members"):
        run.errors.append("Cannot use a list of members together with the '-w' option.")
        return False
    members: list[str] | None = None
    if attrs.get("members"):
        members = _expand_members(run, attrs["members"])
        attrs["members"] = "static"
    elif opts.w:
        attrs["members"] = "static"
        nodes = run.catalog.names("node")
        wheres = run.tgt.wheres
        values = run.catalog.read("node", nodes, {w.attr for w in wheres}).values
        members = [n for n in nodes if all(w.matches(values.get(n, {})) for w in wheres)]
        if run.command == "chdef":
            attrs["wherevals"] = "::".join(opts.w)
    elif is_new:
        attrs["members"] = "static"
        if run.command == "mkdef":
            run.warnings.append(f"Cannot determine a member list for group '{name}'.")
    if members is not None:
        op = "replace" if run.command == "chdef" and not is_new else "add"
        if opts.m:
            op = "remove"
        elif opts.p:
            op = "add"
        run.member_ops.append((op, name, members))
    return True


def _expand_members(run: _Run, text: str) -> list[str]:
    nodes = _expand_nodes(text, run.catalog, run.tgt.req)
    known = run.catalog.exists("node") | {n for n in run.groups}
    found = []
    for node in nodes:
        if node in known:
            found.append(node)
        else:
            run.errors.append(f"Could not find a node named '{node}', skipping to the next node.")
    return found


def _apply_member_ops(run: _Run) -> None:
    """Write the group changes into the member nodes' ``nodelist.groups``."""
    from xcatpy.store.objects import Lookup

    touched: dict[str, None] = {}
    for op, group, members in run.member_ops:
        if op == "replace":
            for node in run.catalog.static_members(group):
                groups = run.node_groups(node)
                if group in groups:
                    groups.remove(group)
                    touched[node] = None
        for node in members:
            groups = run.node_groups(node)
            if op == "remove":
                if group in groups:
                    groups.remove(group)
                    touched[node] = None
                elif run.command == "chdef":
                    run.warnings.append(f"{node} is not a member of '{group}'.")
            elif group not in groups:
                groups.append(group)
                touched[node] = None
    for node in touched:
        run.writes.set(Lookup("nodelist", "node"), node, "groups", ",".join(run.groups[node]))


def _rename(tgt: Target, catalog: Any, conn: Any) -> Iterator[Response]:
    from xcatpy.store.objects import rename_object

    opts = tgt.opts
    if opts.d or opts.p or opts.m or opts.z or opts.w:
        raise _Stop("Cannot combine '-n' and '-d','-p','-m','-z','-w' options.", usage=True)
    if len(tgt.names) > 1:
        raise _Stop("The '-n' option (changing object name) can only work on one object.",
                    usage=True)
    t = tgt.types[0]
    if t in ("site", "group", "monitoring"):
        raise _Stop(f"Objects of type '{t}' cannot be renamed with the '-n' option.")
    old, new = (tgt.names or [""])[0], opts.n or ""
    existing = catalog.exists(t)
    if old not in existing:
        raise _Stop(f"The {old} is not a valid object.")
    if new in existing:
        raise _Stop(f"Object {new} already exists.")
    rename_object(conn, catalog.store, t, old, new)
    yield data(f"Changed the object name from {old} to {new}.")


# --------------------------------------------------------------------------- #
# rmdef


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
