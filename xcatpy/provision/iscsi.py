"""iSCSI names (RFC 3720 §3.2.6, RFC 3980): the checks for ``iscsi.target`` and ``iscsi.iname``.

Three forms are valid::

    iqn.2001-04.com.example            iqn.<yyyy-mm>.<reversed domain>
    iqn.2001-04.com.example:storage.disk2.sys1.xyz     ... and an optional ``:`` part
    eui.02004567A425678D               eui. + 16 hex digits (EUI-64)
    naa.52004567BA64678D               naa. + 16 or 32 hex digits (RFC 3980)

An IQN dated the current month is valid, but VMware ESX silently ignores
such a target while Linux initiators accept it, so it is a warning.  A date
after the current month is an error: the naming authority cannot have owned
the domain then.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date

MAX_BYTES = 223  # RFC 3720 §3.2.6.1

_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_IQN = re.compile(rf"iqn\.(\d{{4}})-(\d{{2}})\.({_LABEL}(?:\.{_LABEL})*)(?::(.*))?\Z", re.S)
_EUI = re.compile(r"eui\.[0-9a-f]{16}\Z")
_NAA = re.compile(r"naa\.(?:[0-9a-f]{16}|[0-9a-f]{32})\Z")
_CHARS = re.compile(r"[a-z0-9.:\-]*\Z")

Result = tuple[str | None, str | None]


def check_iqn(text: str | None, today: date | None = None) -> Result:
    """(error, warning) for one iSCSI name; each None when there is nothing to say."""
    today = today or date.today()
    if text is None or not text.strip():
        return "empty iSCSI name", None
    name = text.strip()
    if name != text:
        return f"iSCSI name {text!r} has leading or trailing white space", None
    if len(name.encode("utf-8")) > MAX_BYTES:
        return f"iSCSI name {name!r} is longer than {MAX_BYTES} bytes", None
    lowered = name.lower()
    warn = None
    if lowered != name:
        warn = (f"iSCSI name {name!r} has upper-case letters; initiators compare the "
                f"lower-case form {lowered!r}")
    if not _CHARS.match(lowered):
        bad = sorted({c for c in lowered if not _CHARS.match(c)})
        return (f"iSCSI name {name!r} has characters outside a-z, 0-9, '.', '-', ':': "
                f"{''.join(bad)!r}"), None
    kind = lowered[:4]
    if kind == "eui.":
        if not _EUI.match(lowered):
            return f"EUI iSCSI name {name!r} must be 'eui.' and 16 hex digits", None
        return None, warn
    if kind == "naa.":
        if not _NAA.match(lowered):
            return f"NAA iSCSI name {name!r} must be 'naa.' and 16 or 32 hex digits", None
        return None, warn
    if kind != "iqn.":
        return (f"iSCSI name {name!r} must start with 'iqn.', 'eui.' or 'naa.' "
                "(iqn.yyyy-mm.reversed.domain[:identifier])"), None
    m = _IQN.match(lowered)
    if not m:
        return (f"IQN {name!r} is not iqn.yyyy-mm.reversed.domain[:identifier] "
                "(e.g. iqn.2001-04.com.example:disk1)"), None
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        return f"IQN {name!r}: month {m.group(2)} is not 01-12", None
    if "." not in m.group(3):
        return f"IQN {name!r}: naming authority {m.group(3)!r} is not a reversed domain name", None
    if m.group(4) is not None and not m.group(4):
        return f"IQN {name!r} ends with ':' but has no identifier after it", None
    if (year, month) > (today.year, today.month):
        return f"IQN {name!r}: date {year:04d}-{month:02d} is in the future", None
    if (year, month) == (today.year, today.month):
        cur = (f"IQN {name!r} is dated the current month ({year:04d}-{month:02d}): "
               "VMware ESX silently ignores such targets; use an earlier month")
        warn = cur if warn is None else f"{warn}; {cur}"
    return None, warn


def check_nodes(
    targets: Mapping[str, Iterable[tuple[str, str | None]]], today: date | None = None
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Check every node's names at once: node -> [(column, value)] → (errors, warnings) by node.

    Unset values (None or '') are skipped; a message names the column it came from.
    """
    today = today or date.today()
    errors: dict[str, list[str]] = {}
    warnings: dict[str, list[str]] = {}
    for node, pairs in targets.items():
        for column, value in pairs:
            if not value:
                continue
            err, warn = check_iqn(value, today)
            if err:
                errors.setdefault(node, []).append(f"iscsi.{column}: {err}")
            if warn:
                warnings.setdefault(node, []).append(f"iscsi.{column}: {warn}")
    return errors, warnings
