"""Create or bring up to date a management node's database (``xcatconfig -i``).

Idempotent: tables are created when missing; ``site`` keys and ``policy``
rows are written only where they do not exist yet, so re-running it never
undoes an administrator's change.
"""

from __future__ import annotations

import socket
from pathlib import Path

import sqlalchemy as sa

from xcatpy.paths import Paths
from xcatpy.store import rows
from xcatpy.store.db import open_store
from xcatpy.store.schema import DEFAULT_POLICY, MN_POLICY_PRIORITY, SITE_DEFAULTS


def host_facts(paths: Paths) -> dict[str, str]:
    """Values of the host-dependent site keys for this management node."""
    fqdn = socket.getfqdn()
    short = socket.gethostname().split(".")[0]
    domain = fqdn.split(".", 1)[1] if "." in fqdn else "cluster"
    try:
        master = socket.gethostbyname(short)
    except OSError:
        master = "127.0.0.1"
    tz = "UTC"
    tzfile = Path("/etc/timezone")
    if tzfile.exists():
        tz = tzfile.read_text().strip() or tz
    return {
        "master": master,
        "domain": domain,
        "nameservers": master,
        "timezone": tz,
        "installdir": str(paths.installdir),
        "tftpdir": str(paths.tftpdir),
        "xcatconfdir": str(paths.etc),
        "hostname": short,
    }


def initialise(paths: Paths) -> list[str]:
    """Create directories, tables, default site keys and policy rows.

    Returns human-readable lines about what was done.
    """
    messages: list[str] = []
    for d in paths.all_dirs():
        d.mkdir(parents=True, exist_ok=True)
    store = open_store(paths, create=True)
    try:
        store.create_tables()
        facts = host_facts(paths)
        with store.begin() as conn:
            site = store.table("site")
            have = {k for (k,) in conn.execute(sa.select(site.c.key))}
            new_site = []
            for key, value in SITE_DEFAULTS:
                if key in have:
                    continue
                if key in facts:
                    value = facts[key]
                if value is None:
                    continue
                new_site.append({"key": key, "value": value})
            rows.insert_rows(conn, store, "site", new_site)
            pol = store.table("policy")
            have_pri = {p for (p,) in conn.execute(sa.select(pol.c.priority))}
            new_pol = []
            for priority, name, commands, rule in DEFAULT_POLICY:
                if priority in have_pri:
                    continue
                new_pol.append(
                    {
                        "priority": priority,
                        # Blank names must stay blank: they are what lets
                        # anonymous installing nodes call back.
                        "name": facts["hostname"] if priority == MN_POLICY_PRIORITY else name,
                        "commands": commands,
                        "rule": rule,
                    }
                )
            rows.insert_rows(conn, store, "policy", new_pol)
        messages.append(f"Database ready at {store.engine.url.render_as_string(hide_password=True)}")
        if new_site:
            messages.append(f"Wrote {len(new_site)} default site entries")
        if new_pol:
            messages.append(f"Wrote {len(new_pol)} default policy rows")
    finally:
        store.dispose()
    return messages
