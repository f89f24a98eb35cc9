"""Install templates: xCAT's ``#...#`` directives rendered for many nodes at once.

:func:`render` takes one template, a list of nodes and a read view and returns,
per node, the rendered text or one error naming the template file, the line
and what is missing; a failing node never stops the others.

Work is split so that the cost per node is a string join:

1. *node-independent* — includes are expanded (``#INCLUDE#`` and its package
   list forms, recursively, relative to the including file, loops refused),
   ``#INCLUDE_NOP#`` contents and ``#COMMAND#`` outputs are set aside (neither
   is scanned for directives again, so no table value ever reaches a shell),
   and every remaining line is split once into literal text and directives;
2. *bulk read* — every ``#TABLE#`` column keyed by node is read for all nodes
   in one :meth:`NodeView.attributes` call (one query per table, group and
   regex values resolved); ``k=v`` lookups read their table once; ``site``
   comes from the view;
3. *per node* — directives are evaluated from what was read.

Directive semantics follow xCAT's ``Template.pm`` (see the reference, §6.2).
Values substituted from tables are not scanned for directives again.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xcatpy.errors import XcatError
from xcatpy.provision import cryptpw
from xcatpy.store.schema import get_table

__all__ = [
    "Rendered",
    "TemplateError",
    "candidate_names",
    "find_template",
    "platform_of",
    "render",
    "render_nodes",
    "templates_dir",
]

MAX_INCLUDE_DEPTH = 32
COMMAND_TIMEOUT = 30.0
_COMMAND_OUTPUT_LIMIT = 4 * 1024 * 1024


class TemplateError(XcatError):
    """A template problem at ``file``:``line`` (``what`` says what is wrong)."""

    def __init__(self, file: str | Path, line: int, what: str) -> None:
        self.file = str(file)
        self.line = line
        self.what = what
        super().__init__(f"{self.file}:{line}: {what}")


@dataclass(frozen=True)
class Rendered:
    """One node's outcome: ``text`` when rendered, else ``error``."""

    node: str
    text: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# ---------------------------------------------------------------------------
# Where templates are
# ---------------------------------------------------------------------------

def templates_dir() -> Path:
    """The shipped templates: ``$XCATPY_SHAREDIR/templates``, else the source
    tree's ``share/templates``, else ``<prefix>/share/xcatpy/templates``."""
    env = os.environ.get("XCATPY_SHAREDIR")
    if env:
        return Path(env) / "templates"
    here = Path(__file__).resolve().parents[2] / "share" / "templates"
    if here.is_dir():
        return here
    return Path(sys.prefix) / "share" / "xcatpy" / "templates"


_PLATFORMS = (
    # (os name prefix, platform directory), longest prefixes first where they overlap
    ("rhels", "rh"), ("rhel", "rh"), ("rhcos", "rh"), ("centos", "centos"),
    ("rocky", "rocky"), ("alma", "alma"), ("ol", "ol"), ("fedora", "fedora"),
    ("SL", "SL"), ("sles", "sles"), ("sle", "sles"), ("ubuntu", "ubuntu"),
    ("debian", "debian"), ("esxi", "esxi"), ("esx", "esx"), ("windows", "windows"),
    ("win", "windows"), ("hyperv", "windows"),
)


def platform_of(os_name: str) -> str | None:
    """The template directory for ``nodetype.os`` (``rhels9.4`` → ``rh``)."""
    for prefix, platform in _PLATFORMS:
        if os_name.startswith(prefix):
            return platform
    return None


_OSVER = re.compile(r"^(?P<name>[A-Za-z]+?)(?P<major>\d+)(?:\.(?P<minor>\d+))?")


def candidate_names(profile: str, os_name: str, arch: str, ext: str = "tmpl") -> list[str]:
    """File names tried in each directory, in xCAT's order (``SvrUtils::get_file_name``):
    profile.os.arch, profile.os, profile.genos.arch, profile.genos, then each
    lower minor release of the same major (rhels9.4 → rhels9.3 … rhels9.0,
    rhels9), then profile.arch and profile."""
    names: list[str] = []

    def add(*parts: str) -> None:
        name = ".".join(p for p in (profile, *parts) if p) + f".{ext}"
        if name not in names:
            names.append(name)

    if os_name:
        add(os_name, arch)
        add(os_name)
        m = _OSVER.match(os_name)
        if m:
            genos = m["name"] + m["major"]
            add(genos, arch)
            add(genos)
            if m["minor"] is not None:
                width = len(m["minor"])
                for minor in range(int(m["minor"]), -1, -1):
                    base = f"{genos}.{minor:0{width}d}"
                    add(base, arch)
                    add(base)
            add(genos, arch)
            add(genos)
    add(arch)
    add()
    return names


def find_template(
    profile: str,
    os_name: str,
    arch: str,
    *,
    ext: str = "tmpl",
    template: str | Path | None = None,
    installdir: str | Path | None = None,
    sharedir: str | Path | None = None,
    platform: str | None = None,
) -> Path | None:
    """The template (or ``.pkglist`` etc. with ``ext``) for a node, or None.

    ``template`` (``linuximage.template``) wins when readable; then
    ``<installdir>/custom/install/<platform>/`` and the shipped
    ``templates/<platform>/``, each searched with :func:`candidate_names`.
    """
    if template:
        p = Path(template)
        if p.is_file() and os.access(p, os.R_OK):
            return p
    platform = platform or platform_of(os_name or "")
    if not profile or not platform:
        return None
    if installdir is None:
        from xcatpy.paths import Paths

        installdir = Paths.from_env().installdir
    dirs = [Path(installdir) / "custom" / "install" / platform,
            Path(sharedir or templates_dir()) / platform]
    names = candidate_names(profile, os_name, arch, ext)
    for d in dirs:
        for name in names:
            p = d / name
            if p.is_file() and os.access(p, os.R_OK):
                return p
    return None


# ---------------------------------------------------------------------------
# Node-independent stage: includes, NOP blocks, commands
# ---------------------------------------------------------------------------

Line = tuple[str, str, int]  # text, file, line number

_INCLUDE = re.compile(
    r"#(?P<kind>INCLUDE|INCLUDE_NOP|INCLUDE_PKGLIST|INCLUDE_PTRNLIST|INCLUDE_RMPKGLIST)"
    r":(?P<path>(?:#ENV:[^#]+#|[^#])+)#"
)
_DEFAULT_PKGLIST = re.compile(
    r"#INCLUDE_DEFAULT_(?P<what>PKGLIST|PKGLIST_S|PTRNLIST_S|RMPKGLIST_S|PKGLIST_PRESEED)#"
)
_ENV_IN_PATH = re.compile(r"#ENV:([^#]+)#")
_SHELL_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_COMMAND = re.compile(r"#COMMAND:([^#]+)#")
_MARK = "\x00"


def _kind_of(kind: str) -> str:
    return {"INCLUDE_PKGLIST": "pkg", "INCLUDE_PTRNLIST": "ptrn",
            "INCLUDE_RMPKGLIST": "rm"}.get(kind, kind)


class _Expander:
    """Includes, recursively; NOP contents and commands set aside as markers."""

    def __init__(self, env: Mapping[str, str], command_timeout: float) -> None:
        self.env = env
        self.command_timeout = command_timeout
        self.blocks: list[str] = []
        self._commands: dict[str, int] = {}

    def mark(self, text: str) -> str:
        self.blocks.append(text)
        return f"{_MARK}{len(self.blocks) - 1}{_MARK}"

    def resolve(self, raw: str, base: str) -> Path:
        raw = _ENV_IN_PATH.sub(lambda m: self.env.get(m[1], ""), raw)
        raw = _SHELL_VAR.sub(lambda m: self.env.get(m[1] or m[2], ""), raw).strip()
        p = Path(raw)
        if not p.is_absolute():
            p = Path(base).parent / p
        return Path(os.path.normpath(p))

    def read(self, path: Path, at: Line) -> str:
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            raise TemplateError(at[1], at[2], f"cannot open {path}") from None

    def load(self, path: Path, kind: str, stack: tuple[Path, ...], at: Line) -> list[Line]:
        real = path.resolve()
        if real in stack:
            chain = " -> ".join(str(p) for p in (*stack[stack.index(real):], real))
            raise TemplateError(at[1], at[2], f"include loop: {chain}")
        if len(stack) >= MAX_INCLUDE_DEPTH:
            raise TemplateError(at[1], at[2], f"includes nested deeper than {MAX_INCLUDE_DEPTH}")
        text = self.read(path, at)
        lines = [(t, str(path), i) for i, t in enumerate(text.splitlines(), 1)]
        stack = (*stack, real)
        if kind in ("pkg", "ptrn", "rm"):
            return self.pkglist(lines, kind, stack)
        return self.expand(lines, stack)

    def pkglist(self, lines: list[Line], kind: str, stack: tuple[Path, ...]) -> list[Line]:
        """A package list included for AutoYaST: one element per wanted line."""
        out: list[Line] = []
        for line in lines:
            text = line[0].strip()
            m = _INCLUDE.fullmatch(text)
            if m and m["kind"] == "INCLUDE":
                out.extend(self.load(self.resolve(m["path"], line[1]), kind, stack, line))
                continue
            item = text.split("#", 1)[0].strip()
            if not item:
                continue
            if kind == "pkg" and item[0] not in "@-":
                out.append((f"<package>{item}</package>", line[1], line[2]))
            elif kind == "ptrn" and item[0] == "@":
                out.append((f"<pattern>{item[1:].strip()}</pattern>", line[1], line[2]))
            elif kind == "rm" and item[0] == "-":
                out.append((f"<package>{item[1:].strip()}</package>", line[1], line[2]))
        return out

    def expand(self, lines: Iterable[Line], stack: tuple[Path, ...]) -> list[Line]:
        out: list[Line] = []
        for line in lines:
            text, file, num = line
            if "#INCLUDE" not in text:
                out.append(line)
                continue
            cur, cur_file, cur_num = "", file, num
            pos = 0
            for m in _INCLUDE.finditer(text):
                cur += text[pos:m.start()]
                pos = m.end()
                path = self.resolve(m["path"], file)
                if m["kind"] == "INCLUDE_NOP":
                    body = self.read(path, line).replace("$", "\\$").replace("`", "\\`")
                    cur += self.mark(body.rstrip("\n"))
                    continue
                content = self.load(path, _kind_of(m["kind"]), stack, line)
                if not content:
                    continue
                first = content[0]
                if len(content) == 1:
                    cur, cur_file, cur_num = cur + first[0], first[1], first[2]
                    continue
                out.append((cur + first[0], first[1], first[2]))
                out.extend(content[1:-1])
                cur, cur_file, cur_num = content[-1]
            out.append((cur + text[pos:], cur_file, cur_num))
        return out

    def commands(self, lines: list[Line]) -> list[Line]:
        """``#COMMAND:cmd#`` run once per distinct command, output set aside."""
        out: list[Line] = []
        for line in lines:
            if "#COMMAND:" not in line[0]:
                out.append(line)
                continue
            text = _COMMAND.sub(lambda m, ln=line: self.run(m[1], ln), line[0])
            out.append((text, line[1], line[2]))
        return out

    def run(self, command: str, at: Line) -> str:
        if command in self._commands:
            return f"{_MARK}{self._commands[command]}{_MARK}"
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", command], stdin=subprocess.DEVNULL,
                capture_output=True, timeout=self.command_timeout,
                env=dict(self.env), check=False,
            )
        except subprocess.TimeoutExpired:
            raise TemplateError(
                at[1], at[2], f"#COMMAND# did not finish within {self.command_timeout:g} s"
            ) from None
        except OSError as exc:
            raise TemplateError(at[1], at[2], f"#COMMAND# could not run: {exc.strerror}") from None
        output = proc.stdout[:_COMMAND_OUTPUT_LIMIT].decode("utf-8", "replace").rstrip("\n")
        marker = self.mark(output)
        self._commands[command] = len(self.blocks) - 1
        return marker


def _pkglist_items(exp: _Expander, paths: Sequence[Path], at: Line) -> list[str]:
    """Package names of a list (includes followed), for the space-separated form."""
    items: list[str] = []
    for p in paths:
        for text, _f, _n in exp.load(p, "INCLUDE", (), at):
            item = text.split("#", 1)[0].strip()
            if item:
                items.append(item)
    return items


def _default_pkglists(
    lines: list[Line], exp: _Expander, pkglists: Sequence[Path] | None, missing: str
) -> list[Line]:
    out: list[Line] = []
    for line in lines:
        if "#INCLUDE_DEFAULT_" not in line[0]:
            out.append(line)
            continue

        def sub(m: re.Match[str], line: Line = line) -> str:
            if not pkglists:
                raise TemplateError(line[1], line[2], missing)
            what = m["what"]
            if what == "PKGLIST_PRESEED":
                return " ".join(_pkglist_items(exp, pkglists, line))
            kind = {"PKGLIST": "INCLUDE", "PKGLIST_S": "INCLUDE_PKGLIST",
                    "PTRNLIST_S": "INCLUDE_PTRNLIST", "RMPKGLIST_S": "INCLUDE_RMPKGLIST"}[what]
            return "\n".join(f"#{kind}:{p}#" for p in pkglists)

        text = _DEFAULT_PKGLIST.sub(sub, line[0])
        out.extend(exp.expand([(t, line[1], line[2]) for t in text.split("\n")], ()))
    return out


# ---------------------------------------------------------------------------
# Compilation: lines → literal text and directives
# ---------------------------------------------------------------------------

_DIRECTIVE = re.compile(
    r"#(?:"
    r"(?P<tab>TABLE|TABLEBLANKOKAY|CRYPT|CRYPTORLOCKED):(?P<table>[^:#\s]+):(?P<key>[^:#]+):(?P<col>[^:#\s]+)"
    r"|(?P<var>ENV|XCATVAR):(?P<name>[^#\s]+)"
    r"|(?P<bare>HOSTNAME|SHORTNAME|COLONHTTPPORT|KICKSTARTNET|WINTIMEZONE)"
    r"|(?P<nodefn>GETNODEDOMAIN|GETPRINICMAC)(?::(?P<nodearg>[^#]*))?"
    r"|WINPRODKEY:(?P<product>[^#\s]+)"
    r")#"
)


@dataclass
class _Directive:
    kind: str
    file: str
    line: int
    table: str = ""
    key: str = ""
    column: str = ""
    by_node: bool = False
    pairs: tuple[tuple[str, str], ...] = ()
    arg: str = ""

    def fail(self, what: str) -> TemplateError:
        return TemplateError(self.file, self.line, what)


def _parse_pairs(key: str) -> tuple[tuple[str, str], ...] | None:
    pairs = []
    for item in key.split(","):
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            return None
        pairs.append((k.strip(), v.strip()))
    return tuple(pairs)


def _directive(m: re.Match[str], file: str, num: int) -> _Directive:
    if m["tab"]:
        d = _Directive(m["tab"], file, num, table=m["table"], key=m["key"].strip(),
                       column=m["col"])
        try:
            spec = get_table(d.table)
        except XcatError as exc:
            raise d.fail(str(exc)) from None
        if d.column not in spec.columns:
            raise d.fail(f"{d.column} is not a valid column of table {d.table}")
        if d.key in ("$NODE", "THISNODE"):
            if not spec.node_keyed:
                raise d.fail(f"table {d.table} is not keyed by node: use k=v keys")
            d.by_node = True
        else:
            pairs = _parse_pairs(d.key)
            if pairs is None:
                raise d.fail(f"bad key '{d.key}' for table {d.table}: use $NODE or k=v[,k=v]")
            for k, _v in pairs:
                if k not in spec.columns:
                    raise d.fail(f"{k} is not a valid column of table {d.table}")
            d.pairs = pairs
        return d
    if m["var"]:
        return _Directive("ENV", file, num, arg=m["name"])
    if m["bare"]:
        return _Directive(m["bare"], file, num)
    if m["nodefn"]:
        return _Directive(m["nodefn"], file, num, arg=m["nodearg"] or "THISNODE")
    return _Directive("WINPRODKEY", file, num, arg=m["product"])


@dataclass
class _Program:
    parts: list[str | _Directive] = field(default_factory=list)
    error: TemplateError | None = None

    def directives(self) -> Iterable[_Directive]:
        return (p for p in self.parts if isinstance(p, _Directive))


def _compile(lines: list[Line], blocks: Sequence[str]) -> _Program:
    prog = _Program()
    buf: list[str] = []

    def literal(text: str) -> str:
        if _MARK in text:
            text = re.sub(f"{_MARK}(\\d+){_MARK}", lambda m: blocks[int(m[1])], text)
        return text

    for text, file, num in lines:
        if "#" in text:
            pos = 0
            for m in _DIRECTIVE.finditer(text):
                buf.append(literal(text[pos:m.start()]))
                pos = m.end()
                try:
                    d = _directive(m, file, num)
                except TemplateError as exc:
                    prog.error = prog.error or exc
                    continue
                prog.parts.append("".join(buf))
                buf = []
                prog.parts.append(d)
            buf.append(literal(text[pos:]))
        else:
            buf.append(literal(text))
        buf.append("\n")
    prog.parts.append("".join(buf))
    return prog


# ---------------------------------------------------------------------------
# Data read in bulk, and per-node evaluation
# ---------------------------------------------------------------------------

# Columns the built-in directives and the environment need.
_BUILTIN = {
    "noderes": ("xcatmaster", "nfsserver", "tftpserver", "installnic", "primarynic"),
    "nodetype": ("os", "arch", "profile"),
    "hosts": ("ip",),
    "mac": ("mac",),
}
_NEEDS_NETWORKS = {"KICKSTARTNET", "GETNODEDOMAIN"}


class _Data:
    """Everything a render reads, read once for all nodes."""

    def __init__(self, view: Any, nodes: Sequence[str]) -> None:
        self.view = view
        self.nodes = nodes
        self.site: dict[str, str] = dict(view.site)
        self.attrs: Any = None
        self._have: dict[str, set[str]] = {}
        self._rows: dict[str, list[dict[str, str | None]]] = {}
        self._index: dict[tuple[str, tuple[str, ...]], dict[tuple[str, ...], dict[str, Any]]] = {}
        self._networks: list[tuple[Any, dict[str, str | None]]] | None = None
        self._crypt: dict[tuple[str, str], str] = {}

    def read_attributes(self, wanted: Mapping[str, Iterable[str]]) -> None:
        todo = {t: sorted(set(cols) - self._have.get(t, set())) for t, cols in wanted.items()}
        todo = {t: cols for t, cols in todo.items() if cols}
        if not todo:
            return
        result = self.view.attributes(list(self.nodes), todo, ordered=False)
        if self.attrs is None:
            self.attrs = result
        else:
            self.attrs.columns.update(result.columns)
        for t, cols in todo.items():
            self._have.setdefault(t, set()).update(cols)

    def get(self, node: str, table: str, column: str) -> str | None:
        return None if self.attrs is None else self.attrs.get(node, table, column)

    def rows(self, table: str) -> list[dict[str, str | None]]:
        if table not in self._rows:
            from xcatpy.store.attrs import enabled
            from xcatpy.store.rows import read_rows

            self._rows[table] = [r for r in read_rows(self.view.conn, self.view.store, table)
                                 if enabled(r)]
        return self._rows[table]

    def lookup(self, table: str, pairs: Sequence[tuple[str, str]]) -> dict[str, Any] | None:
        if table == "site" and len(pairs) == 1 and pairs[0][0] == "key":
            value = self.site.get(pairs[0][1])
            return None if value is None else {"key": pairs[0][1], "value": value}
        names = tuple(k for k, _v in pairs)
        index = self._index.get((table, names))
        if index is None:
            index = {}
            for row in self.rows(table):
                index.setdefault(tuple(row.get(k) or "" for k in names), row)
            self._index[(table, names)] = index
        return index.get(tuple(v for _k, v in pairs))

    def networks(self) -> list[tuple[Any, dict[str, str | None]]]:
        if self._networks is None:
            nets = []
            for row in self.rows("networks"):
                try:
                    net = ipaddress.ip_network(f"{row.get('net')}/{row.get('mask')}", strict=False)
                except ValueError:
                    continue
                nets.append((net, row))
            self._networks = nets
        return self._networks

    def network_of(self, ip: str | None) -> dict[str, str | None] | None:
        if not ip:
            return None
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for net, row in self.networks():
            if addr.version == net.version and addr in net:
                return row
        return None

    def crypt(self, password: str, method: str | None) -> str:
        """One hash per distinct password and method per render: hashing is
        deliberately slow and every node of a request would get the same
        password anyway (each render draws a fresh random salt)."""
        key = (password, method or "")
        if key not in self._crypt:
            self._crypt[key] = cryptpw.hash_password(password, method)
        return self._crypt[key]


_WINDOWS_ZONES = {
    "UTC": "UTC", "Etc/UTC": "UTC", "GMT": "GMT Standard Time",
    "Europe/London": "GMT Standard Time", "Europe/Dublin": "GMT Standard Time",
    "Europe/Berlin": "W. Europe Standard Time", "Europe/Amsterdam": "W. Europe Standard Time",
    "Europe/Rome": "W. Europe Standard Time", "Europe/Vienna": "W. Europe Standard Time",
    "Europe/Zurich": "W. Europe Standard Time", "Europe/Stockholm": "W. Europe Standard Time",
    "Europe/Paris": "Romance Standard Time", "Europe/Madrid": "Romance Standard Time",
    "Europe/Brussels": "Romance Standard Time", "Europe/Warsaw": "Central European Standard Time",
    "Europe/Prague": "Central Europe Standard Time", "Europe/Budapest": "Central Europe Standard Time",
    "Europe/Athens": "GTB Standard Time", "Europe/Helsinki": "FLE Standard Time",
    "Europe/Moscow": "Russian Standard Time", "Asia/Tokyo": "Tokyo Standard Time",
    "Asia/Shanghai": "China Standard Time", "Asia/Hong_Kong": "China Standard Time",
    "Asia/Singapore": "Singapore Standard Time", "Asia/Kolkata": "India Standard Time",
    "Asia/Seoul": "Korea Standard Time", "Asia/Dubai": "Arabian Standard Time",
    "Australia/Sydney": "AUS Eastern Standard Time", "Australia/Perth": "W. Australia Standard Time",
    "America/New_York": "Eastern Standard Time", "America/Toronto": "Eastern Standard Time",
    "America/Chicago": "Central Standard Time", "America/Denver": "Mountain Standard Time",
    "America/Phoenix": "US Mountain Standard Time", "America/Los_Angeles": "Pacific Standard Time",
    "America/Anchorage": "Alaskan Standard Time", "Pacific/Honolulu": "Hawaiian Standard Time",
    "America/Sao_Paulo": "E. South America Standard Time",
    "America/Mexico_City": "Central Standard Time (Mexico)",
}


def _missing(d: _Directive, key: str) -> TemplateError:
    return d.fail(
        f"Unable to find requested field <{d.column}> from table <{d.table}>, with key <{key}>"
    )


class _Evaluator:
    def __init__(self, data: _Data, env: Mapping[str, str]) -> None:
        self.data = data
        self.env = env
        self.site = data.site

    def xcatmaster(self, node: str) -> str | None:
        return self.data.get(node, "noderes", "xcatmaster") or self.site.get("master") or None

    def node_env(self, node: str) -> dict[str, str]:
        env = dict(self.env)
        master = self.xcatmaster(node)
        if master:
            env.setdefault("XCATMASTER", master)
            env.setdefault("MASTER_IP", master)
            env.setdefault("MASTER", master)
        return env

    def primary_mac(self, node: str) -> str | None:
        value = self.data.get(node, "mac", "mac")
        if not value:
            return None
        first = re.split(r"[|\s]", value.strip(), maxsplit=1)[0]
        return first.split("!", 1)[0] or None

    def render(self, prog: _Program, node: str) -> str:
        if prog.error is not None:
            raise prog.error
        env: dict[str, str] | None = None
        out: list[str] = []
        for part in prog.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            if part.kind == "ENV":
                if env is None:
                    env = self.node_env(node)
                out.append(env.get(part.arg, ""))
            else:
                out.append(self.directive(part, node))
        return "".join(out)

    def table_value(self, d: _Directive, node: str) -> tuple[str | None, str, dict[str, Any] | None]:
        """(value, key as xCAT prints it, the row for k=v lookups)."""
        if d.by_node:
            value = self.data.get(node, d.table, d.column)
            if not value and d.table == "noderes":
                if d.column == "xcatmaster":
                    value = self.site.get("master") or None
                elif d.column in ("nfsserver", "tftpserver"):
                    value = self.xcatmaster(node)
            return value or None, f"node={node}", None
        pairs = [(k, node if v in ("$NODE", "THISNODE") else v.replace("$NODE", node))
                 for k, v in d.pairs]
        row = self.data.lookup(d.table, pairs)
        value = None if row is None else row.get(d.column)
        return value or None, ",".join(f"{k}={v}" for k, v in pairs), row

    def directive(self, d: _Directive, node: str) -> str:
        kind = d.kind
        if kind in ("TABLE", "TABLEBLANKOKAY"):
            value, key, _row = self.table_value(d, node)
            if value is None:
                if kind == "TABLEBLANKOKAY":
                    return ""
                raise _missing(d, key)
            return value
        if kind in ("CRYPT", "CRYPTORLOCKED"):
            value, key, row = self.table_value(d, node)
            user = dict(d.pairs).get("username") or (row or {}).get("username")
            if self.site.get("secureroot") == "1" and user == "root":
                return "*"
            if value is None:
                if kind == "CRYPTORLOCKED":
                    return "*"
                raise _missing(d, key)
            if cryptpw.is_hashed(value):
                return value
            method = (row or {}).get("cryptmethod") or None
            try:
                return self.data.crypt(value, method)
            except ValueError as exc:
                raise d.fail(f"{exc} for table <{d.table}>, key <{key}>") from None
        if kind == "HOSTNAME":
            return node
        if kind == "SHORTNAME":
            return node.split(".", 1)[0]
        if kind == "COLONHTTPPORT":
            port = (self.site.get("httpport") or "").strip()
            return f":{port}" if port and port != "80" else ""
        if kind == "GETNODEDOMAIN":
            return self.domain(node)
        if kind == "GETPRINICMAC":
            mac = self.primary_mac(node)
            if mac is None:
                raise d.fail(
                    f"Unable to find requested field <mac> from table <mac>, with key <node={node}>"
                )
            return mac
        if kind == "KICKSTARTNET":
            return self.kickstartnet(d, node)
        if kind == "WINTIMEZONE":
            tz = (self.site.get("timezone") or "UTC").strip()
            return _WINDOWS_ZONES.get(tz, "UTC")
        if kind == "WINPRODKEY":
            return self.prodkey(d, node)
        raise d.fail(f"unsupported directive #{kind}#")  # pragma: no cover

    def domain(self, node: str) -> str:
        if "." in node:
            return node.split(".", 1)[1]
        net = self.data.network_of(self.data.get(node, "hosts", "ip"))
        if net and net.get("domain"):
            return str(net["domain"])
        return self.site.get("domain") or ""

    def kickstartnet(self, d: _Directive, node: str) -> str:
        """A kickstart ``network`` line: DHCP on the install NIC, or static
        addressing from ``hosts``/``networks`` when ``site.managedaddressmode`` is static."""
        nic = self.data.get(node, "noderes", "installnic") or self.data.get(
            node, "noderes", "primarynic")
        if not nic or nic == "mac":
            nic = self.primary_mac(node) or "link"
        domain = self.domain(node)
        fqdn = node if not domain or "." in node else f"{node}.{domain}"
        if (self.site.get("managedaddressmode") or "dhcp").lower() != "static":
            return f"network --bootproto=dhcp --device={nic} --hostname={fqdn}"
        ip = self.data.get(node, "hosts", "ip")
        if not ip:
            raise d.fail(f"Unable to find requested field <ip> from table <hosts>, with key <node={node}>")
        net = self.data.network_of(ip)
        if net is None:
            raise d.fail(f"no networks row contains {ip}, the IP address of {node}")
        master = self.xcatmaster(node) or ""
        words = [f"network --bootproto=static --device={nic} --ip={ip}",
                 f"--netmask={net.get('mask')}"]
        gateway = (net.get("gateway") or "").replace("<xcatmaster>", master)
        if gateway:
            words.append(f"--gateway={gateway}")
        ns = (net.get("nameservers") or self.site.get("nameservers") or "")
        ns = ns.replace("<xcatmaster>", master)
        if ns:
            words.append(f"--nameserver={ns}")
        words.append(f"--hostname={fqdn}")
        return " ".join(words)

    def prodkey(self, d: _Directive, node: str) -> str:
        chain = (node, *self.data.view.groups_of(node), "")
        best: tuple[int, str] | None = None
        for row in self.data.rows("prodkey"):
            if row.get("product") != d.arg or not row.get("key"):
                continue
            owner = row.get("node") or ""
            if owner in chain:
                rank = chain.index(owner)
                if best is None or rank < best[0]:
                    best = (rank, str(row["key"]))
        if best is None:
            return ""
        return f"<ProductKey><Key>{best[1]}</Key><WillShowUI>OnError</WillShowUI></ProductKey>"


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------

def _base_env(site: Mapping[str, str], extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("XCATROOT", "/opt/xcat")
    env["INSTALLDIR"] = site.get("installdir") or "/install"
    env["HTTPPORT"] = site.get("httpport") or "80"
    env.setdefault("NODESTATUS", site.get("nodestatus") or "y")
    env.update(extra or {})
    return env


def _read_lines(path: Path) -> list[Line]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        raise TemplateError(path, 0, f"cannot open {path}") from None
    return [(t, str(path), i) for i, t in enumerate(text.splitlines(), 1)]


def _osimage_rows(data: _Data, osimage: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    if not osimage:
        return {}, {}
    img = data.lookup("osimage", [("imagename", osimage)]) or {}
    lin = data.lookup("linuximage", [("imagename", osimage)]) or {}
    return img, lin


def render(
    template: str | Path,
    nodes: Sequence[str],
    view: Any,
    *,
    env: Mapping[str, str] | None = None,
    osimage: str | None = None,
    pkglist: str | Sequence[str | Path] | None = None,
    installdir: str | Path | None = None,
    sharedir: str | Path | None = None,
    command_timeout: float = COMMAND_TIMEOUT,
) -> dict[str, Rendered]:
    """Render ``template`` for every node in ``nodes`` (in that order).

    ``view`` is a :class:`~xcatpy.store.attrs.NodeView`.  ``pkglist`` (a path,
    a comma list, or paths; default ``linuximage.pkglist`` of ``osimage``,
    else the ``.pkglist`` found like the template for each node's
    profile/os/arch) feeds ``#INCLUDE_DEFAULT_PKGLIST…#``.  ``env`` adds to
    the environment ``#ENV#`` reads and ``#COMMAND#`` runs with.
    """
    template = Path(template)
    nodes = list(dict.fromkeys(nodes))
    data = _Data(view, nodes)
    base_env = _base_env(data.site, env)
    results: dict[str, Rendered] = {}
    try:
        exp = _Expander(base_env, command_timeout)
        lines = exp.commands(exp.expand(_read_lines(template), (template.resolve(),)))
    except TemplateError as exc:
        return {n: Rendered(n, error=str(exc)) for n in nodes}

    uses_default = any("#INCLUDE_DEFAULT_" in t for t, _f, _n in lines)
    prog = _compile(lines, exp.blocks) if not uses_default else None

    # One bulk read: the template's node-keyed columns and what built-ins need.
    wanted: dict[str, set[str]] = {t: set(c) for t, c in _BUILTIN.items()}
    probe = prog or _compile(lines, exp.blocks)
    for d in probe.directives():
        if d.by_node:
            wanted.setdefault(d.table, set()).add(d.column)
    data.read_attributes(wanted)

    if prog is not None:
        groups: dict[tuple[str, ...], list[str]] = {(): nodes}
        programs = {(): prog}
    else:
        img, lin = _osimage_rows(data, osimage)
        if pkglist is None and lin.get("pkglist"):
            pkglist = str(lin["pkglist"])
        groups = {}
        programs = {}
        fixed: tuple[str, ...] | None = None
        seen: dict[tuple[str, str, str], tuple[str, ...]] = {}
        if pkglist is not None:
            items = pkglist.split(",") if isinstance(pkglist, str) else pkglist
            fixed = tuple(str(p).strip() for p in items if str(p).strip())
        for node in nodes:
            if fixed is not None:
                key = fixed
            else:
                facts = (img.get("profile") or data.get(node, "nodetype", "profile") or "",
                         data.get(node, "nodetype", "os") or "",
                         data.get(node, "nodetype", "arch") or "")
                if facts not in seen:
                    found = find_template(*facts, ext="pkglist",
                                          installdir=installdir, sharedir=sharedir)
                    seen[facts] = (str(found),) if found else ("", *facts)
                key = seen[facts]
            groups.setdefault(key, []).append(node)
        extra: dict[str, set[str]] = {}
        for key in groups:
            if key and key[0] == "":
                _e, profile, os_name, arch = key
                missing = (f"no default package list for profile '{profile}', os '{os_name}', "
                           f"arch '{arch}' (set linuximage.pkglist or add "
                           f"{profile}.{os_name}.pkglist)")
                paths: list[Path] = []
            else:
                missing = "no default package list"
                paths = [Path(p) for p in key]
            try:
                glines = _default_pkglists(lines, exp, paths, missing)
                programs[key] = _compile(glines, exp.blocks)
            except TemplateError as exc:
                programs[key] = _Program(error=exc)
                continue
            for d in programs[key].directives():
                if d.by_node:
                    extra.setdefault(d.table, set()).add(d.column)
        data.read_attributes(extra)

    ev = _Evaluator(data, base_env)
    for key, members in groups.items():
        prog_k = programs[key]
        for node in members:
            try:
                results[node] = Rendered(node, text=ev.render(prog_k, node))
            except TemplateError as exc:
                results[node] = Rendered(node, error=str(exc))
    return {n: results[n] for n in nodes}


def render_nodes(
    nodes: Sequence[str],
    view: Any,
    *,
    osimage: str | None = None,
    env: Mapping[str, str] | None = None,
    installdir: str | Path | None = None,
    sharedir: str | Path | None = None,
    command_timeout: float = COMMAND_TIMEOUT,
) -> dict[str, Rendered]:
    """Find each node's template (:func:`find_template`, ``linuximage.template``
    of ``osimage`` first) and render the nodes in groups sharing a template."""
    nodes = list(dict.fromkeys(nodes))
    data = _Data(view, nodes)
    img, lin = _osimage_rows(data, osimage)
    if osimage and not img and not lin:
        return {n: Rendered(n, error=f"cannot find the osimage {osimage}") for n in nodes}
    attrs = view.attributes(nodes, {"nodetype": ["os", "arch", "profile"]}, ordered=False)
    groups: dict[Path, list[str]] = {}
    results: dict[str, Rendered] = {}
    seen: dict[tuple[str, str, str], Path | None] = {}
    for node in nodes:
        profile = img.get("profile") or attrs.get(node, "nodetype", "profile") or ""
        os_name = img.get("osvers") or attrs.get(node, "nodetype", "os") or ""
        arch = img.get("osarch") or attrs.get(node, "nodetype", "arch") or ""
        facts = (profile, os_name, arch)
        if facts not in seen:
            seen[facts] = find_template(profile, os_name, arch, template=lin.get("template"),
                                        installdir=installdir, sharedir=sharedir)
        found = seen[facts]
        if found is None:
            results[node] = Rendered(node, error=(
                f"no template for profile '{profile}', os '{os_name}', arch '{arch}'"
                + (f" (linuximage.template {lin['template']} is not readable)"
                   if lin.get("template") else "")))
            continue
        groups.setdefault(found, []).append(node)
    for path, members in groups.items():
        results.update(render(path, members, view, env=env, osimage=osimage,
                              installdir=installdir, sharedir=sharedir,
                              command_timeout=command_timeout))
    return {n: results[n] for n in nodes}
