"""Fake node definitions for scale tests, laid out the way xCAT's ``xcatperftest`` does.

xcatperftest (``xCAT-test/bin/xcatperftest``) names its nodes ``<prefix>1`` ..
``<prefix>N`` (prefix ``fake``), puts them in ``all`` and one group of all
fake nodes (``perftest``, its ``#PERFGRP#`` macro; here ``perfgrp``), fills
rows of 250 nodes and gives node *j* of a row the provisioning address
``<pro>.<row>.<j>`` and the BMC address ``<bmc>.<row>.<j>`` with a random
``00:60:2F`` MAC.  This module builds the same population, deterministically
for a given seed, in two forms:

* :func:`stanza` -- an xCAT stanza file for ``mkdef -z`` (xcatstanzafile(5));
  every attribute is set on the node itself, as xcatperftest does;
* :func:`tables` -- ``tabdump``-format CSV per table for ``tabrestore`` /
  ``restorexCATdb -p``; here ``hosts.ip`` is *not* stored per node but as one
  ``|pattern|replacement|`` regex row per row group (``row1``, ``row2``, ...),
  so reading an address exercises group inheritance and regex evaluation.

Both forms resolve to the same attribute values for every node.

Layout for node number ``i`` (1-based): row ``r = (i-1) // 250 + 1``, slot
``j = (i-1) % 250 + 1``, rack ``k = (i-1) // 50 + 1`` (five racks per row):

* groups ``all,perfgrp,row<r>,rack<k>``;
* ip ``10.<r>.0.<j>``, bmc ``10.<r>.128.<j>`` -- private numbers, rows of one
  /24 each; from row 256 on the row's high bits go to the third octet
  (``10.<r%256>.<r//256>.<j>``, ``10.<r%256>.<128+r//256>.<j>``);
* switch ``sw<k>`` port ``(i-1) % 50 + 1``.

The addresses are data only: nothing here, or in the benchmark that uses it,
contacts them.

Command line (used by the demo and ``bench/db_scale``)::

    python -m xcatpy.perfnodes stanza N [--prefix P] [--seed S]      # to stdout
    python -m xcatpy.perfnodes tables N DIR [--prefix P] [--seed S]  # DIR/<table>.csv
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

NODES_PER_ROW = 250
NODES_PER_RACK = 50
DEFAULT_PREFIX = "fake"
DEFAULT_GROUP = "perfgrp"
DEFAULT_SEED = 0
MAC_OUI = "00:60:2F"  # xcatperftest's genMAC prefix

# Third octet: provisioning 0..127, BMCs 128..255 (plus the row's high bits).
_PROV_THIRD = 0
_BMC_THIRD = 128
MAX_ROWS = 128 * 256 - 1
MAX_NODES = MAX_ROWS * NODES_PER_ROW

OS = "rhels9.4"
ARCH = "x86_64"
PROFILE = "compute"
NETBOOT = "pxe"
MGT = "ipmi"
BMC_USER = "fake"  # xcatperftest sets bmcusername/bmcpassword to "fake"
BMC_PASSWORD = "fake"
MTM = "7X21CTO1WW"
# Weighted so that `lsdef -w status==booted` selects most, not all, nodes.
_STATUSES = ("booted", "booted", "booted", "powering-on", "installing")

_PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z_-]*\Z")

# Full xCAT column lists (tabspec order, with the trailing comments/disable)
# of every table this module writes.
COLUMNS: dict[str, tuple[str, ...]] = {
    "nodelist": ("node", "groups", "status", "statustime", "appstatus", "appstatustime",
                 "primarysn", "hidden", "updatestatus", "updatestatustime", "zonename",
                 "comments", "disable"),
    "nodehm": ("node", "power", "mgt", "cons", "termserver", "termport", "conserver",
               "serialport", "serialspeed", "serialflow", "getmac", "cmdmapping",
               "consoleondemand", "consoleenabled", "comments", "disable"),
    "nodetype": ("node", "os", "arch", "profile", "provmethod", "supportedarchs", "nodetype",
                 "comments", "disable"),
    "noderes": ("node", "servicenode", "netboot", "tftpserver", "tftpdir", "nfsserver",
                "monserver", "nfsdir", "installnic", "primarynic", "discoverynics",
                "cmdinterface", "xcatmaster", "current_osimage", "next_osimage", "nimserver",
                "routenames", "nameservers", "proxydhcp", "syslog", "comments", "disable"),
    "ipmi": ("node", "bmc", "bmcport", "taggedvlan", "bmcid", "username", "password",
             "comments", "disable"),
    "hosts": ("node", "ip", "hostnames", "otherinterfaces", "comments", "disable"),
    "mac": ("node", "interface", "mac", "comments", "disable"),
    "vpd": ("node", "serial", "mtm", "side", "asset", "uuid", "comments", "disable"),
    "switch": ("node", "switch", "port", "vlan", "interface", "comments", "disable"),
}


@dataclass(frozen=True)
class FakeNode:
    """One generated node and every attribute it gets."""

    name: str
    index: int  # 1-based node number
    row: int  # 1-based row of 250
    slot: int  # 1..250 within the row
    rack: int  # 1-based rack of 50
    groups: str
    ip: str
    bmc: str
    mac: str
    status: str
    serial: str
    switch: str
    switchport: str

    def attrs(self) -> dict[str, str]:
        """Object attributes (lsdef names) in the order the stanza lists them."""
        return {
            "groups": self.groups,
            "ip": self.ip,
            "mac": self.mac,
            "mgt": MGT,
            "cons": MGT,
            "bmc": self.bmc,
            "bmcusername": BMC_USER,
            "bmcpassword": BMC_PASSWORD,
            "netboot": NETBOOT,
            "os": OS,
            "arch": ARCH,
            "profile": PROFILE,
            "status": self.status,
            "serial": self.serial,
            "mtm": MTM,
            "switch": self.switch,
            "switchport": self.switchport,
        }


def row_group(row: int) -> str:
    return f"row{row}"


def rack_group(rack: int) -> str:
    return f"rack{rack}"


def _net(third: int, row: int) -> str:
    return f"10.{row % 256}.{third + row // 256}"


def ip_of(row: int, slot: int) -> str:
    """Provisioning address of slot ``slot`` (1..250) in row ``row``."""
    return f"{_net(_PROV_THIRD, row)}.{slot}"


def bmc_of(row: int, slot: int) -> str:
    """BMC address of slot ``slot`` (1..250) in row ``row``."""
    return f"{_net(_BMC_THIRD, row)}.{slot}"


def ip_regex(row: int) -> str:
    """The ``hosts.ip`` value of group ``row<row>``: an xCAT arithmetic regex.

    ``|\\D+(\\d+)|10.<row>.0.(($1-1)%250+1)|`` takes the node number from the
    name and maps it to its slot in the row.  It needs a prefix without
    digits, which :func:`nodes` enforces.
    """
    return f"|\\D+(\\d+)|{_net(_PROV_THIRD, row)}.(($1-1)%{NODES_PER_ROW}+1)|"


def _check(n: int, prefix: str, group: str) -> None:
    if not 0 <= n <= MAX_NODES:
        raise ValueError(f"node count {n} is outside 0..{MAX_NODES}")
    if not _PREFIX_RE.match(prefix):
        raise ValueError(
            f"prefix {prefix!r} must be letters, '_' or '-' (no digits: the ip regex "
            "takes the node number from the first digit run)"
        )
    if not _PREFIX_RE.match(group) or group == "all":
        raise ValueError(f"group {group!r} must be a name without digits, other than 'all'")


def nodes(n: int, prefix: str = DEFAULT_PREFIX, seed: int = DEFAULT_SEED,
          group: str = DEFAULT_GROUP) -> list[FakeNode]:
    """The ``n`` nodes ``<prefix>1`` .. ``<prefix>n``; same arguments, same nodes.

    Node ``i`` does not depend on ``n``: ``nodes(300)[:2] == nodes(2)``.

    Raises ValueError for a prefix or group name the layout cannot use, or
    ``n`` outside ``0..MAX_NODES``.
    """
    _check(n, prefix, group)
    # One stream drawn node by node, so node i is the same whatever n is.
    rng = random.Random(seed)
    used: set[int] = set()
    out: list[FakeNode] = []
    for i in range(1, n + 1):
        row0, slot0 = divmod(i - 1, NODES_PER_ROW)
        rack0, port0 = divmod(i - 1, NODES_PER_RACK)
        row, rack = row0 + 1, rack0 + 1
        # Distinct MACs: 20,000 free draws from 2**24 would collide ~12 times.
        m = rng.getrandbits(24)
        while m in used:
            m = rng.getrandbits(24)
        used.add(m)
        out.append(FakeNode(
            name=f"{prefix}{i}",
            index=i,
            row=row,
            slot=slot0 + 1,
            rack=rack,
            groups=f"all,{group},{row_group(row)},{rack_group(rack)}",
            ip=ip_of(row, slot0 + 1),
            bmc=bmc_of(row, slot0 + 1),
            mac=f"{MAC_OUI}:{m >> 16:02X}:{(m >> 8) & 0xFF:02X}:{m & 0xFF:02X}",
            status=rng.choice(_STATUSES),
            serial=f"FK{rng.getrandbits(32):08X}",
            switch=f"sw{rack}",
            switchport=str(port0 + 1),
        ))
    return out


def stanza(n: int, prefix: str = DEFAULT_PREFIX, seed: int = DEFAULT_SEED,
           group: str = DEFAULT_GROUP) -> str:
    """An xCAT stanza file defining ``n`` fake nodes, for ``mkdef -z``."""
    parts = ["# <xCAT data object stanza file>\n"]
    for node in nodes(n, prefix, seed, group):
        lines = [f"\n{node.name}:\n", "    objtype=node\n"]
        lines.extend(f"    {k}={v}\n" for k, v in node.attrs().items())
        parts.append("".join(lines))
    return "".join(parts)


def csv_text(columns: Sequence[str], rows: Iterable[dict[str, str]]) -> str:
    """Rows in tabdump format: ``#col,...`` then every non-NULL value quoted."""

    def field(value: str | None) -> str:
        return "" if value is None else '"' + value.replace('"', '""') + '"'

    lines = ["#" + ",".join(columns)]
    lines.extend(",".join(field(row.get(c)) for c in columns) for row in rows)
    return "\n".join(lines) + "\n"


def table_rows(n: int, prefix: str = DEFAULT_PREFIX, seed: int = DEFAULT_SEED,
               group: str = DEFAULT_GROUP) -> dict[str, list[dict[str, str]]]:
    """The rows of :func:`tables`, as dictionaries (missing column = NULL)."""
    fake = nodes(n, prefix, seed, group)
    rows: dict[str, list[dict[str, str]]] = {t: [] for t in COLUMNS}
    for f in fake:
        rows["nodelist"].append({"node": f.name, "groups": f.groups, "status": f.status})
        rows["nodehm"].append({"node": f.name, "mgt": MGT, "cons": MGT})
        rows["nodetype"].append({"node": f.name, "os": OS, "arch": ARCH, "profile": PROFILE})
        rows["noderes"].append({"node": f.name, "netboot": NETBOOT})
        rows["ipmi"].append({"node": f.name, "bmc": f.bmc, "username": BMC_USER,
                             "password": BMC_PASSWORD})
        rows["mac"].append({"node": f.name, "mac": f.mac})
        rows["vpd"].append({"node": f.name, "serial": f.serial, "mtm": MTM})
        rows["switch"].append({"node": f.name, "switch": f.switch, "port": f.switchport})
    n_rows = (n + NODES_PER_ROW - 1) // NODES_PER_ROW
    rows["hosts"] = [{"node": row_group(r), "ip": ip_regex(r)} for r in range(1, n_rows + 1)]
    return rows


def tables(n: int, prefix: str = DEFAULT_PREFIX, seed: int = DEFAULT_SEED,
           group: str = DEFAULT_GROUP) -> dict[str, str]:
    """table name -> tabdump CSV text defining ``n`` fake nodes, for ``tabrestore``."""
    return {t: csv_text(COLUMNS[t], rs) for t, rs in table_rows(n, prefix, seed, group).items()}


def write_tables(directory: Path, n: int, prefix: str = DEFAULT_PREFIX,
                 seed: int = DEFAULT_SEED, group: str = DEFAULT_GROUP) -> list[Path]:
    """Write :func:`tables` as ``directory/<table>.csv``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table, text in tables(n, prefix, seed, group).items():
        path = directory / f"{table}.csv"
        path.write_text(text)
        written.append(path)
    return written


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m xcatpy.perfnodes",
        description="Generate xcatperftest-style fake node definitions.",
    )
    sub = p.add_subparsers(dest="form", required=True)
    for form, help_ in (("stanza", "print a stanza file for 'mkdef -z'"),
                        ("tables", "write <table>.csv files for tabrestore/restorexCATdb -p")):
        s = sub.add_parser(form, help=help_)
        s.add_argument("count", type=int, help="number of nodes")
        if form == "tables":
            s.add_argument("directory", type=Path, help="where to write the CSV files")
        s.add_argument("--prefix", default=DEFAULT_PREFIX, help="node name prefix (default %(default)s)")
        s.add_argument("--group", default=DEFAULT_GROUP, help="group of all fake nodes (default %(default)s)")
        s.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.form == "stanza":
            sys.stdout.write(stanza(args.count, args.prefix, args.seed, args.group))
        else:
            write_tables(args.directory, args.count, args.prefix, args.seed, args.group)
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
