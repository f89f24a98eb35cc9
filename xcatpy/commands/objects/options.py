"""Options of lsdef, mkdef, chdef and rmdef, their usage text and attribute help.

:class:`_Stop` and :class:`_HelpTypes` end a command from anywhere in this
package; :func:`xcatpy.commands.objects._run` turns them into responses.
"""

from __future__ import annotations

import getopt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from xcatpy.protocol import Response, data, warning
from xcatpy.store.defspec import OBJECT_TYPES

_SHORT = "acdfi:hlsmn:o:pt:Vvw:xzSuC"
_LONG = [
    "all", "compress", "dynamic", "force", "help", "long", "short", "minus", "plus",
    "verbose", "version", "xml", "stanza", "nocache", "osimage", "nics", "cleanup",
]


class _Stop(Exception):
    """End the command: error lines, optionally followed by the usage text."""

    def __init__(self, *messages: str, usage: bool = False, info: bool = False) -> None:
        super().__init__(messages[0] if messages else "")
        self.messages = messages
        self.usage = usage
        self.info = info


class _HelpTypes(Exception):
    def __init__(self, types: list[str], only: str | None) -> None:
        super().__init__("help")
        self.types = types
        self.only = only


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
