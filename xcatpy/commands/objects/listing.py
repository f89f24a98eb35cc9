"""lsdef: list object definitions, as names, attributes or stanzas."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from xcatpy.commands._util import reading
from xcatpy.commands.context import Context
from xcatpy.commands.objects.cmdline import Target, target
from xcatpy.commands.objects.options import Opts
from xcatpy.noderange import natural_key
from xcatpy.protocol import Request, Response, data, error, warning
from xcatpy.store.defspec import OBJECT_TYPES

_CHUNK = 2000  # output lines per response


def lines_out(lines: list[str]) -> Iterator[Response]:
    """Output lines in a few large responses rather than one per line."""
    for i in range(0, len(lines), _CHUNK):
        yield data("\n".join(lines[i : i + _CHUNK]))


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
    opts = tgt.opts
    for msg in od.errors:
        out.messages.append(warning(msg))
    if not names:
        if len(tgt.types) > 1 and not tgt.all_types:
            out.messages.append(data(f"Could not find any objects of type '{t}'."))
        return
    shown_attrs = _shown_attrs(t, only, out)
    shown_sorted = sorted(shown_attrs)
    shown_set = set(shown_attrs)
    hidden = set()
    if t == "node" and not opts.S and opts.template is None:
        hidden = catalog.view.hidden_nodes() & set(names)
    exists = catalog.exists(t) if opts.template is None else set(names)
    multi = len(tgt.types) > 1
    lines = out.lines
    shapes: dict[tuple[str, ...], tuple[list[str], bool]] = {}
    plain_only = (only is not None and not opts.V and t not in ("site", "monitoring")
                  and not (t in ("node", "group") and any(a.startswith("nic") for a in shown_sorted)))
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
            if plain_only:
                # -i without nic attributes: every asked attribute, empty or not
                prefix = f"{obj}: " if opts.c else "    "
                lines += [f"{prefix}{a}={values.get(a) or ''}" for a in shown_sorted]
                if opts.osimage and t == "node":
                    lines += _osimage_lines(catalog, values)
                continue
            attrlist = shown_sorted
        else:
            # Objects of a type mostly have the same attributes: sort each set once.
            shape = tuple(values)
            known = shapes.get(shape)
            if known is None:
                known = shapes[shape] = _shape(t, shape, shown_set)
            attrlist, simple = known
            if simple and not opts.V:
                lines += [f"    {a}={v}" for a in attrlist if (v := values[a])]
                if opts.osimage and t == "node":
                    lines += _osimage_lines(catalog, values)
                continue
        sources = od.sources.get(obj, {}) if opts.V else {}
        lines += _attr_lines(opts, t, obj, attrlist, values, sources, only, nic_only)
        if opts.osimage and t == "node":
            lines += _osimage_lines(catalog, values)


def _shape(t: str, attrs: tuple[str, ...], shown: set[str]) -> tuple[list[str], bool]:
    """The attributes of ``attrs`` to print, sorted, and whether each prints as a
    plain ``attr=value`` line (no nic expansion, no group members)."""
    attrlist = sorted(a for a in attrs if a in shown)
    simple = not (t in ("node", "group") and any(a.startswith("nic") for a in attrlist))
    simple = simple and not (t == "group" and "members" in attrlist)
    return attrlist, simple


def _shown_attrs(t: str, only: list[str] | None, out: _Listing) -> list[str]:
    """The attributes ``-i`` asks for that the type has (the others are errors),
    else all but the key; none for site and monitoring, whose keys are free."""
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
    return shown_attrs


def _attr_lines(opts: Opts, t: str, obj: str, attrlist: list[str], values: Mapping[str, str],
                sources: Mapping[str, Any], only: list[str] | None,
                nic_only: dict[str, list[str]]) -> list[str]:
    """The ``attr=value`` lines of one object; with ``-i`` empty values are shown too."""
    from xcatpy.store.objects import expand_nics

    lines: list[str] = []
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
    return lines


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
