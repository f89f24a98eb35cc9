"""What the parts of :mod:`xcatpy.store.regexval` share: limits and failures."""

from __future__ import annotations

MAX_VALUE_LEN = 1000
MAX_PATTERN_LEN = 256
MAX_NODE_LEN = 255
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1


class Fail(Exception):
    """A problem found while compiling; becomes a RegexValueError message."""


class EvalError(Exception):
    """A problem found while evaluating for one node."""


def show(text: str, limit: int = 80) -> str:
    """``text`` for a message: printable, at most ``limit`` characters."""
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= limit else text[: limit - 3] + "..."

