"""The audit trail: every policy decision, with secrets redacted.

Allowed requests are skipped for commands listed in ``site.auditskipcmds``
(``ALL`` skips every allowed request, xCAT's default on new installs);
refusals are always recorded.  Records go to the ``auditlog`` table and,
unless ``site.auditnosyslog`` is set, to syslog.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

_SECRET = re.compile(r"(?i)(pass(word|wd)?|secret|community|authkey|privkey|vidpassword|token)")
REDACTED = "******"


def redact(args: Sequence[str]) -> list[str]:
    """Arguments with the values of secret-looking ``key=value`` pairs hidden."""
    out: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        key, eq, _value = arg.partition("=")
        if eq and _SECRET.search(key):
            out.append(f"{key}={REDACTED}")
        elif arg in ("-p", "--password", "-P"):
            out.append(arg)
            hide_next = True
        else:
            out.append(arg)
    return out


def _skipped(site: Mapping[str, str], command: str) -> bool:
    skip = {s.strip() for s in (site.get("auditskipcmds") or "").split(",") if s.strip()}
    return "ALL" in {s.upper() for s in skip} or command in skip


def record(
    store: Any,
    site: Mapping[str, str],
    *,
    user: str | None,
    host: str | None,
    clienttype: str,
    command: str,
    noderange: str | None,
    args: Sequence[str],
    allowed: bool,
    reason: str,
) -> None:
    """Write one decision (blocking; the daemon calls it from a worker thread)."""
    if allowed and _skipped(site, command):
        return
    from xcatpy.store import rows

    entry = {
        "audittime": dt.datetime.now().strftime("%m-%d-%Y %H:%M:%S"),
        "userid": user or "",
        "clientname": host or "",
        "clienttype": clienttype,
        "command": command,
        "noderange": noderange or "",
        "args": " ".join(redact(args)),
        "status": "Allowed" if allowed else "Denied",
        "comments": reason,
    }
    with store.begin() as conn:
        rows.insert_rows(conn, store, "auditlog", [entry])
    if (site.get("auditnosyslog") or "0").strip().lower() not in ("1", "yes", "y") and os.path.exists(
        "/dev/log"
    ):
        import syslog

        syslog.openlog("xcatd", 0, syslog.LOG_LOCAL4)
        syslog.syslog(
            syslog.LOG_INFO,
            f"{entry['status']} {entry['userid'] or '(anonymous)'}@{entry['clientname']} "
            f"{command} {entry['noderange']} {entry['args']}".strip(),
        )
