"""The expressions of ``|pattern|replacement|`` values, compiled without ``eval``.

Each top-level ``(...)`` of a replacement is parsed by :mod:`ast` after
``$N`` is turned into a placeholder name, checked against a whitelist (integer
and string literals, ``$N``, ``+ - * / %``, unary ``-`` and ``+``, and calls of
``sprintf`` and the helpers of :mod:`xcatpy.store._regexperl`) and turned into
a tree of small closures over the match groups.  Table text is never given to
``eval``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from xcatpy.store._regexbase import INT_MAX, INT_MIN, EvalError, Fail, show
from xcatpy.store._regexperl import (
    BINOPS,
    HELPERS,
    INT_HELPERS,
    as_str,
    bounded,
    int_add,
    int_div,
    int_mod,
    int_sub,
    negate,
    num,
    parse_format,
    sprintf,
)

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
Fn = Callable[[Groups], Any]


class _Built(NamedTuple):
    """A compiled sub-expression: a constant, or a function of the groups."""

    const: Any  # the value when fn is None
    fn: Fn | None
    is_int: bool  # fn always returns an int
    group: int  # index when the node is a bare $N, else -1


def _prepare(expr: str) -> str:
    """Turn ``$N`` into placeholder names; refuse Perl that Python reads otherwise."""
    if _PLACEHOLDER in expr:
        raise Fail(f"{_PLACEHOLDER} is reserved")
    out: list[str] = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c in "'\"":
            end = expr.find(c, i + 1)
            if end < 0:
                raise Fail("unterminated string")
            literal = expr[i : end + 1]
            if "\\" in literal:
                raise Fail("backslashes in strings are not supported")
            if c == '"' and ("$" in literal or "@" in literal):
                raise Fail("interpolation in double-quoted strings is not supported")
            out.append(literal)
            i = end + 1
        elif c == "$":
            m = _GROUP_REF.match(expr, i)
            if m is None:
                raise Fail(f"only $1, $2, ... may be used, not {expr[i : i + 2]!r}")
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
        raise Fail(f"cannot parse expression {show(expr)}: {type(exc).__name__}") from None
    try:
        return _build(tree.body, refs, 0)
    except EvalError as exc:
        raise Fail(f"expression {show(expr)}: {exc}") from None


def _build(node: ast.AST, refs: list[int], depth: int) -> _Built:
    if depth > _MAX_DEPTH:
        raise Fail("expression nested too deeply")
    if isinstance(node, ast.Constant):
        v = node.value
        if type(v) is int:
            return _Built(bounded(v), None, True, -1)
        if type(v) is str:
            return _Built(v, None, False, -1)
        raise Fail(f"literal {v!r} is not an integer or a string")
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
            return _Built(negate(operand.const), None, False, -1)
        if operand.is_int:
            return _binop(int_sub, _Built(0, None, True, -1), operand)
        fn = operand.fn
        return _Built(None, lambda g: negate(fn(g)), False, -1)
    if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
        left = _numeric(_build(node.left, refs, depth + 1))
        right = _numeric(_build(node.right, refs, depth + 1))
        return _binop(BINOPS[type(node.op)], left, right)
    if isinstance(node, ast.Call):
        return _call(node, refs, depth)
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        what = f"operator {_OP_NAMES.get(type(node.op), type(node.op).__name__)}"
    elif isinstance(node, ast.Name):
        what = f"name {node.id}"
    else:
        what = type(node).__name__
    raise Fail(f"{what} is not allowed in an expression")


def _numeric(b: _Built) -> _Built:
    """The same sub-expression, as an integer."""
    if b.fn is None:
        return _Built(num(b.const), None, True, -1)
    if b.is_int:
        return b
    if b.group >= 0:
        i = b.group

        def group_number(g: Groups) -> int:
            s = g[i]
            # Plain ASCII digits (what \d captures) convert directly.
            if s and s.isdigit() and s.isascii() and len(s) < 19:
                return int(s)
            return num(s)

        return _Built(None, group_number, True, -1)
    fn = b.fn
    return _Built(None, lambda g: num(fn(g)), True, -1)


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


def _with_constant(op: Callable[[int, int], int], lf: Fn, b: int) -> Fn:
    """``x op constant`` in one closure: the usual ``$1-1``, ``/250``, ``%250``."""
    if op is int_add or op is int_sub:
        c = b if op is int_add else -b
        return lambda g: v if INT_MIN <= (v := lf(g) + c) <= INT_MAX else bounded(v)
    if op is int_div and b > 0:  # cannot overflow
        return lambda g: a // b if (a := lf(g)) >= 0 else -(-a // b)
    if op is int_mod and b > 0:
        return lambda g: a % b if (a := lf(g)) >= 0 else -(-a % b)
    return lambda g: op(lf(g), b)


def _call(node: ast.Call, refs: list[int], depth: int) -> _Built:
    name = node.func.id if isinstance(node.func, ast.Name) else ""
    if name != "sprintf" and name not in HELPERS:
        shown = name or show(ast.unparse(node.func), 40)
        raise Fail(f"calling {shown} is not allowed (only sprintf and the xCAT helpers)")
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise Fail(f"{name}() takes plain arguments only")
    args = [_build(a, refs, depth + 1) for a in node.args]
    if name == "sprintf":
        if not args or args[0].fn is not None or not isinstance(args[0].const, str):
            raise Fail("sprintf needs a literal format string first")
        func: Callable[..., Any] = _formatter(parse_format(args[0].const))
        args = args[1:]
        is_int = False
    else:
        func, fewest, most = HELPERS[name]
        if not fewest <= len(args) <= most:
            raise Fail(f"{name}() takes {fewest} to {most} arguments, got {len(args)}")
        is_int = name in INT_HELPERS
    if all(a.fn is None for a in args):
        return _Built(func(*(a.const for a in args)), None, is_int, -1)
    getters = [a.fn if a.fn is not None else _constant(a.const) for a in args]
    return _Built(None, lambda g: func(*[get(g) for get in getters]), is_int, -1)


def _formatter(pieces: list[tuple[str, str, str]]) -> Callable[..., str]:
    return lambda *values: sprintf(pieces, values)


def _constant(value: Any) -> Fn:
    return lambda g: value


def _as_text(fn: Fn) -> Fn:
    """For output: an undefined value (unmatched group) is the empty string."""
    return lambda g: "" if (v := fn(g)) is None else v


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
            raise Fail(f"unbalanced ')' at position {i + 1} of the replacement")
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
    raise Fail(f"unbalanced '(' at position {open_at + 1} of the replacement")



def compile_replacement(text: str, groups: int | None) -> tuple[list[str], list[Fn], int]:
    """Literal pieces, expression functions (constants folded in) and highest ``$N``.

    ``groups`` is the pattern's group count, or None for the easy form where it
    depends on the node name.
    """
    pieces, exprs = _split_replacement(text)
    literals = [pieces[0]]
    fns: list[Fn] = []
    refs: list[int] = []
    for expr, after in zip(exprs, pieces[1:], strict=True):
        built = _compile_expr(expr, refs)
        if built.fn is None:
            literals[-1] += as_str(built.const) + after
            continue
        fns.append(built.fn if built.is_int else _as_text(built.fn))
        literals.append(after)
    highest = max(refs, default=0)
    if groups is not None and highest > groups:
        raise Fail(f"${highest} is used but the pattern has {groups} group(s)")
    return literals, fns, highest

