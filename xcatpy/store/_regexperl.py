"""Perl scalar semantics and xCAT's helper functions for regex value expressions.

The run-time half of the expression language of :mod:`xcatpy.store.regexval`:
numbers and strings as Perl's ``use integer`` sees them, the helpers of
``Table.pm`` and a ``sprintf`` with a literal format.  Compiled expressions
(:mod:`xcatpy.store._regexexpr`) call these once per node.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from typing import Any

from xcatpy.store._regexbase import INT_MAX, INT_MIN, EvalError, Fail

# Values inside an expression are ``int``, ``str`` (a group, a string
# literal, a helper's text result) or ``None`` (a group that did not match).

_NUM_PREFIX = re.compile(r"\s*([+-]?[0-9]+)")


def bounded(v: int) -> int:
    if INT_MIN <= v <= INT_MAX:
        return v
    raise EvalError("integer outside the signed 64-bit range")


def num(v: Any) -> int:
    """Perl's numeric value of a scalar, truncated to an integer."""
    if v.__class__ is int:
        return v
    if not v:
        return 0
    m = _NUM_PREFIX.match(v)
    return bounded(int(m.group(1))) if m else 0


def as_str(v: Any) -> str:
    return "" if v is None else str(v)


_LOOKS_NUMERIC = re.compile(
    r"\s*[+-]?(?:[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?"
    r"|(?i:inf(?:inity)?|nan))\s*\Z"
)


def negate(v: Any) -> Any:
    """Perl's unary minus: ``-"abc"`` is ``"-abc"``, ``-"-abc"`` is ``"+abc"``."""
    if v.__class__ is str and v:
        if v[0].isalpha() or v[0] == "_":
            return "-" + v
        if v[0] == "+" or (v[0] == "-" and not _LOOKS_NUMERIC.match(v)):
            return ("+" if v[0] == "-" else "-") + v[1:]
    return bounded(-num(v))


def int_add(a: int, b: int) -> int:
    return bounded(a + b)


def int_sub(a: int, b: int) -> int:
    return bounded(a - b)


def _mul(a: int, b: int) -> int:
    return bounded(a * b)


def int_div(a: int, b: int) -> int:
    """Integer division truncating toward zero (C, ``use integer``)."""
    if b > 0 and a >= 0:
        return a // b
    if b == 0:
        raise EvalError("division by zero")
    q = abs(a) // abs(b)
    return bounded(q if (a < 0) == (b < 0) else -q)


def int_mod(a: int, b: int) -> int:
    """Remainder with the sign of the left operand (C, ``use integer``)."""
    if b > 0 and a >= 0:
        return a % b
    if b == 0:
        raise EvalError("modulus by zero")
    r = abs(a) % abs(b)
    return -r if a < 0 else r


BINOPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: int_add,
    ast.Sub: int_sub,
    ast.Mult: _mul,
    ast.Div: int_div,
    ast.Mod: int_mod,
}


def _a2idx(c: Any) -> int:
    s = as_str(c).lower()
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
        total = bounded(total * num(v) if multiply else total + num(v) - 1)
        multiply = not multiply
    return bounded(total + 1)


def _split(text: str, sep: str) -> list[str]:
    """Perl's ``split``: trailing empty fields are dropped."""
    fields = text.split(sep)
    while fields and not fields[-1]:
        fields.pop()
    return fields


def _skip(index: Any, skips: Any) -> Any:
    """``index`` less the holes below it; -1 inside a hole (list ascending)."""
    idx = num(index)
    result: Any = index
    for element in _split(as_str(skips), ","):
        fields = _split(element, ":")
        start = num(fields[0]) if fields else 0
        count = num(fields[1]) if len(fields) > 1 else 1
        if idx < start:
            break
        if idx < start + count:
            return -1
        result = bounded(num(result) - count)
    return result


def _ipadd(b1: Any, b2: Any, b3: Any, b4: Any, add: Any, first: Any = 0, last: Any = 0) -> str:
    """Add to an address, carrying into the third octet only (as xCAT does)."""
    skipstart, skipend = num(first), num(last)
    low = num(b4)
    offset = low - skipstart if low >= skipstart else 0
    span = 256 - skipstart - skipend
    moved = bounded(offset + num(add))
    third = int_add(num(b3), int_div(moved, span))
    fourth = int_mod(moved, span) + skipstart
    return f"{as_str(b1)}.{as_str(b2)}.{third}.{fourth}"


def _mknum(s: Any) -> int:
    return sum(ord(c) & 0xFF for c in as_str(s))


def _ord(s: Any) -> int:
    text = as_str(s)
    return ord(text[0]) if text else 0


HELPERS: dict[str, tuple[Callable[..., Any], int, int]] = {
    # name: (function, fewest arguments, most arguments)
    "a2idx": (_a2idx, 1, 1),
    "a2zidx": (_a2zidx, 1, 1),
    "dim2idx": (_dim2idx, 0, 64),
    "skip": (_skip, 2, 2),
    "ipadd": (_ipadd, 5, 7),
    "mknum": (_mknum, 1, 1),
    "ord": (_ord, 1, 1),
    "int": (num, 1, 1),
    "abs": (lambda v: bounded(abs(num(v))), 1, 1),
    "lc": (lambda v: as_str(v).lower(), 1, 1),
    "uc": (lambda v: as_str(v).upper(), 1, 1),
}
INT_HELPERS = {"a2idx", "a2zidx", "dim2idx", "mknum", "ord", "int", "abs"}

_SPEC = re.compile(r"%(?P<flags>[-+ 0]*)(?P<width>[0-9]*)(?:\.(?P<prec>[0-9]*))?(?P<conv>.?)")
_NUMERIC_CONV = "diuoxXeEfgG"


def parse_format(fmt: str) -> list[tuple[str, str, str]]:
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
                raise Fail("sprintf width or precision above 64")
            spec = m.group("flags") + width + ("." + (prec or "0") if prec is not None else "")
            pieces.append((fmt[pos:pct], spec, conv))
        else:
            raise Fail(f"sprintf conversion {m.group(0)!r} is not supported")
        pos = m.end()
    pieces.append((fmt[pos:], "", ""))
    return pieces


def _format_one(spec: str, conv: str, value: Any) -> str:
    if conv in "sc":
        if conv == "c":
            code = num(value)
            text = chr(code) if 0 <= code <= 0x10FFFF else "\ufffd"
        else:
            text = as_str(value)
        prec = spec.partition(".")[2]
        if prec:
            text = text[: int(prec)]
        width = int("".join(ch for ch in spec.partition(".")[0] if ch.isdigit()) or 0)
        if "-" in spec:
            return text.ljust(width)
        return text.rjust(width, "0" if "0" in spec.partition(".")[0] else " ")
    n = num(value)
    if conv in "uoxX" and n < 0:
        n += 2**64  # Perl shows the unsigned 64-bit pattern
    if conv in "eEfgG":
        return ("%" + spec + conv) % float(n)
    return ("%" + spec + ("d" if conv in "iu" else conv)) % n


def sprintf(pieces: list[tuple[str, str, str]], args: Sequence[Any]) -> str:
    out = []
    i = 0
    for literal, spec, conv in pieces:
        out.append(literal)
        if conv:
            out.append(_format_one(spec, conv, args[i] if i < len(args) else None))
            i += 1
    return "".join(out)

