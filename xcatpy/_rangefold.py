"""Numbers inside node names: natural order, lining up range ends, folding.

Shared by :mod:`xcatpy.noderange` (which re-exports :func:`natural_key` and
:func:`fold`); stdlib only, no I/O.  Digit runs are ASCII ``0-9`` only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DIGITS = re.compile(r"([0-9]+)")
ALL_DIGITS = re.compile(r"[0-9]+").fullmatch
_HOSTISH = re.compile(r"[A-Za-z0-9_.:+-]+").fullmatch
_HUGE = 10**5000  # orders digit runs too long for int() after every real number
_FOLD_MAX_DIGITS = 18  # longer digit runs are written out, never folded


def natural_key(name: str) -> tuple:
    """Sort key putting ``n2`` before ``n10``.

    Orders by the text before the first digit run, then that run's integer
    value, then the rest compared the same way; names that tie (``n01``/``n1``)
    are ordered by the raw string.  The key is flat,
    ``(text, int, text, ..., text, -1, name)``: it sorts like the nested form
    and lets :func:`sorted` compare keys at C speed.
    """
    parts: list = DIGITS.split(name)
    try:
        if len(parts) == 3:
            return (parts[0], int(parts[1]), parts[2], -1, name)
        parts[1::2] = map(int, parts[1::2])
    except ValueError:  # a run longer than int()'s digit limit
        parts[1::2] = [_bignum(p) for p in parts[1::2]]
    parts.append(-1)
    parts.append(name)
    return tuple(parts)


def _bignum(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:
        stripped = digits.lstrip("0")
        return _HUGE * len(stripped) + int(stripped[:300])


def padding(digits: str) -> int:
    """Width of an explicitly zero-padded number (``007`` -> 3), else 0."""
    return len(digits) if len(digits) > 1 and digits[0] == "0" else 0


def dash_split(atom: str) -> tuple[str, str] | None:
    """Split ``a-b`` at its middle dash; None for an even number of dashes or an empty side."""
    count = atom.count("-")
    if count % 2 == 0:
        return None
    cut = -1
    for _ in range(count // 2 + 1):
        cut = atom.index("-", cut + 1)
    left, right = atom[:cut], atom[cut + 1 :]
    if not left or not right:
        return None
    return left, right


def line_up(left: str, right: str) -> tuple[str, str, str, str] | None:
    """``(prefix, low digits, high digits, suffix)`` if the names differ in one number only.

    Identical names holding a number line up as a one-name range; anything
    else (texts differ, two numbers differ, no number) gives None.
    """
    lparts, rparts = DIGITS.split(left), DIGITS.split(right)
    if len(lparts) != len(rparts) or len(lparts) == 1:
        return None
    if left == right:
        return lparts[0], lparts[1], lparts[1], "".join(lparts[2:])
    for i, (lp, rp) in enumerate(zip(lparts, rparts, strict=True)):
        if lp == rp:
            continue
        if i % 2 == 0 or lparts[i + 1 :] != rparts[i + 1 :]:
            return None
        return "".join(lparts[:i]), lp, rp, "".join(lparts[i + 1 :])
    return None  # pragma: no cover - equal names were handled above


def is_literal(name: str) -> bool:
    """True if the noderange ``name`` expands to exactly ``name`` (syntax only).

    Mirrors the atom rules of :mod:`xcatpy.noderange` for names without any
    grouping characters: bare numbers, ``+`` and ``:`` forms and dash ranges
    that line up are not literal.
    """
    if not _HOSTISH(name) or name[0] == "-" or ALL_DIGITS(name):
        return False
    if "+" in name or ":" in name:
        return False
    split = dash_split(name) if "-" in name else None
    return split is None or line_up(*split) is None


def fold(names: Iterable[str]) -> str:
    """Write ``names`` as a short noderange, e.g. ``gpu[01-08],n[001-240]``.

    Names with the same shape (the text around their digit runs) are folded
    one digit run at a time, last run first, so ``f1n1..f2n3`` becomes
    ``f[1-2]n[1-3]``.  Zero padding is kept exactly: a range only joins values
    of one width (``n[1-2,01-02]``, ``n[01-99,100]``), which is also what
    ClusterShell accepts.  A lone name is written plainly (``n5``); where the
    plain form would parse as something else (``n1-n3``, ``5``) its last
    number is bracketed (``n1-n[3]``, ``[5]``).  Pieces are sorted with
    :func:`natural_key`; duplicates are ignored.

    ``expand_names(fold(L))`` gives back the set of ``L`` for names made of
    letters, digits and ``_.-`` that do not start with ``-``, and for names
    that also hold ``:`` or ``+`` next to at least one digit.  Other names
    (``a:b``, anything with ``,@()[]=``, quotes or spaces, or starting with
    ``-/^``) have no faithful noderange form and are emitted as they are.
    """
    pieces: list[str] = []
    shapes: dict[int, list[list[str]]] = {}
    for name in dict.fromkeys(names):
        parts = DIGITS.split(name)
        if len(parts) == 1 or any(len(p) > _FOLD_MAX_DIGITS for p in parts[1::2]):
            pieces.append(_protect(name))
        else:
            shapes.setdefault(len(parts), []).append(parts)
    for width, rows in shapes.items():
        pieces.extend(_fold_rows(rows, width))
    pieces.sort(key=natural_key)
    return ",".join(pieces)


def _fold_rows(rows: list[list[str]], width: int) -> list[str]:
    """Fold names of one shape, split as ``[text, digits, text, ..., text]``.

    Each pass groups the items that agree everywhere except one digit field
    and merges each group's values into a bracket; passes run from the last
    digit field to the first, so a full grid ends as one product.
    """
    items = rows
    merged = [False] * len(rows)
    for idx in range(width - 2, 0, -2):
        buckets: dict[tuple[str, ...], list[int]] = {}
        for n, item in enumerate(items):
            key = (*item[:idx], *item[idx + 1 :])
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = [n]
            else:
                bucket.append(n)
        if len(buckets) == len(items):
            continue
        new_items: list[list[str]] = []
        new_merged: list[bool] = []
        for members in buckets.values():
            first = items[members[0]]
            if len(members) == 1:
                new_items.append(first)
                new_merged.append(merged[members[0]])
                continue
            values = _fold_values([items[m][idx] for m in members])
            new_items.append([*first[:idx], "[" + values + "]", *first[idx + 1 :]])
            new_merged.append(True)
        items, merged = new_items, new_merged
    return [
        "".join(item) if done else _protect("".join(item))
        for item, done in zip(items, merged, strict=True)
    ]


def _fold_values(values: list[str]) -> str:
    """Comma-separated ranges of distinct digit strings, each range of one width.

    Padded values (``007``) go to the class of their width; an unpadded value
    joins the padded class of its own width when there is one (``10`` reads
    the same at width 2, so ``09,10`` folds to ``09-10``), else the unpadded
    class.
    """
    classes: dict[int, list[int]] = {}
    loose: list[str] = []
    for v in values:
        if padding(v):
            classes.setdefault(len(v), []).append(int(v))
        else:
            loose.append(v)
    for v in loose:
        width = len(v) if len(v) in classes else 0
        classes.setdefault(width, []).append(int(v))
    ranges: list[tuple[int, int, int]] = []
    for width, nums in classes.items():
        nums.sort()
        start = prev = nums[0]
        for n in nums[1:]:
            if n != prev + 1:
                ranges.append((start, prev, width))
                start = n
            prev = n
        ranges.append((start, prev, width))
    ranges.sort(key=lambda r: (r[0], r[2]))
    out = []
    for lo, hi, width in ranges:
        lo_s = str(lo).zfill(width)
        out.append(lo_s if lo == hi else f"{lo_s}-{str(hi).zfill(width)}")
    return ",".join(out)


def _protect(name: str) -> str:
    """``name`` as a piece that expands to exactly ``name``, when one exists."""
    if is_literal(name) or not _HOSTISH(name) or name[0] == "-":
        return name
    runs = list(DIGITS.finditer(name))
    if not runs:
        return name
    last = runs[-1]
    return f"{name[: last.start()]}[{last.group()}]{name[last.end() :]}"
