"""xCAT's database schema as data: tables, keys, columns and first-run defaults.

Table and column names, column order and key columns are xCAT's own (``%tabspec``
in ``perl-xCAT/xCAT/Schema.pm``), so a site's ``tabdump`` CSV files restore here
unchanged.  The bulk data lives in :mod:`xcatpy.store._tabspec_data`; this module
wraps it in :class:`TableSpec` objects and adds the rows ``xcatconfig -i`` writes
on a new management node.

Stdlib only: :mod:`xcatpy.store.db` turns these specs into SQLAlchemy tables.

Two tables break the "every table ends with ``comments, disable``" rule because
xCAT defines them that way: ``zvm`` has ``discovered, status`` after ``disable``,
and ``taskstate`` has no ``comments`` column.  Both are kept as xCAT has them so
that dumps stay column-for-column identical.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from xcatpy.errors import UnknownColumnError, UnknownTableError
from xcatpy.store._tabspec_data import EXPLICIT_NODECOL, TABLE_DATA


@dataclass(frozen=True)
class TableSpec:
    """One xCAT table.

    ``keys`` are xCAT's key columns (the primary key), ``columns`` every column in
    xCAT's order.  ``nodecol`` is set only for tables that name a column holding
    node names other than through a leading ``node`` key (xCAT's ``nodecol``).
    """

    name: str
    keys: tuple[str, ...]
    columns: tuple[str, ...]
    description: str
    column_docs: Mapping[str, str] = field(compare=False, repr=False)
    nodecol: str | None = None

    @property
    def node_keyed(self) -> bool:
        """True when the first key is ``node``: group names may stand there and are inherited."""
        return bool(self.keys) and self.keys[0] == "node"

    @property
    def node_column(self) -> str | None:
        """The column that holds node (or group) names, if the table has one."""
        if self.nodecol is not None:
            return self.nodecol
        return "node" if self.node_keyed else None


def _build() -> Mapping[str, TableSpec]:
    tables: dict[str, TableSpec] = {}
    for name, keys, description, cols in TABLE_DATA:
        tables[name] = TableSpec(
            name=name,
            keys=keys,
            columns=tuple(col for col, _ in cols),
            description=description,
            column_docs=MappingProxyType(dict(cols)),
            nodecol=EXPLICIT_NODECOL.get(name),
        )
    return MappingProxyType(tables)


TABLES: Mapping[str, TableSpec] = _build()
"""Every table of xCAT's tabspec, in xCAT's order, by name."""

AUTOINCREMENT_TABLES: frozenset[str] = frozenset({"auditlog", "eventlog"})
"""Tables whose single key (``recid``) is a record number the database assigns."""


def get_table(name: str) -> TableSpec:
    """The spec of table ``name``; raises :class:`UnknownTableError`."""
    try:
        return TABLES[name]
    except KeyError:
        raise UnknownTableError(name) from None


def check_column(table: str, column: str) -> TableSpec:
    """The spec of ``table`` after checking it has ``column``.

    Raises :class:`UnknownTableError` or :class:`UnknownColumnError`.
    """
    spec = get_table(table)
    if column not in spec.column_docs:
        raise UnknownColumnError(table, column)
    return spec


# Rows `xcatconfig -i` (initDB) writes into `site` on a new Linux management node,
# in the order it writes them.  None marks a value that depends on the host and is
# worked out when the database is initialised; a row whose value comes out empty
# (forwarders when resolv.conf names only this host) is not written.
SITE_DEFAULTS: tuple[tuple[str, str | None], ...] = (
    ("blademaxp", "64"),            # parallel processes for blade hardware control
    ("domain", None),               # DNS domain of the host (hostname -d)
    ("fsptimeout", "0"),            # FSP timeout in ms; 0 = built-in value
    ("installdir", "/install"),     # root of OS images, postscripts and templates
    ("ipmimaxp", "64"),             # parallel processes for IPMI control
    ("ipmiretries", "3"),           # retries per BMC request
    ("ipmitimeout", "2"),           # seconds to wait for a BMC reply
    ("consoleondemand", "no"),      # console server keeps every console open
    ("master", None),               # IP address of the management node's host name
    ("forwarders", None),           # resolv.conf name servers other than this host
    ("nameservers", None),          # same value as master: the MN serves DNS
    ("maxssh", "8"),                # SSH sessions per Power control point
    ("ppcmaxp", "64"),              # parallel processes for Power control
    ("ppcretry", "3"),              # connection attempts to an HMC
    ("ppctimeout", "0"),            # HMC timeout in ms; 0 = built-in value
    ("powerinterval", "0"),         # no pause between LPAR power actions
    ("syspowerinterval", "0"),      # no pause between batches of rpower on
    ("sharedtftp", "1"),            # service nodes share the MN's tftpdir
    ("SNsyncfiledir", "/var/xcat/syncfiles"),          # xdcp staging dir on SNs
    ("nodesyncfiledir", "/var/xcat/node/syncfiles"),   # xdcp target dir on nodes
    ("tftpdir", "/tftpboot"),       # TFTP root
    ("xcatdport", "3001"),          # xcatd client port
    ("xcatiport", "3002"),          # install-monitor port for node status updates
    ("xcatconfdir", "/etc/xcatpy"),  # xCAT writes /etc/xcat; ours is /etc/xcatpy
    ("timezone", None),             # time zone of the host, e.g. Europe/Berlin
    ("useNmapfromMN", "no"),        # nodestat probes from the service nodes
    ("enableASMI", "no"),           # no ASMI fallback for Power hardware
    ("db2installloc", "/mntdb2"),   # where SNs mount DB2 install media
    ("databaseloc", "/var/lib"),    # where a DB2 instance would live
    ("sshbetweennodes", "ALLGROUPS"),  # passwordless root SSH between all nodes
    ("dnshandler", "ddns"),         # makedns plugin
    ("vsftp", "n"),                 # xcatd does not start vsftpd
    ("cleanupxcatpost", "no"),      # keep /xcatpost on diskless nodes
    ("cleanupdiskfullxcatpost", "no"),  # keep /xcatpost on diskful nodes
    ("dhcplease", "43200"),         # DHCP lease time in seconds
    ("auditnosyslog", "0"),         # audited commands go to syslog too
    ("xcatsslversion", ""),         # no override: xcattlspolicy decides
    ("xcattlspolicy", "modern"),    # TLS 1.2 or newer (written by xCAT 2.17+)
    ("auditskipcmds", "ALL"),       # audit log records no commands by default
)

SITE_KEY_DOCS: Mapping[str, str] = MappingProxyType({
    "master": "Management node address as the nodes know it.",
    "domain": "DNS domain of the cluster.",
    "nameservers": "DNS servers the nodes use; <xcatmaster> means each node's MN or SN.",
    "forwarders": "Outside DNS servers the MN's DNS forwards unknown names to.",
    "installdir": "Directory holding deployment files on the MN (default /install).",
    "tftpdir": "TFTP root directory (default /tftpboot).",
    "tftpflags": "Options used to start the TFTP daemon.",
    "xcatdport": "TCP port of xcatd for client requests (default 3001).",
    "xcatiport": "Port where xcatd takes install status updates from nodes (default 3002).",
    "xcatlport": "Port of xcatd's command output log writer.",
    "xcatconfdir": "Configuration directory of the daemon.",
    "xcatmaxconnections": "Concurrent requests xcatd serves before queueing (default 64).",
    "xcatmaxbatchconnections": "Concurrent node requests allowed; below xcatmaxconnections (default 50).",
    "xcatsslversion": "Explicit TLS protocol setting for xcatd; empty lets xcattlspolicy decide.",
    "xcatsslciphers": "Cipher list for xcatd's TLS connections; empty uses the library default.",
    "xcattlspolicy": "TLS policy when xcatsslversion is empty: modern (TLS 1.2+, default) or legacy.",
    "auditskipcmds": "Commands or clienttype:X left out of the audit log; ALL skips everything.",
    "auditnosyslog": "1 writes audited commands only to the auditlog table, not to syslog.",
    "excludenodes": "Nodes or groups removed from every noderange.",
    "hierarchicalattrs": "Attributes whose node and group values are combined, as attr[:delim],...",
    "ipmitimeout": "Seconds to wait for a BMC reply (default 2).",
    "ipmiretries": "Retries of a BMC request (default 3).",
    "ipmidispatch": "y (default) runs IPMI control on the nodes' service nodes; n on the MN.",
    "ipmisdrcache": "'no' turns off the local cache of BMC sensor (SDR) data.",
    "ipmimaxp": "Parallel IPMI workers, each talking to up to 32 BMCs at once (default 64).",
    "syspowerinterval": "Seconds rpower waits between batches of syspowermaxnodes (default 0).",
    "syspowermaxnodes": "Nodes powered on per batch when syspowerinterval is set.",
    "powerinterval": "Seconds rpower waits between LPARs on Power hardware (default 0).",
    "vmmaxp": "Parallel processes for virtual machine operations.",
    "dhcpsetup": "'n' makes nodeset leave DHCP alone.",
    "dhcpinterfaces": "Interfaces DHCP listens on, optionally per host or group (mn|eth1;service|bond0).",
    "dhcplease": "DHCP lease time in seconds (default 43200).",
    "disjointdhcps": "1: each service node's DHCP serves only the nodes it manages.",
    "sharedtftp": "1/yes (default): service nodes share tftpdir; a host name mounts it from there.",
    "dnshandler": "Plugin makedns uses to manage DNS (ddns).",
    "consoleondemand": "yes: consoles are connected only while open (default no on Linux).",
    "consoleservice": "Console server to use: conserver or goconserver.",
    "nodestatus": "'n' stops updating nodelist.status during deployment and power actions.",
    "useflowcontrol": "yes: nodes wait for xcatd's go-ahead over UDP before postscript requests.",
    "precreatemypostscripts": "yes: nodeset and updatenode pre-build each node's mypostscript.",
    "secureroot": "1: pass the root password hash over a secure channel during install.",
    "xcatdebugmode": "Provisioning debug level: 0 off, 1 basic, 2 expert.",
    "httpport": "HTTP port nodes use to reach the MN or SN web server (default 80).",
    "tokenexpiredays": "Days before a REST API token expires (default 1; 'never' for no limit).",
    "openbmcperl": "Commands (or ALL) that use the Perl OpenBMC code instead of Python.",
    "pruneservices": "yes: noderm also removes the nodes' DHCP and other service entries.",
    "blademaxp": "Parallel processes for blade hardware control.",
    "fsptimeout": "Timeout in milliseconds for talking to FSPs.",
    "maxssh": "Concurrent SSH sessions to one Power control point (default 8).",
    "ppcmaxp": "Parallel processes for Power hardware control (default 64).",
    "ppcretry": "Connection attempts to an HMC before giving up (default 3).",
    "ppctimeout": "Timeout in milliseconds for Power control through an HMC.",
    "SNsyncfiledir": "Directory on service nodes where xdcp stages files for their nodes.",
    "nodesyncfiledir": "Directory on nodes that xdcp syncs files into.",
    "timezone": "Time zone of the cluster, e.g. America/New_York.",
    "ntpservers": "NTP servers for SNs and nodes; <xcatmaster> means each node's MN or SN.",
    "extntpservers": "Outside NTP servers the MN synchronises with.",
    "useNmapfromMN": "yes: nodestat runs nmap from the MN instead of the service nodes.",
    "enableASMI": "yes: fall back to ASMI after fsp-api for Power hardware.",
    "db2installloc": "host:/path service nodes mount to install DB2 (default /mntdb2).",
    "databaseloc": "Directory for a DB2 instance (default /var/lib).",
    "sshbetweennodes": "Groups whose nodes get passwordless root SSH; ALLGROUPS or NOGROUPS.",
    "vsftp": "y: xcatd starts vsftpd on the MN (default n).",
    "cleanupxcatpost": "yes: remove /xcatpost on diskless nodes after the postscripts.",
    "cleanupdiskfullxcatpost": "yes: remove /xcatpost on diskful nodes after clean postscripts.",
})
"""One-line descriptions of the common ``site`` keys (used for man5/site)."""

MN_POLICY_PRIORITY = "1.2"
"""Priority of the default policy row trusting the management node's own certificate."""

# Rows `xcatconfig -i` writes into `policy` on Linux: (priority, name, commands, rule).
# None is an empty column, except the name of the MN_POLICY_PRIORITY row, which is
# filled with the management node's host name (the CN of its server certificate).
DEFAULT_POLICY: tuple[tuple[str, str | None, str | None, str], ...] = (
    ("1", "root", None, "allow"),
    (MN_POLICY_PRIORITY, None, None, "trusted"),
    ("2", None, "getbmcconfig", "allow"),
    ("2.1", None, "remoteimmsetup", "allow"),
    ("2.3", None, "lsxcatd", "allow"),
    ("3", None, "nextdestiny", "allow"),
    ("4", None, "getdestiny", "allow"),
    ("4.4", None, "getpostscript", "allow"),
    ("4.5", None, "getcredentials", "allow"),
    ("4.6", None, "syncfiles", "allow"),
    ("4.7", None, "litefile", "allow"),
    ("4.8", None, "litetree", "allow"),
    ("4.9", None, "getadapter", "allow"),
)
