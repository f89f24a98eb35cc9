"""Per-node formulas in table cells: xCAT's ``/p/r/`` and ``|p|r|`` values.

A cell of a node-keyed table may hold a formula instead of a literal.  It is
evaluated for one node at a time, after group inheritance, with the node name
as input (``Table.pm`` ``transRegexAttrs``; doc ``regexp_db.rst``):

``/pattern/replacement/``
    A Perl substitution on the node name: ``/\\z/-bmc/`` gives ``node1-bmc``.
    Recognised only when the value holds exactly three slashes, first and last.
``|pattern|replacement|``
    The same, except that every top-level ``(...)`` in the replacement is an
    integer expression over ``$1..$n``: ``|node(\\d+)|10.0.0.($1+0)|``.
    The pattern ends at the first ``|``; the replacement may hold more.
``|replacement|`` ("easy regex", no ``|`` inside)
    The pattern is built from the node name: ``[\\D0]*(\\d+)`` once per number
    in the name, then ``.*$``.  So ``$1`` is the first number without leading
    zeros (``f02n013`` gives ``$1 = 2``, ``$2 = 13``) and the whole name is
    replaced.

Behaviour kept from xCAT, some of it surprising:

* Text of the replacement outside the parentheses is literal.  xCAT passes it
  to ``s///`` as the value of a variable, which Perl does not interpolate
  again, so ``/^node(\\d+)/bmc$1/`` yields ``bmc$1``; put ``($1)`` in a
  ``|...|`` value to use a group.  A bare ``($1)`` keeps its leading zeros.
* Only the first match is replaced; the rest of the node name stays.
* A group that did not take part in the match is ``""`` (``0`` in arithmetic).
* An empty result means "no value": the callable returns ``None``.
* Expressions use ``use integer`` arithmetic: ``/`` truncates toward zero and
  ``%`` takes the sign of the left operand.  Strings become numbers by their
  leading decimal integer (``"007"`` is 7, ``"ab"`` is 0; unlike Perl,
  ``"1e3"`` is 1).  Unary ``+`` changes nothing and unary ``-`` of a word is
  the word with a minus sign, as in Perl.
* Values that are not formulas are returned unchanged, empty ones included;
  treating an empty cell as undefined is the store's job.

Where this module deliberately differs, each time raising
:class:`RegexValueError` instead of producing a silently wrong value:

* The pattern does not match the node name.  xCAT then returns the node name
  itself, so ``ipmi.bmc`` or ``hosts.ip`` of an odd node quietly becomes its
  own name and only fails later, far away.  Here it is an error naming node
  and value, which the resolver reports for that node alone.
* An expression fails (division by zero, a result outside the signed 64-bit
  range, ``$3`` where an easy-regex node name has two numbers).  xCAT
  substitutes an empty string (or wraps around on overflow).
* xCAT evaluates the node text *around* the match together with each
  expression (``x-node5`` with pattern ``node(\\d+)`` evaluates ``x-($1+0)``,
  which is ``-5``).  Here only the expression is evaluated; text outside the
  match is kept as it is.

Safety.  Table text is never given to ``eval``.  Each expression is parsed by
:mod:`ast` after ``$N`` is turned into a placeholder name, checked against a
whitelist (integer and string literals, ``$N``, ``+ - * / %``, unary ``-``
and ``+``, and calls of the helpers below) and turned into a tree of small
closures, so the per-node cost is a regex search plus a few calls.  Values are
at most 1,000 characters, patterns 256, node names 255 (the DNS limit), and
integers stay within the signed 64-bit range.  Patterns are checked before
use for constructs that make a backtracking matcher slow (nested or adjacent
overlapping quantifiers, see :func:`_check_backtracking`): what passes costs
at most about n³ steps on an n-character name, some 0.1 s for a
contrived 255-character name and microseconds for ordinary ones.  The check
is conservative and may refuse an unusual pattern that would have been fast.

Helpers (semantics of ``Table.pm``): ``a2idx(c)`` (``a`` is 1), ``a2zidx(c)``
(``a`` is 0), ``dim2idx(v1, n1, v2, n2, ..., vk)`` (1-based mixed-radix index),
``skip(i, "start[:count],...")`` (index with holes removed; -1 inside a hole),
``ipadd(b1, b2, b3, b4, add[, skipstart[, skipend]])`` (no carry past the third
octet, as in xCAT), ``mknum(s)`` (sum of character codes), ``sprintf`` with a
literal format and ``%d %i %u %o %x %X %c %s %e %f %g %%`` (flags ``-0+``
and space, width and precision up to 64), and the Perl builtins ``ord``,
``int``, ``abs``, ``lc`` and ``uc``.

The regex dialect is Perl's, translated to :mod:`re` with ASCII classes
(``\\z`` becomes ``\\Z``, Perl's ``\\Z`` a lookahead for an optional final
newline, ``\\h``, ``\\v``, ``\\e``, POSIX classes and ``(?<name>...)`` are
mapped).  Backreferences and Perl-only escapes (``\\K``, ``\\G``, ``\\Q``,
``\\p{...}``, ``\\x{...}`` ...) are refused.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from re import _constants as _sc  # the stdlib parser: the only way to see a pattern's tree
from re import _parser as _sp
from typing import Any, NamedTuple

from xcatpy.errors import RegexValueError

__all__ = ["compile_value", "evaluate", "is_regex_value"]

MAX_VALUE_LEN = 1000
MAX_PATTERN_LEN = 256
MAX_NODE_LEN = 255
_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1

_SLASH_FORM = re.compile(r"/[^/]*/[^/]*/\Z")
_PIPE_FORM = re.compile(r"\|[^\n]*\|\Z")

Evaluator = Callable[[str], "str | None"]


# --------------------------------------------------------------------- public


def is_regex_value(value: str | None) -> bool:
    """True when ``value`` has the shape of a ``/p/r/`` or ``|...|`` formula.

    Only the delimiters are checked; :func:`compile_value` finds the rest.
    """
    if not value or value[0] not in "/|":
        return False
    return bool(_SLASH_FORM.match(value) or _PIPE_FORM.match(value))


def compile_value(value: str) -> Evaluator:
    """Parse ``value`` once and return ``node name -> value or None``.

    A value that is not a formula gives a function returning it unchanged.
    Results are cached per distinct value, failures included.

    Raises:
        RegexValueError: the formula is malformed or unsafe; the message names
            the value and the problem.  The returned function raises it too,
            naming the node, when the pattern does not match the node name or
            an expression fails for it.
    """
    compiled = _compile_cached(value)
    if isinstance(compiled, str):
        raise RegexValueError(compiled)
    return compiled


def evaluate(value: str | None, node: str) -> str | None:
    """The value of a cell for ``node``: literals unchanged, formulas applied.

    Raises:
        RegexValueError: see :func:`compile_value`.
    """
    if not value or value[0] not in "/|":
        return value
    compiled = _compile_cached(value)
    if isinstance(compiled, str):
        raise RegexValueError(compiled)
    return compiled(node)


# ------------------------------------------------------------------ structure


class _Fail(Exception):
    """A problem found while compiling; becomes a RegexValueError message."""


class _EvalError(Exception):
    """A problem found while evaluating for one node."""


def _show(text: str, limit: int = 80) -> str:
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= limit else text[: limit - 3] + "..."


@lru_cache(maxsize=1024)
def _compile_cached(value: str) -> Evaluator | str:
    try:
        return _compile(value)
    except _Fail as exc:
        return f'invalid regex value "{_show(value)}": {exc}'


def _compile(value: str) -> Evaluator:
    if not is_regex_value(value):
        return lambda node: value
    if len(value) > MAX_VALUE_LEN:
        raise _Fail(f"longer than {MAX_VALUE_LEN} characters")
    inner = value[1:-1]
    if value[0] == "/":
        pattern, repl = inner.split("/", 1)
        return _runner(value, _compile_pattern(pattern).search, lambda g: repl)
    if "|" not in inner:
        literals, fns, highest = _compile_replacement(inner, None)
        assemble = _enough_numbers(_assembler(literals, fns), highest)
        return _runner(value, _easy_find, assemble)
    pattern, repl = inner.split("|", 1)
    regex = _compile_pattern(pattern)
    if "(" not in repl and ")" not in repl:  # xCAT: no expression, a plain substitution
        return _runner(value, regex.search, lambda g: repl)
    literals, fns, _ = _compile_replacement(repl, regex.groups)
    return _runner(value, regex.search, _assembler(literals, fns))


def _split_replacement(text: str) -> tuple[list[str], list[str]]:
    """Literal pieces and top-level ``(...)`` expressions, alternating.

    Like ``Text::Balanced::extract_bracketed`` but aware of quotes inside the
    parentheses, so ``sprintf('(%d)', $1)`` stays one expression.
    """
    literals: list[str] = []
    exprs: list[str] = []
    start = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == ")":
            raise _Fail(f"unbalanced ')' at position {i + 1} of the replacement")
        if c != "(":
            i += 1
            continue
        literals.append(text[start:i])
        end = _matching_paren(text, i)
        exprs.append(text[i : end + 1])
        start = i = end + 1
    literals.append(text[start:])
    return literals, exprs


def _matching_paren(text: str, open_at: int) -> int:
    depth = 0
    quote = ""
    for i in range(open_at, len(text)):
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
    raise _Fail(f"unbalanced '(' at position {open_at + 1} of the replacement")


# --------------------------------------------------------------- regex dialect

_ESC_OUTSIDE = {
    "z": r"\Z",
    "Z": r"(?=\n?\Z)",
    "h": r"[ \t]",
    "H": r"[^ \t]",
    "v": r"[\n\x0b\f\r]",
    "V": r"[^\n\x0b\f\r]",
    "e": r"\x1b",
}
_ESC_INSIDE = {"h": r" \t", "v": r"\n\x0b\f\r", "e": r"\x1b"}
_ESC_REFUSED = set("GKRXNpPQEgkcloLUu")
_POSIX = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\n\r\f\x0b",
    "blank": r" \t",
    "xdigit": "0-9A-Fa-f",
    "word": r"\w",
    "punct": r"!-/:-@\[-`{-~",
    "print": r"\x20-\x7e",
    "graph": r"\x21-\x7e",
    "cntrl": r"\x00-\x1f\x7f",
}
_POSIX_RE = re.compile(r"\[:(\^?)([a-z]+):\]")


def _perl_to_python(pattern: str) -> str:
    """Translate a Perl pattern to :mod:`re` syntax, refusing what differs."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise _Fail("the pattern ends with a backslash")
            out.append(_translate_escape(pattern[i + 1], pattern[i + 2 : i + 3], in_class))
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
                out.append(c)
            elif c == "[":
                m = _POSIX_RE.match(pattern, i)
                if m is None:
                    out.append(r"\[")
                elif m.group(1) or m.group(2) not in _POSIX:
                    raise _Fail(f"POSIX class {m.group(0)} is not supported")
                else:
                    out.append(_POSIX[m.group(2)])
                    i = m.end()
                    continue
            else:  # &, ~ and | would read as set operations to a future re
                out.append("\\" + c if c in "&~|" else c)
            i += 1
            continue
        if c == "[":
            in_class = True
            j = i + 1
            if pattern.startswith("^", j):
                j += 1
            if pattern.startswith("]", j):
                j += 1
            out.append(pattern[i:j].replace("]", r"\]"))
            i = j
            continue
        if c == "(" and pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
            continue
        if c == "(" and pattern.startswith("(?'", i):
            close = pattern.find("'", i + 3)
            if close < 0:
                raise _Fail("unterminated group name")
            out.append(f"(?P<{pattern[i + 3 : close]}>")
            i = close + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _translate_escape(e: str, after: str, in_class: bool) -> str:
    if e in "123456789" and not in_class:
        raise _Fail(rf"backreference \{e} in the pattern is not supported")
    if e in _ESC_REFUSED or (e == "x" and after == "{") or (in_class and e in "HV"):
        raise _Fail(rf"\{e} has no equivalent here")
    table = _ESC_INSIDE if in_class else _ESC_OUTSIDE
    return table.get(e, "\\" + e)


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    if not pattern:
        raise _Fail("empty pattern")
    if len(pattern) > MAX_PATTERN_LEN:
        raise _Fail(f"pattern longer than {MAX_PATTERN_LEN} characters")
    source = _perl_to_python(pattern)
    try:
        regex = re.compile(source, re.ASCII)
        tree = _sp.parse(source, re.ASCII)
    except (re.error, OverflowError, ValueError, RecursionError) as exc:
        raise _Fail(f"bad pattern: {exc}") from None
    _check_backtracking(tree)
    return regex


# ------------------------------------------------------ backtracking analysis
#
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


def _check_backtracking(tree: Any) -> None:
    fold = bool(tree.state.flags & re.IGNORECASE)
    try:
        _ambiguity(_items(tree, fold))
    except RecursionError:
        raise _Fail("pattern nested too deeply") from None


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
            raise _Fail("backreferences and conditionals in the pattern are not supported")
        else:
            raise _Fail(f"unsupported construct {op} in the pattern")
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
                raise _Fail("nested quantifiers: matching may take exponential time")
            amb = 1
            for _ in range(top):
                amb *= per_iteration
                if amb > _CAP:
                    raise _Fail("repeated ambiguous group: matching may take very long")
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
        raise _Fail("overlapping quantifiers: matching may take very long")
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
            raise _Fail("pattern too complex to check")
    return max(total, peak), spans


# ------------------------------------------------------------ Perl semantics
#
# Values inside an expression are ``int``, ``str`` (a group, a string
# literal, a helper's text result) or ``None`` (a group that did not match).

_NUM_PREFIX = re.compile(r"\s*([+-]?[0-9]+)")


def _bounded(v: int) -> int:
    if _INT_MIN <= v <= _INT_MAX:
        return v
    raise _EvalError("integer outside the signed 64-bit range")


def _num(v: Any) -> int:
    """Perl's numeric value of a scalar, truncated to an integer."""
    if v.__class__ is int:
        return v
    if not v:
        return 0
    m = _NUM_PREFIX.match(v)
    return _bounded(int(m.group(1))) if m else 0


def _str(v: Any) -> str:
    return "" if v is None else str(v)


_LOOKS_NUMERIC = re.compile(
    r"\s*[+-]?(?:[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?"
    r"|(?i:inf(?:inity)?|nan))\s*\Z"
)


def _negate(v: Any) -> Any:
    """Perl's unary minus: ``-"abc"`` is ``"-abc"``, ``-"-abc"`` is ``"+abc"``."""
    if v.__class__ is str and v:
        if v[0].isalpha() or v[0] == "_":
            return "-" + v
        if v[0] == "+" or (v[0] == "-" and not _LOOKS_NUMERIC.match(v)):
            return ("+" if v[0] == "-" else "-") + v[1:]
    return _bounded(-_num(v))


def _add(a: int, b: int) -> int:
    return _bounded(a + b)


def _sub(a: int, b: int) -> int:
    return _bounded(a - b)


def _mul(a: int, b: int) -> int:
    return _bounded(a * b)


def _div(a: int, b: int) -> int:
    """Integer division truncating toward zero (C, ``use integer``)."""
    if b > 0 and a >= 0:
        return a // b
    if b == 0:
        raise _EvalError("division by zero")
    q = abs(a) // abs(b)
    return _bounded(q if (a < 0) == (b < 0) else -q)


def _mod(a: int, b: int) -> int:
    """Remainder with the sign of the left operand (C, ``use integer``)."""
    if b > 0 and a >= 0:
        return a % b
    if b == 0:
        raise _EvalError("modulus by zero")
    r = abs(a) % abs(b)
    return -r if a < 0 else r


_BINOPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: _add,
    ast.Sub: _sub,
    ast.Mult: _mul,
    ast.Div: _div,
    ast.Mod: _mod,
}


def _a2idx(c: Any) -> int:
    s = _str(c).lower()
    return (ord(s[0]) if s else 0) - 96


def _a2zidx(c: Any) -> int:
    return _a2idx(c) - 1


def _dim2idx(*values: Any) -> int:
    """Alternately add ``value - 1`` and multiply by a dimension size; 1-based."""
    total = 0
    multiply = False
    for v in values:
        if v is None:  # Table.pm stops at the first undefined argument
            break
        total = _bounded(total * _num(v) if multiply else total + _num(v) - 1)
        multiply = not multiply
    return _bounded(total + 1)


def _split(text: str, sep: str) -> list[str]:
    """Perl's ``split``: trailing empty fields are dropped."""
    fields = text.split(sep)
    while fields and not fields[-1]:
        fields.pop()
    return fields


def _skip(index: Any, skips: Any) -> Any:
    """``index`` less the holes below it; -1 inside a hole (list ascending)."""
    idx = _num(index)
    result: Any = index
    for element in _split(_str(skips), ","):
        fields = _split(element, ":")
        start = _num(fields[0]) if fields else 0
        count = _num(fields[1]) if len(fields) > 1 else 1
        if idx < start:
            break
        if idx < start + count:
            return -1
        result = _bounded(_num(result) - count)
    return result


def _ipadd(b1: Any, b2: Any, b3: Any, b4: Any, add: Any, first: Any = 0, last: Any = 0) -> str:
    """Add to an address, carrying into the third octet only (as xCAT does)."""
    skipstart, skipend = _num(first), _num(last)
    low = _num(b4)
    offset = low - skipstart if low >= skipstart else 0
    span = 256 - skipstart - skipend
    moved = _bounded(offset + _num(add))
    third = _add(_num(b3), _div(moved, span))
    fourth = _mod(moved, span) + skipstart
    return f"{_str(b1)}.{_str(b2)}.{third}.{fourth}"


def _mknum(s: Any) -> int:
    return sum(ord(c) & 0xFF for c in _str(s))


def _ord(s: Any) -> int:
    text = _str(s)
    return ord(text[0]) if text else 0


_HELPERS: dict[str, tuple[Callable[..., Any], int, int]] = {
    # name: (function, fewest arguments, most arguments)
    "a2idx": (_a2idx, 1, 1),
    "a2zidx": (_a2zidx, 1, 1),
    "dim2idx": (_dim2idx, 0, 64),
    "skip": (_skip, 2, 2),
    "ipadd": (_ipadd, 5, 7),
    "mknum": (_mknum, 1, 1),
    "ord": (_ord, 1, 1),
    "int": (_num, 1, 1),
    "abs": (lambda v: _bounded(abs(_num(v))), 1, 1),
    "lc": (lambda v: _str(v).lower(), 1, 1),
    "uc": (lambda v: _str(v).upper(), 1, 1),
}
_INT_HELPERS = {"a2idx", "a2zidx", "dim2idx", "mknum", "ord", "int", "abs"}

_SPEC = re.compile(r"%(?P<flags>[-+ 0]*)(?P<width>[0-9]*)(?:\.(?P<prec>[0-9]*))?(?P<conv>.?)")
_NUMERIC_CONV = "diuoxXeEfgG"


def _parse_format(fmt: str) -> list[tuple[str, str, str]]:
    """``sprintf`` format as (literal, spec, conversion) triples."""
    pieces: list[tuple[str, str, str]] = []
    pos = 0
    while (pct := fmt.find("%", pos)) >= 0:
        m = _SPEC.match(fmt, pct)
        assert m is not None
        conv = m.group("conv")
        if conv == "%" and m.end() == pct + 2:
            pieces.append((fmt[pos : pct + 1], "", ""))
        elif conv and conv in _NUMERIC_CONV + "sc":
            width, prec = m.group("width"), m.group("prec")
            if int(width or 0) > 64 or int(prec or 0) > 64:
                raise _Fail("sprintf width or precision above 64")
            spec = m.group("flags") + width + ("." + (prec or "0") if prec is not None else "")
            pieces.append((fmt[pos:pct], spec, conv))
        else:
            raise _Fail(f"sprintf conversion {m.group(0)!r} is not supported")
        pos = m.end()
    pieces.append((fmt[pos:], "", ""))
    return pieces


def _format_one(spec: str, conv: str, value: Any) -> str:
    if conv in "sc":
        if conv == "c":
            code = _num(value)
            text = chr(code) if 0 <= code <= 0x10FFFF else "\ufffd"
        else:
            text = _str(value)
        prec = spec.partition(".")[2]
        if prec:
            text = text[: int(prec)]
        width = int("".join(ch for ch in spec.partition(".")[0] if ch.isdigit()) or 0)
        if "-" in spec:
            return text.ljust(width)
        return text.rjust(width, "0" if "0" in spec.partition(".")[0] else " ")
    n = _num(value)
    if conv in "uoxX" and n < 0:
        n += 2**64  # Perl shows the unsigned 64-bit pattern
    if conv in "eEfgG":
        return ("%" + spec + conv) % float(n)
    return ("%" + spec + ("d" if conv in "iu" else conv)) % n


def _sprintf(pieces: list[tuple[str, str, str]], args: Sequence[Any]) -> str:
    out = []
    i = 0
    for literal, spec, conv in pieces:
        out.append(literal)
        if conv:
            out.append(_format_one(spec, conv, args[i] if i < len(args) else None))
            i += 1
    return "".join(out)


# -------------------------------------------------------- expression compiler

_PLACEHOLDER = "_xcat_g_"
_GROUP_REF = re.compile(r"\$(?:\{([1-9][0-9]*)\}|([1-9][0-9]*))")
_MAX_DEPTH = 32
_OP_NAMES = {
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.Invert: "~",
    ast.Not: "not",
}
Groups = tuple["str | None", ...]
_Fn = Callable[[Groups], Any]


class _Built(NamedTuple):
    """A compiled sub-expression: a constant, or a function of the groups."""

    const: Any  # the value when fn is None
    fn: _Fn | None
    is_int: bool  # fn always returns an int
    group: int  # index when the node is a bare $N, else -1


def _prepare(expr: str) -> str:
    """Turn ``$N`` into placeholder names; refuse Perl that Python reads otherwise."""
    if _PLACEHOLDER in expr:
        raise _Fail(f"{_PLACEHOLDER} is reserved")
    out: list[str] = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c in "'\"":
            end = expr.find(c, i + 1)
            if end < 0:
                raise _Fail("unterminated string")
            literal = expr[i : end + 1]
            if "\\" in literal:
                raise _Fail("backslashes in strings are not supported")
            if c == '"' and ("$" in literal or "@" in literal):
                raise _Fail("interpolation in double-quoted strings is not supported")
            out.append(literal)
            i = end + 1
        elif c == "$":
            m = _GROUP_REF.match(expr, i)
            if m is None:
                raise _Fail(f"only $1, $2, ... may be used, not {expr[i : i + 2]!r}")
            out.append(f"{_PLACEHOLDER}{m.group(1) or m.group(2)}")
            i = m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _compile_expr(expr: str, refs: list[int]) -> _Built:
    """One parenthesised expression; appends the group numbers used to ``refs``."""
    try:
        tree = ast.parse(_prepare(expr), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise _Fail(f"cannot parse expression {_show(expr)}: {type(exc).__name__}") from None
    try:
        return _build(tree.body, refs, 0)
    except _EvalError as exc:
        raise _Fail(f"expression {_show(expr)}: {exc}") from None


def _build(node: ast.AST, refs: list[int], depth: int) -> _Built:
    if depth > _MAX_DEPTH:
        raise _Fail("expression nested too deeply")
    if isinstance(node, ast.Constant):
        v = node.value
        if type(v) is int:
            return _Built(_bounded(v), None, True, -1)
        if type(v) is str:
            return _Built(v, None, False, -1)
        raise _Fail(f"literal {v!r} is not an integer or a string")
    if isinstance(node, ast.Name) and node.id.startswith(_PLACEHOLDER):
        index = int(node.id[len(_PLACEHOLDER) :])
        refs.append(index)
        i = index - 1
        return _Built(None, lambda g: g[i], False, i)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
        return _build(node.operand, refs, depth + 1)  # a no-op in Perl, even on strings
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        operand = _build(node.operand, refs, depth + 1)
        if operand.fn is None:
            return _Built(_negate(operand.const), None, False, -1)
        if operand.is_int:
            return _binop(_sub, _Built(0, None, True, -1), operand)
        fn = operand.fn
        return _Built(None, lambda g: _negate(fn(g)), False, -1)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left = _numeric(_build(node.left, refs, depth + 1))
        right = _numeric(_build(node.right, refs, depth + 1))
        return _binop(_BINOPS[type(node.op)], left, right)
    if isinstance(node, ast.Call):
        return _call(node, refs, depth)
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        what = f"operator {_OP_NAMES.get(type(node.op), type(node.op).__name__)}"
    elif isinstance(node, ast.Name):
        what = f"name {node.id}"
    else:
        what = type(node).__name__
    raise _Fail(f"{what} is not allowed in an expression")


def _numeric(b: _Built) -> _Built:
    """The same sub-expression, as an integer."""
    if b.fn is None:
        return _Built(_num(b.const), None, True, -1)
    if b.is_int:
        return b
    if b.group >= 0:
        i = b.group

        def group_number(g: Groups) -> int:
            s = g[i]
            # Plain ASCII digits (what \d captures) convert directly.
            if s and s.isdigit() and s.isascii() and len(s) < 19:
                return int(s)
            return _num(s)

        return _Built(None, group_number, True, -1)
    fn = b.fn
    return _Built(None, lambda g: _num(fn(g)), True, -1)


def _binop(op: Callable[[int, int], int], left: _Built, right: _Built) -> _Built:
    lf, rf = left.fn, right.fn
    if lf is None and rf is None:
        return _Built(op(left.const, right.const), None, True, -1)
    if lf is None:
        a = left.const
        return _Built(None, lambda g: op(a, rf(g)), True, -1)  # type: ignore[misc]
    if rf is None:
        return _Built(None, _with_constant(op, lf, right.const), True, -1)
    return _Built(None, lambda g: op(lf(g), rf(g)), True, -1)


def _with_constant(op: Callable[[int, int], int], lf: _Fn, b: int) -> _Fn:
    """``x op constant`` in one closure: the usual ``$1-1``, ``/250``, ``%250``."""
    if op is _add or op is _sub:
        c = b if op is _add else -b
        return lambda g: v if _INT_MIN <= (v := lf(g) + c) <= _INT_MAX else _bounded(v)
    if op is _div and b > 0:  # cannot overflow
        return lambda g: a // b if (a := lf(g)) >= 0 else -(-a // b)
    if op is _mod and b > 0:
        return lambda g: a % b if (a := lf(g)) >= 0 else -(-a % b)
    return lambda g: op(lf(g), b)


def _call(node: ast.Call, refs: list[int], depth: int) -> _Built:
    name = node.func.id if isinstance(node.func, ast.Name) else ""
    if name != "sprintf" and name not in _HELPERS:
        shown = name or _show(ast.unparse(node.func), 40)
        raise _Fail(f"calling {shown} is not allowed (only sprintf and the xCAT helpers)")
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise _Fail(f"{name}() takes plain arguments only")
    args = [_build(a, refs, depth + 1) for a in node.args]
    if name == "sprintf":
        if not args or args[0].fn is not None or not isinstance(args[0].const, str):
            raise _Fail("sprintf needs a literal format string first")
        func: Callable[..., Any] = _formatter(_parse_format(args[0].const))
        args = args[1:]
        is_int = False
    else:
        func, fewest, most = _HELPERS[name]
        if not fewest <= len(args) <= most:
            raise _Fail(f"{name}() takes {fewest} to {most} arguments, got {len(args)}")
        is_int = name in _INT_HELPERS
    if all(a.fn is None for a in args):
        return _Built(func(*(a.const for a in args)), None, is_int, -1)
    getters = [a.fn if a.fn is not None else _constant(a.const) for a in args]
    return _Built(None, lambda g: func(*[get(g) for get in getters]), is_int, -1)


def _formatter(pieces: list[tuple[str, str, str]]) -> Callable[..., str]:
    return lambda *values: _sprintf(pieces, values)


def _constant(value: Any) -> _Fn:
    return lambda g: value


def _as_text(fn: _Fn) -> _Fn:
    """For output: an undefined value (unmatched group) is the empty string."""
    return lambda g: "" if (v := fn(g)) is None else v


def _compile_replacement(text: str, groups: int | None) -> tuple[list[str], list[_Fn], int]:
    """Literal pieces, expression functions (constants folded in) and highest ``$N``.

    ``groups`` is the pattern's group count, or None for the easy form where it
    depends on the node name.
    """
    pieces, exprs = _split_replacement(text)
    literals = [pieces[0]]
    fns: list[_Fn] = []
    refs: list[int] = []
    for expr, after in zip(exprs, pieces[1:], strict=True):
        built = _compile_expr(expr, refs)
        if built.fn is None:
            literals[-1] += _str(built.const) + after
            continue
        fns.append(built.fn if built.is_int else _as_text(built.fn))
        literals.append(after)
    highest = max(refs, default=0)
    if groups is not None and highest > groups:
        raise _Fail(f"${highest} is used but the pattern has {groups} group(s)")
    return literals, fns, highest


# -------------------------------------------------------------------- runners


def _assembler(literals: list[str], fns: list[_Fn]) -> Callable[[Groups], str]:
    """``groups -> replacement text``, specialised for the common shapes."""
    fmt = "{}".join(piece.replace("{", "{{").replace("}", "}}") for piece in literals)
    fill = fmt.format
    if not fns:
        return lambda g: fmt
    if len(fns) == 1:
        (f1,) = fns
        return lambda g: fill(f1(g))
    if len(fns) == 2:
        f1, f2 = fns
        return lambda g: fill(f1(g), f2(g))
    return lambda g: fill(*[f(g) for f in fns])


def _runner(
    value: str,
    find: Callable[[str], re.Match[str] | None],
    assemble: Callable[[Groups], str],
) -> Evaluator:
    """``node -> value``: the match replaced by the assembled text."""

    def run(node: str) -> str | None:
        if len(node) > MAX_NODE_LEN:
            raise RegexValueError(
                f'regex value "{_show(value)}" cannot be applied to a node name longer '
                f"than {MAX_NODE_LEN} characters"
            )
        m = find(node)
        if m is None:
            raise RegexValueError(
                f'regex value "{_show(value)}" does not match node "{_show(node)}"'
            )
        try:
            middle = assemble(m.groups())
        except _EvalError as exc:
            raise RegexValueError(
                f'regex value "{_show(value)}" failed for node "{_show(node)}": {exc}'
            ) from None
        start, end = m.span()
        if start == 0 and end == len(node):
            return middle or None
        return node[:start] + middle + node[end:] or None

    return run


_EASY_NUMBER = re.compile(r"[\D0]*(\d+)", re.ASCII)


@lru_cache(maxsize=64)
def _easy_pattern(count: int) -> re.Pattern[str]:
    # Built from the node's own numbers, so the first attempt at position 0
    # succeeds and no backtracking check is needed.
    return re.compile(r"[\D0]*(\d+)" * count + ".*$", re.ASCII)


def _easy_find(node: str) -> re.Match[str] | None:
    return _easy_pattern(len(_EASY_NUMBER.findall(node))).search(node)


def _enough_numbers(assemble: Callable[[Groups], str], highest: int) -> Callable[[Groups], str]:
    def checked(g: Groups) -> str:
        if len(g) < highest:
            raise _EvalError(f"${highest} is used but the name has {len(g)} number(s)")
        return assemble(g)

    return checked
