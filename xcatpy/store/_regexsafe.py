"""Refuse regex patterns that would make a backtracking matcher slow.

Used by :mod:`xcatpy.store.regexval` on every pattern of a table value, after
translation to :mod:`re` syntax: :func:`check_backtracking` walks the tree of
the stdlib parser and raises :class:`~xcatpy.store._regexbase.Fail` for
nested or adjacent overlapping quantifiers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from re import _constants as _sc  # the stdlib parser: the only way to see a pattern's tree
from typing import Any, NamedTuple

from xcatpy.store._regexbase import MAX_NODE_LEN, Fail

__all__ = ["check_backtracking"]

# A backtracking matcher is slow when the same text can be split between
# quantifiers in many ways.  The check walks the pattern tree and models it
# as a sequence of items, each with the set of characters it can consume.
# Variable-width items whose character sets overlap, with nothing mandatory
# and disjoint between them, form a "chain"; every item that joins a chain
# multiplies the number of ways to split the text by its own number of
# widths.  The product over the whole pattern must stay within one factor of
# the input length (so ``\d*\d*x`` passes and ``\d*\d*\d*x`` does not).
# A repeated body that is itself ambiguous, or whose iterations can trade
# text with each other (``(a+)+``, ``(a|aa)*``, ``(\w+\s?)+``), is
# exponential and refused unless the repeat count is small.

_CAP = MAX_NODE_LEN + 1  # most widths an item can take on a node name
_MAX_CHAINS = 256
Chars = tuple[tuple[int, int], ...]
_ALL: Chars = ((0, 0x10FFFF),)
_DIGIT: Chars = ((48, 57),)
_SPACE: Chars = ((9, 13), (32, 32))
_WORD: Chars = ((48, 57), (65, 90), (95, 95), (97, 122))
_CATEGORY: dict[Any, Chars] = {
    _sc.CATEGORY_DIGIT: _DIGIT,
    _sc.CATEGORY_SPACE: _SPACE,
    _sc.CATEGORY_WORD: _WORD,
    _sc.CATEGORY_NOT_DIGIT: ((0, 47), (58, 0x10FFFF)),
    _sc.CATEGORY_NOT_SPACE: ((0, 8), (14, 31), (33, 0x10FFFF)),
    _sc.CATEGORY_NOT_WORD: ((0, 47), (58, 64), (91, 94), (96, 96), (123, 0x10FFFF)),
}


class _Item(NamedTuple):
    chars: Chars  # every character the item can consume
    first: Chars  # characters it can start with
    variable: bool  # it can match several widths or in several ways
    factor: int  # how many
    nullable: bool  # it can match the empty string
    amb: int  # ways its inside can split one piece of text
    cost: int = 1  # work of an atomic part (lookaround), once per way of reaching it


def _norm(ranges: Sequence[tuple[int, int]]) -> Chars:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _inter(a: Chars, b: Chars) -> Chars:
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _complement(a: Chars) -> Chars:
    out, nxt = [], 0
    for lo, hi in a:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= 0x10FFFF:
        out.append((nxt, 0x10FFFF))
    return tuple(out)


def _fold(a: Chars) -> Chars:
    """Close a set under ASCII case (the only folding ``re.ASCII`` does)."""
    extra = [(lo + 32, hi + 32) for lo, hi in _inter(a, ((65, 90),))]
    extra += [(lo - 32, hi - 32) for lo, hi in _inter(a, ((97, 122),))]
    return _norm(list(a) + extra)


def _charset(op: Any, av: Any, fold: bool) -> Chars:
    if op is _sc.LITERAL:
        cs: Chars = ((av, av),)
    elif op is _sc.NOT_LITERAL:
        cs = _complement(_fold(((av, av),)) if fold else ((av, av),))
    elif op is _sc.ANY:
        cs = _ALL
    else:  # IN
        negate = False
        parts: list[tuple[int, int]] = []
        for sub_op, sub_av in av:
            if sub_op is _sc.NEGATE:
                negate = True
            elif sub_op is _sc.LITERAL:
                parts.append((sub_av, sub_av))
            elif sub_op is _sc.RANGE:
                parts.append(sub_av)
            elif sub_op is _sc.CATEGORY:
                parts.extend(_CATEGORY.get(sub_av, _ALL))
            else:
                parts.extend(_ALL)
        cs = _norm(parts)
        if fold:
            cs = _fold(cs)
        return _complement(cs) if negate else cs
    return _fold(cs) if fold and op is _sc.LITERAL else cs


def check_backtracking(tree: Any) -> None:
    fold = bool(tree.state.flags & re.IGNORECASE)
    try:
        _ambiguity(_items(tree, fold))
    except RecursionError:
        raise Fail("pattern nested too deeply") from None


def _items(seq: Any, fold: bool) -> list[_Item]:
    """The pattern as a flat sequence of items; checks nested parts on the way."""
    items: list[_Item] = []
    for op, av in seq:
        if op in (_sc.LITERAL, _sc.NOT_LITERAL, _sc.ANY, _sc.IN):
            cs = _charset(op, av, fold)
            items.append(_Item(cs, cs, False, 1, False, 1))
        elif op is _sc.AT:
            continue
        elif op is _sc.SUBPATTERN:
            _group, add, remove, sub = av
            inner = (fold or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            items.extend(_items(sub, inner))
        elif op in (_sc.MAX_REPEAT, _sc.MIN_REPEAT, _sc.POSSESSIVE_REPEAT):
            items.append(_repeat(op, av, fold))
        elif op is _sc.BRANCH:
            items.append(_branch(av[1], fold))
        elif op is _sc.ATOMIC_GROUP:
            body = _items(av, fold)
            s = _summary(body)
            items.append(_Item(s.chars, s.first, False, 1, s.nullable, 1, _atomic_cost(body)))
        elif op in (_sc.ASSERT, _sc.ASSERT_NOT):
            items.append(_Item((), (), False, 1, True, 1, _atomic_cost(_items(av[1], fold))))
        elif op in (_sc.GROUPREF, _sc.GROUPREF_EXISTS):
            raise Fail("backreferences and conditionals in the pattern are not supported")
        else:
            raise Fail(f"unsupported construct {op} in the pattern")
    return items


def _summary(items: Sequence[_Item]) -> _Item:
    """One item standing for a whole sequence (a group's body)."""
    chars: Chars = ()
    first: Chars = ()
    nullable = True
    factor = 1
    for it in items:
        chars = _norm(chars + it.chars)
        if nullable:
            first = _norm(first + it.first)
            nullable = it.nullable
        if it.variable:
            factor = min(_CAP, factor * it.factor)
    variable = any(it.variable for it in items)
    return _Item(chars, first, variable, factor if variable else 1, nullable, 1)


def _repeat(op: Any, av: Any, fold: bool) -> _Item:
    lo, hi, sub = av
    body = _items(sub, fold)
    body_amb = _ambiguity(body)
    s = _summary(body)
    top = min(hi, _CAP)
    amb = body_amb
    if top > 1:
        # Two copies of the body in a row: can a chain run from one into the other?
        _, spans = _chains(body + body, [0] * len(body) + [1] * len(body))
        per_iteration = body_amb * (max(2, s.factor) if spans or s.nullable else 1)
        if per_iteration > 1:
            if top >= _CAP:
                raise Fail("nested quantifiers: matching may take exponential time")
            amb = 1
            for _ in range(top):
                amb *= per_iteration
                if amb > _CAP:
                    raise Fail("repeated ambiguous group: matching may take very long")
    variable = op is not _sc.POSSESSIVE_REPEAT and (top != lo or s.variable)
    factor = min(_CAP, (top - min(lo, top) + 1) * s.factor) if variable else 1
    return _Item(s.chars, s.first, variable, factor, lo == 0 or s.nullable, amb)


def _branch(alternatives: Any, fold: bool) -> _Item:
    seqs = [_items(alt, fold) for alt in alternatives]
    # Alternatives are tried one at a time; overlap between them is the
    # item's own factor, counted when it joins a chain.
    amb = max(_ambiguity(seq) for seq in seqs)
    summaries = [_summary(seq) for seq in seqs]
    nullable = any(s.nullable for s in summaries)
    ambiguous = nullable or any(
        _inter(a.first, b.first) for i, a in enumerate(summaries) for b in summaries[i + 1 :]
    )
    variable = ambiguous or any(s.variable for s in summaries)
    factor = min(_CAP, sum(max(1, s.factor) for s in summaries)) if variable else 1
    chars = _norm([r for s in summaries for r in s.chars])
    first = _norm([r for s in summaries for r in s.first])
    return _Item(chars, first, variable, factor, nullable, amb)


def _atomic_cost(body: Sequence[_Item]) -> int:
    """Work of a part that is never backtracked into: its splits times its scan."""
    return _ambiguity(body) * (_CAP if _summary(body).variable else 1)


def _ambiguity(items: Sequence[_Item]) -> int:
    """Ways the sequence can split one text; refuses more than ``_CAP``."""
    total, _ = _chains(items, [0] * len(items))
    if total > _CAP:
        raise Fail("overlapping quantifiers: matching may take very long")
    return total


def _chains(items: Sequence[_Item], tags: Sequence[int]) -> tuple[int, bool]:
    """(ways to split, whether a chain joins items with different tags)."""
    total = peak = 1
    spans = False
    live: set[tuple[Chars, frozenset[int]]] = set()
    for item, tag in zip(items, tags, strict=True):
        if item.variable:
            joined = False
            nxt: set[tuple[Chars, frozenset[int]]] = set()
            for chars, owners in live:
                common = _inter(chars, item.chars)
                if common:
                    joined = True
                    spans = spans or bool(owners - {tag})
                    nxt.add((common, owners | {tag}))
                if item.nullable:
                    nxt.add((chars, owners))
            nxt.add((item.chars, frozenset((tag,))))
            live = nxt
            if joined:
                total = min(total * item.factor, _CAP * _CAP + 1)
        elif not item.nullable:
            live = {chain for chain in live if _inter(chain[0], item.chars)}
        total = min(total * item.amb, _CAP * _CAP + 1)
        peak = max(peak, min(total * item.cost, _CAP * _CAP + 1))
        if len(live) > _MAX_CHAINS:
            raise Fail("pattern too complex to check")
    return max(total, peak), spans

