"""mkdef and chdef: create and change object definitions in one transaction."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from xcatpy.commands._util import writing
from xcatpy.commands.context import Context
from xcatpy.commands.objects.cmdline import Target, _expand_nodes, target
from xcatpy.commands.objects.options import _Stop
from xcatpy.noderange import natural_key
from xcatpy.protocol import Request, Response, data, error, warning
from xcatpy.store.defspec import OBJECT_TYPES

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
    from xcatpy.store.objects import plan_for, plan_writes

    opts = run.tgt.opts
    existing = run.catalog.exists(t)
    mode = "plus" if opts.p else "minus" if opts.m else "replace"
    force = run.command == "mkdef" and opts.f
    current = _current(run, t, items, existing, force)
    if t == "network":
        _check_networks(run, items, existing, force)
    plan = plan_for(t)
    capitals: list[str] = []
    for name, attrs in items:
        now = current.get(name, {})
        is_new = name not in existing or force
        delim = _prepare(run, t, name, attrs, now, is_new, name in existing, capitals)
        if delim is None:
            continue
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


def _current(run: _Run, t: str, items: list[tuple[str, dict[str, str]]], existing: set[str],
             force: bool) -> dict[str, dict[str, str]]:
    """The stored values the objects being changed (not replaced) need, one read."""
    old = [n for n, _ in items if n in existing and not force]
    wanted = {a for _, attrs in items for a in attrs}
    wanted = {re.sub(r"^(nic\w+)\..*$", r"\1", a) for a in wanted}
    if t == "group":
        wanted |= {"grouptype", "wherevals"}
    if t == "osimage" and run.tgt.opts.u:
        wanted |= set(_IMAGE_ATTRS)
    return run.catalog.read(t, old, wanted).values if old and wanted else {}


def _prepare(run: _Run, t: str, name: str, attrs: dict[str, str], now: Mapping[str, str],
             is_new: bool, exists: bool, capitals: list[str]) -> str | None:
    """Check one object and complete its attributes before they are planned.

    Returns the list delimiter for its values, or None when it is in error (the
    message is in ``run.errors``).  New node names with capitals go to
    ``capitals``.
    """
    from xcatpy.store.objects import collapse_nics

    opts = run.tgt.opts
    if run.command == "mkdef" and exists and not is_new:
        run.errors += [f"A definition for '{name}' already exists.",
                       "To remove the old definition and replace it with a new definition "
                       "use the force '-f' option.",
                       "To change the existing definition use the 'chdef' command."]
        return None
    if t == "node" and not _node_ok(run, name, attrs, is_new):
        return None
    if t == "node" and is_new and re.search(r"[A-Z]", name):
        capitals.append(name)
    if run.command == "chdef" and opts.m and not exists:
        run.errors.append(f"The '-m' option is not valid since the '{name}' definition "
                          "does not exist.")
        return None
    if t in ("node", "group"):
        collapse_nics(attrs, now)
    delim = ","
    if t == "group":
        if not _group(run, name, attrs, now, is_new):
            return None
        if (now.get("grouptype") or attrs.get("grouptype")) == "dynamic":
            delim = "::"
    if t == "osimage" and opts.u:
        for attr in _IMAGE_ATTRS:
            if attr not in attrs and now.get(attr):
                attrs[attr] = now[attr]
        if not _fill_osimage(run, attrs):
            return None
    if t == "osimage" and is_new and run.command == "chdef" and "imagetype" not in attrs:
        attrs["imagetype"] = "NIM"
    return delim


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
