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
closures (:mod:`xcatpy.store._regexexpr`, Perl's semantics in
:mod:`xcatpy.store._regexperl`), so the per-node cost is a regex search plus a
few calls.  Values are at most 1,000 characters, patterns 256, node names 255
(the DNS limit), and integers stay within the signed 64-bit range.  Patterns are checked before
use for constructs that make a backtracking matcher slow (nested or adjacent
overlapping quantifiers, see :mod:`xcatpy.store._regexsafe`): what passes costs
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

import re
from collections.abc import Callable
from functools import lru_cache
from re import _parser as _sp  # the stdlib parser: the only way to see a pattern's tree

from xcatpy.errors import RegexValueError
from xcatpy.store._regexbase import (
    MAX_NODE_LEN,
    MAX_PATTERN_LEN,
    MAX_VALUE_LEN,
    EvalError,
    Fail,
    show,
)
from xcatpy.store._regexexpr import Fn, Groups, compile_replacement
from xcatpy.store._regexsafe import check_backtracking

__all__ = ["compile_value", "evaluate", "is_regex_value"]

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


# ---------------------------------------------------------------- compiling


@lru_cache(maxsize=1024)
def _compile_cached(value: str) -> Evaluator | str:
    try:
        return _compile(value)
    except Fail as exc:
        return f'invalid regex value "{show(value)}": {exc}'


def _compile(value: str) -> Evaluator:
    if not is_regex_value(value):
        return lambda node: value
    if len(value) > MAX_VALUE_LEN:
        raise Fail(f"longer than {MAX_VALUE_LEN} characters")
    inner = value[1:-1]
    if value[0] == "/":
        pattern, repl = inner.split("/", 1)
        return _runner(value, _compile_pattern(pattern).search, lambda g: repl)
    if "|" not in inner:
        literals, fns, highest = compile_replacement(inner, None)
        assemble = _enough_numbers(_assembler(literals, fns), highest)
        return _runner(value, _easy_find, assemble)
    pattern, repl = inner.split("|", 1)
    regex = _compile_pattern(pattern)
    if "(" not in repl and ")" not in repl:  # xCAT: no expression, a plain substitution
        return _runner(value, regex.search, lambda g: repl)
    literals, fns, _ = compile_replacement(repl, regex.groups)
    return _runner(value, regex.search, _assembler(literals, fns))


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
                raise Fail("the pattern ends with a backslash")
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
                    raise Fail(f"POSIX class {m.group(0)} is not supported")
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
                raise Fail("unterminated group name")
            out.append(f"(?P<{pattern[i + 3 : close]}>")
            i = close + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _translate_escape(e: str, after: str, in_class: bool) -> str:
    if e in "123456789" and not in_class:
        raise Fail(rf"backreference \{e} in the pattern is not supported")
    if e in _ESC_REFUSED or (e == "x" and after == "{") or (in_class and e in "HV"):
        raise Fail(rf"\{e} has no equivalent here")
    table = _ESC_INSIDE if in_class else _ESC_OUTSIDE
    return table.get(e, "\\" + e)


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    if not pattern:
        raise Fail("empty pattern")
    if len(pattern) > MAX_PATTERN_LEN:
        raise Fail(f"pattern longer than {MAX_PATTERN_LEN} characters")
    source = _perl_to_python(pattern)
    try:
        regex = re.compile(source, re.ASCII)
        tree = _sp.parse(source, re.ASCII)
    except (re.error, OverflowError, ValueError, RecursionError) as exc:
        raise Fail(f"bad pattern: {exc}") from None
    check_backtracking(tree)
    return regex



# -------------------------------------------------------------------- runners


def _assembler(literals: list[str], fns: list[Fn]) -> Callable[[Groups], str]:
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
                f'regex value "{show(value)}" cannot be applied to a node name longer '
                f"than {MAX_NODE_LEN} characters"
            )
        m = find(node)
        if m is None:
            raise RegexValueError(
                f'regex value "{show(value)}" does not match node "{show(node)}"'
            )
        try:
            middle = assemble(m.groups())
        except EvalError as exc:
            raise RegexValueError(
                f'regex value "{show(value)}" failed for node "{show(node)}": {exc}'
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
            raise EvalError(f"${highest} is used but the name has {len(g)} number(s)")
        return assemble(g)

    return checked
