"""xCAT noderange syntax: parse, expand and fold node lists (stdlib only, pure).

:func:`expand` and :func:`expand_names` live here; :func:`fold` and
:func:`natural_key` come from :mod:`xcatpy._rangefold` and are re-exported.

Grammar and precedence (from loosest to tightest binding), as in xCAT's
``NodeRange.pm``, where ``,`` is split first and each piece holding an ``@`` is
evaluated as its own intersection chain::

    noderange := term ("," term)*             union; empty terms are ignored
    term      := ["-"] chain                  "-" marks an exclusion
    chain     := factor ("@" ["-"] factor)*   intersection, left to right
    factor    := "(" noderange ")" | "^" path | atom

* ``,`` is a union.  Every ``-term`` of one level (the whole text, or one pair of
  parentheses) is subtracted only after all inclusions of that level, wherever
  it stands: ``-n5,all`` equals ``all,-n5``.
* ``@`` binds tighter than ``,``: ``a,b@c`` is ``a | (b & c)``, and the leading
  ``-`` of a term covers its whole chain: ``all,-rack1@gpu`` removes
  ``rack1 & gpu``.  ``a@-b`` inside a chain means ``a - b`` (xCAT silently
  ignored that minus; here it does what it says).
* Parentheses group: ``all,-(rack1,rack2)``, ``(a,b)@c``, nested freely (up to
  a fixed depth, which also bounds ``^file`` inclusion).
* ``^path`` reads a file; the path ends at the next top-level ``,`` or ``@``.

Atoms, tried in this order: an existing node name; a group; an attribute
selector (``nodehm.mgt==ipmi``, see :func:`parse_selector`); ``/regex``
(anchored full match against every node name); bracket sets ``n[01-10,15]``
(several dimensions, left to right, values kept literally as ClusterShell
does, so ``[1-3]`` is ``1,2,3``); bare numbers (``5`` -> ``node5`` with the
configured prefix and suffix); ``n10+3``; ``a:b`` ranges; ``a-b`` ranges; else a
plain name.  Names produced by ``-``, ``:``, ``+`` ranges and brackets are then
looked up as nodes or groups, so ``rack1-rack3`` expands three groups.

A ``-`` range is split at its middle dash (an even number of dashes is never a
range); when the two sides do not differ in exactly one number, the atom is a
plain name, as in xCAT.  A ``:`` range that does not line up is an error.  Once
the two sides do line up, reversed bounds or inconsistent zero padding are
errors for both forms.

The result is de-duplicated and sorted with :func:`natural_key`; xCAT itself
sorts lexically, but every consumer here wants ``n2`` before ``n10``.

Regular expressions (``/re`` and the ``=~``/``!~`` selectors) are the user's
own patterns, run by Python's backtracking engine against node names; the
parser itself only uses linear-time patterns on user text.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

from xcatpy._rangefold import ALL_DIGITS as _ALL_DIGITS
from xcatpy._rangefold import DIGITS as _DIGITS
from xcatpy._rangefold import dash_split, fold, line_up, natural_key, padding
from xcatpy.errors import NoderangeError

__all__ = [
    "Expansion",
    "Resolver",
    "expand",
    "expand_names",
    "fold",
    "natural_key",
    "parse_selector",
]

_MAX_DEPTH = 32  # nested parentheses plus ^file inclusions
_MAX_FILES = 256  # ^file reads per expansion, so files naming files cannot fan out forever
_ATTR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?")
_SELECTOR_OPS = ("==", "=~", "!=", "!~", "=")
_FILE_TOKEN = re.compile(r"[^:\t ]*")
_SPLIT_CHARS = {",": re.compile(r"[\[\](),]"), "@": re.compile(r"[\[\]()@]")}


class Resolver(Protocol):
    """What expansion needs to know about the cluster; the store implements it."""

    def all_nodes(self) -> Collection[str]:
        """Every defined node name."""
        ...

    def group_members(self, name: str) -> Collection[str] | None:
        """Members of the static or dynamic group ``name``; None if it is no group."""
        ...

    def select(self, attr: str, op: str, value: str) -> Collection[str]:
        """Nodes whose ``attr`` (``table.column`` or a shortname) matches.

        ``op`` is one of ``==``, ``=``, ``!=``, ``=~``, ``!~``; the value of the
        regex operators may be written ``/re/``.  The resolver validates ``attr``.
        """
        ...

    def exclude_nodes(self) -> str:
        """The text of ``site.excludenodes`` ("" if unset), itself a noderange."""
        ...


@dataclass(frozen=True)
class Expansion:
    """Result of :func:`expand`."""

    nodes: list[str]
    """De-duplicated node names, sorted with :func:`natural_key`."""
    missing: list[str]
    """Atoms and names that are neither nodes nor groups, in the order met."""


def _err(part: str, reason: str) -> NoderangeError:
    return NoderangeError(f"Invalid noderange fragment {part!r}: {reason}", part)


# --------------------------------------------------------------------------- #
# public helpers


def parse_selector(atom: str) -> tuple[str, str, str] | None:
    """Split an attribute selector into ``(attr, op, value)``.

    ``attr`` is an identifier, optionally ``table.column``; ``op`` is the first
    of ``==``, ``=~``, ``!=``, ``!~``, ``=`` found right after it; ``value`` is
    the rest, unchanged (it may be empty, or a ``/regex/``).  Returns None when
    ``atom`` is not a selector.  Whether ``attr`` exists is the resolver's call.
    """
    m = _ATTR.match(atom)
    if m is None:
        return None
    rest = atom[m.end() :]
    for op in _SELECTOR_OPS:
        if rest.startswith(op):
            return (m.group(), op, rest[len(op) :])
    return None


def expand_names(text: str) -> list[str]:
    """Expand ``text`` syntactically, without any node database.

    Names are taken literally (no verification); returns the de-duplicated
    names sorted with :func:`natural_key`.  Raises :class:`NoderangeError` on
    bad syntax and on forms that need a database (``/regex``, selectors).
    """
    return expand(text, None, verify=False).nodes


def expand(
    text: str,
    resolver: Resolver | None = None,
    *,
    verify: bool = True,
    node_prefix: str = "node",
    node_suffix: str = "",
    cwd: str | None = None,
    limit: int = 1_000_000,
) -> Expansion:
    """Expand the noderange ``text`` (see the module docstring for the syntax).

    With a ``resolver``, names are checked against it: a node stands for
    itself, a group for its members, and anything else is reported in
    ``missing`` (``verify=True``) or kept as a node name (``verify=False``).
    ``site.excludenodes`` from the resolver is always subtracted.  Without a
    resolver, names are taken literally and ``missing`` is empty.

    ``node_prefix``/``node_suffix`` wrap bare numbers; ``cwd`` anchors relative
    ``^file`` paths (default: the process directory).  Generating more than
    ``limit`` names in total from ranges, brackets and increments raises.

    Raises :class:`NoderangeError` (with ``.part``) on bad syntax, unreadable
    files, too many names, or an unusable ``site.excludenodes``.
    """
    ctx = _Context(resolver, verify, node_prefix, node_suffix, cwd, limit)
    nodes = ctx.eval_range(text, 0)
    if resolver is not None:
        excluded = resolver.exclude_nodes() or ""
        if excluded.strip():
            sub = _Context(resolver, False, node_prefix, node_suffix, cwd, limit)
            sub.all_nodes = ctx.all_nodes
            try:
                drop = sub.eval_range(excluded, 0)
            except NoderangeError as exc:
                raise NoderangeError(f"site.excludenodes: {exc.message}", exc.part) from exc
            nodes = {n: None for n in nodes if n not in drop}
    ordered = sorted(nodes, key=natural_key)
    return Expansion(ordered, list(ctx.missing) if verify and resolver is not None else [])


# --------------------------------------------------------------------------- #
# splitting


def _unquote(text: str) -> str:
    """Strip spaces and one pair of surrounding quotes (only if they are the only ones)."""
    text = text.strip()
    if len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0] and text.count(text[0]) == 2:
        text = text[1:-1].strip()
    return text


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside brackets and parentheses; check their balance.

    Bracket contents are opaque (a regex class like ``[(]`` is fine).
    """
    parts: list[str] = []
    start = 0
    depth = 0
    pos = 0
    finder = _SPLIT_CHARS[sep]
    while True:
        m = finder.search(text, pos)
        if m is None:
            break
        i = m.start()
        c = text[i]
        pos = i + 1
        if c == "[":
            close = text.find("]", pos)
            if close < 0:
                raise _err(text[start:].strip(), "unbalanced '['")
            pos = close + 1
        elif c == "]" or (c == ")" and depth == 0):
            raise _err(_segment(text, start, sep), f"unbalanced '{c}'")
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0:
            parts.append(text[start:i])
            start = pos
    if depth:
        raise _err(text[start:].strip(), "unbalanced '('")
    parts.append(text[start:])
    return parts


def _segment(text: str, start: int, sep: str) -> str:
    end = text.find(sep, start)
    return text[start : end if end >= 0 else len(text)].strip()


def _paren_end(factor: str) -> int:
    """Index of the ``)`` closing the ``(`` at ``factor[0]`` (balance already checked)."""
    depth = 0
    i = 0
    while i < len(factor):
        c = factor[i]
        if c == "[":
            i = factor.find("]", i + 1)
            if i < 0:
                break
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise _err(factor, "unbalanced '('")


# --------------------------------------------------------------------------- #
# numbers and ranges


def _int(digits: str, part: str) -> int:
    if len(digits) > 1000:
        raise _err(part, "number too large")
    return int(digits)


def _bounds(lo_s: str, hi_s: str, part: str) -> tuple[int, int, int]:
    """Check one numeric range; returns ``(low, high, padding width)``.

    The padding comes from the lower bound; an upper bound may only be longer
    than a padded lower bound when it is not padded itself (``01-100``).
    """
    pad, hi_pad = padding(lo_s), padding(hi_s)
    if (hi_pad and len(hi_s) != len(lo_s)) or (pad and len(hi_s) < len(lo_s)):
        raise _err(part, f"padding mismatch in {lo_s}-{hi_s}")
    lo, hi = _int(lo_s, part), _int(hi_s, part)
    if lo > hi:
        raise _err(part, f"reversed range {lo_s}-{hi_s}")
    return lo, hi, pad


def _numbered(prefix: str, lo: int, hi: int, pad: int, suffix: str, step: int = 1) -> list[str]:
    if pad > 1:
        return [prefix + str(i).zfill(pad) + suffix for i in range(lo, hi + 1, step)]
    return [prefix + str(i) + suffix for i in range(lo, hi + 1, step)]


# --------------------------------------------------------------------------- #
# evaluation


class _Context:
    """State of one expansion: settings, caches, budget and findings."""

    def __init__(
        self,
        resolver: Resolver | None,
        verify: bool,
        prefix: str,
        suffix: str,
        cwd: str | None,
        limit: int,
    ) -> None:
        self.resolver = resolver
        self.verify = verify
        self.prefix = prefix
        self.suffix = suffix
        self.cwd = cwd
        self.limit = limit
        self.budget = limit
        self.missing: dict[str, None] = {}
        self.files: list[str] = []
        self.file_reads = 0
        self.all_nodes: Collection[str] | None = None

    # -- lookups ------------------------------------------------------------ #

    def nodes(self) -> Collection[str]:
        if self.all_nodes is None:
            assert self.resolver is not None
            found = self.resolver.all_nodes()
            self.all_nodes = found if isinstance(found, set | frozenset) else frozenset(found)
        return self.all_nodes

    def lookup(self, name: str) -> dict[str, None] | None:
        """A node as itself, a group as its members, None if neither."""
        if name in self.nodes():
            return {name: None}
        assert self.resolver is not None
        members = self.resolver.group_members(name)
        return None if members is None else dict.fromkeys(members)

    def resolve(self, names: Iterable[str], *, bare: bool = True) -> dict[str, None]:
        """Look up generated names; with ``bare``, all-digit names get prefix/suffix."""
        if bare:
            names = [self._bare(n) for n in names]
        if self.resolver is None:
            return dict.fromkeys(names)
        out: dict[str, None] = {}
        nodes = self.nodes()
        for name in names:
            if name in nodes:
                out[name] = None
                continue
            found = self.lookup(name)
            if found is not None:
                out.update(found)
            elif self.verify:
                self.missing[name] = None
            else:
                out[name] = None
        return out

    def _bare(self, name: str) -> str:
        return self.prefix + name + self.suffix if _ALL_DIGITS(name) else name

    def take(self, count: int, part: str) -> None:
        """Spend ``count`` names of the budget or raise."""
        if count > self.budget:
            raise _err(part, f"too many nodes (more than {self.limit})")
        self.budget -= count

    # -- grammar ------------------------------------------------------------ #

    def eval_range(self, text: str, depth: int) -> dict[str, None]:
        if depth > _MAX_DEPTH:
            raise _err(text, f"nested deeper than {_MAX_DEPTH} levels")
        included: dict[str, None] = {}
        excluded: dict[str, None] = {}
        for raw in _split_top(_unquote(text), ","):
            term = _unquote(raw)
            if not term:
                continue
            target = included
            if term[0] == "-":
                target = excluded
                term = _unquote(term[1:])
                if not term:
                    raise _err(raw.strip(), "nothing after '-'")
            target.update(self.eval_chain(term, depth))
        if excluded:
            return {n: None for n in included if n not in excluded}
        return included

    def eval_chain(self, term: str, depth: int) -> dict[str, None]:
        factors = _split_top(term, "@")
        if len(factors) == 1:
            return self.eval_factor(term, depth)
        acc: dict[str, None] | None = None
        for i, raw in enumerate(factors):
            factor = _unquote(raw)
            negate = i > 0 and factor.startswith("-")
            if negate:
                factor = _unquote(factor[1:])
            if not factor:
                raise _err(term, "empty operand of '@'")
            found = self.eval_factor(factor, depth)
            if acc is None:
                acc = found
            elif negate:
                acc = {n: None for n in acc if n not in found}
            else:
                acc = {n: None for n in acc if n in found}
        assert acc is not None
        return acc

    def eval_factor(self, factor: str, depth: int) -> dict[str, None]:
        if factor[0] == "(":
            end = _paren_end(factor)
            if end != len(factor) - 1:
                raise _err(factor, "unexpected text after ')'")
            inner = factor[1:-1]
            if not inner.strip():
                raise _err(factor, "empty parentheses")
            return self.eval_range(inner, depth + 1)
        if factor[0] == "^":
            return self.eval_file(factor, depth)
        return self.eval_atom(factor)

    def eval_file(self, factor: str, depth: int) -> dict[str, None]:
        """One noderange per line: the first token, up to a space, tab or colon."""
        path = factor[1:].strip()
        if not path:
            raise _err(factor, "no file name after '^'")
        if self.cwd and not os.path.isabs(path):
            path = os.path.join(self.cwd, path)
        if path in self.files:
            raise _err(factor, f"file {path} includes itself")
        self.file_reads += 1
        if self.file_reads > _MAX_FILES:
            raise _err(factor, f"more than {_MAX_FILES} files read")
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise NoderangeError(f"Cannot read noderange file {path}: {reason}", factor) from exc
        out: dict[str, None] = {}
        self.files.append(path)
        try:
            for line in lines:
                if line.startswith(("#", "^")):
                    continue
                m = _FILE_TOKEN.match(line)
                token = m.group() if m else ""
                if token.strip():
                    out.update(self.eval_range(token, depth + 1))
        finally:
            self.files.pop()
        return out

    def eval_atom(self, atom: str) -> dict[str, None]:
        if self.resolver is not None:
            found = self.lookup(atom)
            if found is not None:
                return found
        selector = parse_selector(atom)
        if selector is not None:
            if self.resolver is None:
                raise _err(atom, "attribute selection needs the node database")
            return dict.fromkeys(self.resolver.select(*selector))
        if atom[0] == "/":
            return self.eval_regex(atom)
        if "[" in atom or "]" in atom:
            return self.resolve(self.brackets(atom), bare=False)
        if "(" in atom or ")" in atom:
            raise _err(atom, "unexpected parenthesis")
        if _ALL_DIGITS(atom):
            return self.resolve([atom])
        if "+" in atom:
            return self.resolve(self.increment(atom))
        if ":" in atom:
            left, sep, right = atom.partition(":")
            if ":" in right or not left or not right:
                raise _err(atom, "a ':' range needs exactly two names")
            names = self.between(left, right, atom, strict=True)
            assert names is not None
            return self.resolve(names)
        if "-" in atom:
            names = self.dash_range(atom)
            if names is not None:
                return self.resolve(names)
        if self.resolver is None:
            return {atom: None}
        if self.verify:
            self.missing[atom] = None
            return {}
        return {atom: None}

    def eval_regex(self, atom: str) -> dict[str, None]:
        if self.resolver is None:
            raise _err(atom, "a regular expression needs the node database")
        try:
            pattern = re.compile(atom[1:])
        except re.error as exc:
            raise _err(atom, f"invalid regular expression: {exc}") from exc
        return {n: None for n in self.nodes() if pattern.fullmatch(n)}

    # -- name generators ---------------------------------------------------- #

    def dash_range(self, atom: str) -> list[str] | None:
        """``a-b`` split at the middle dash; None if it is no range (a plain name)."""
        split = dash_split(atom)
        return None if split is None else self.between(*split, atom, strict=False)

    def between(self, left: str, right: str, part: str, *, strict: bool) -> list[str] | None:
        """Names from ``left`` to ``right``, which may differ in one number only.

        When they do not line up: None, or with ``strict`` a NoderangeError.
        """
        lined = line_up(left, right)
        if lined is None:
            if strict:
                raise _err(part, "the two ends must differ in exactly one number")
            return None
        prefix, lo_s, hi_s, suffix = lined
        lo, hi, pad = _bounds(lo_s, hi_s, part)
        self.take(hi - lo + 1, part)
        return _numbered(prefix, lo, hi, pad, suffix)

    def increment(self, atom: str) -> list[str]:
        """``name10+3`` -> name10..name13; the number is the one before the end or a '.'."""
        front, _, count = atom.partition("+")
        if not front or not _ALL_DIGITS(count):
            raise _err(atom, "expected name+count")
        for m in _DIGITS.finditer(front):
            if m.end() == len(front) or front[m.end()] == ".":
                break
        else:
            raise _err(atom, "no number before '+'")
        digits = m.group()
        if len(count) > 18:
            raise _err(atom, f"too many nodes (more than {self.limit})")
        lo = _int(digits, atom)
        extra = int(count)
        self.take(extra + 1, atom)
        return _numbered(front[: m.start()], lo, lo + extra, len(digits), front[m.end() :])

    def brackets(self, atom: str) -> list[str]:
        """Expand every ``[...]`` of ``atom``, left to right (a product)."""
        texts: list[str] = []
        specs: list[list[tuple[int, int, int, int] | str]] = []
        pos = 0
        while True:
            opening, closing = atom.find("[", pos), atom.find("]", pos)
            if opening < 0 or 0 <= closing < opening:
                if closing >= 0:
                    raise _err(atom, "unbalanced ']'")
                texts.append(atom[pos:])
                break
            if closing < 0:
                raise _err(atom, "unbalanced '['")
            inner = atom[opening + 1 : closing]
            if "[" in inner:
                raise _err(atom, "nested '['")
            texts.append(atom[pos:opening])
            specs.append(_bracket_items(inner, atom))
            pos = closing + 1
        total = 1
        for spec in specs:
            total *= sum(1 if isinstance(s, str) else (s[1] - s[0]) // s[3] + 1 for s in spec)
            if total > self.budget:
                break
        self.take(total, atom)
        names = [texts[0]]
        for spec, text in zip(specs, texts[1:], strict=True):
            heads, names = names, []
            for item in spec:
                if isinstance(item, str):
                    names.extend(head + item + text for head in heads)
                else:
                    lo, hi, pad, step = item
                    for head in heads:
                        names.extend(_numbered(head, lo, hi, pad, text, step))
        return names


def _bracket_items(inner: str, part: str) -> list[tuple[int, int, int, int] | str]:
    """Parse ``1-3,7,09:11,0-6/2``: single values kept verbatim, ranges as tuples."""
    if not inner.strip():
        raise _err(part, "empty brackets")
    items: list[tuple[int, int, int, int] | str] = []
    for raw in inner.split(","):
        item = raw.strip()
        base, slash, step_s = item.partition("/")
        base = base.strip()
        for sep in "-:":
            lo_s, found, hi_s = base.partition(sep)
            if found:
                break
        lo_s, hi_s = lo_s.strip(), hi_s.strip()
        if not found:
            if slash or not _ALL_DIGITS(base):
                raise _err(part, f"bad range {item!r} in brackets")
            items.append(base)
            continue
        step_s = step_s.strip()
        if not (_ALL_DIGITS(lo_s) and _ALL_DIGITS(hi_s)) or (slash and not _ALL_DIGITS(step_s)):
            raise _err(part, f"bad range {item!r} in brackets")
        step = _int(step_s, part) if slash else 1
        if step < 1:
            raise _err(part, f"bad step in {item!r}")
        lo, hi, pad = _bounds(lo_s, hi_s, part)
        items.append((lo, hi, pad, step))
    return items


if __name__ == "__main__":  # quick timing check: python -m xcatpy.noderange
    import random
    import time

    sample = [f"n{i:05d}" for i in range(1, 10_001)]
    random.shuffle(sample)
    for label, text in (
        ("fold 10,000 shuffled names", None),
        ("expand n[00001-10000]", "n[00001-10000]"),
    ):
        best = float("inf")
        for _ in range(5):
            began = time.perf_counter()
            if text is None:
                fold(sample)
            else:
                expand_names(text)
            best = min(best, time.perf_counter() - began)
        sys.stdout.write(f"{label}: {best * 1000:.1f} ms\n")
