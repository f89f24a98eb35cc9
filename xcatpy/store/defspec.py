"""The object layer behind lsdef/mkdef/chdef/rmdef: which attribute lives where.

Object types, attribute names, their order, the ``table.column`` each maps to and
the ``only_if`` conditions are xCAT's (``%defspec`` in ``perl-xCAT/xCAT/Schema.pm``).
An attribute may be listed several times with different conditions, e.g. ``bmc``
is ``ipmi.bmc`` when ``mgt=ipmi`` and ``openbmc.bmc`` when ``mgt=openbmc``.
Descriptions default to the description of the column the attribute maps to.

Which row holds an attribute is not always "the table's first key equals the
object name"; :func:`row_key` gives the lookup for each case.  Types xCAT treats
specially:

* ``site`` has a single object, ``clustersite``; every row of the ``site`` table
  is one of its attributes (``key`` = attribute, ``value`` = value), not only the
  three xCAT lists in defspec.
* ``group`` objects are the ``nodegroup`` rows plus every name found in
  ``nodelist.groups``; group attributes other than the ``nodegroup`` ones are
  stored in rows whose node column holds the group name.
* ``monitoring`` objects also show the plug-in's ``monsetting`` rows as attributes.
* ``zvmivp`` exists in xCAT's defspec without any attributes.

Stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from xcatpy.errors import ObjectError
from xcatpy.store.schema import SITE_KEY_DOCS, TABLES

SITE_OBJECT = "clustersite"
"""The name of the one object of type ``site``."""


@dataclass(frozen=True)
class AttrSpec:
    """Where one object attribute is stored, and when."""

    attr: str
    table: str
    column: str
    only_if: tuple[str, str] | None
    description: str


@dataclass(frozen=True)
class ObjectType:
    """One object type: its key attribute, the table listing its objects, its attributes."""

    name: str
    key_attr: str
    key_table: str
    attrs: tuple[AttrSpec, ...]

    def attr_specs(self, attr: str) -> tuple[AttrSpec, ...]:
        """Every mapping of ``attr`` in xCAT's order; empty when the type has no such attribute."""
        return tuple(spec for spec in self.attrs if spec.attr == attr)

    @property
    def attr_names(self) -> tuple[str, ...]:
        """Attribute names in xCAT's order, each once."""
        return tuple(dict.fromkeys(spec.attr for spec in self.attrs))


# ---------------------------------------------------------------------------
# xCAT's defspec: (attribute, "table.column", only_if or None), in xCAT's order.

_Row = tuple[str, str, str | None]

# Attributes shared by node and group objects (xCAT's @nodeattrs).
_NODE_AND_GROUP: tuple[_Row, ...] = (
    ("nodetype", "nodetype.nodetype", None),
    ("postscripts", "postscripts.postscripts", None),
    ("postbootscripts", "postscripts.postbootscripts", None),
    ("xcatmaster", "noderes.xcatmaster", None),
    ("servicenode", "noderes.servicenode", None),
    ("tftpserver", "noderes.tftpserver", None),
    ("tftpdir", "noderes.tftpdir", None),
    ("nfsserver", "noderes.nfsserver", None),
    ("nimserver", "noderes.nimserver", None),
    ("nfsdir", "noderes.nfsdir", None),
    ("monserver", "noderes.monserver", None),
    ("supportproxydhcp", "noderes.proxydhcp", None),
    ("syslog", "noderes.syslog", None),
    ("kernel", "bootparams.kernel", None),
    ("initrd", "bootparams.initrd", None),
    ("kcmdline", "bootparams.kcmdline", None),
    ("addkcmdline", "bootparams.addkcmdline", None),
    ("primarynic", "noderes.primarynic", None),
    ("installnic", "noderes.installnic", None),
    ("netboot", "noderes.netboot", None),
    ("nameservers", "noderes.nameservers", None),
    ("routenames", "noderes.routenames", None),
    ("setupnameserver", "servicenode.nameserver", None),
    ("setupdhcp", "servicenode.dhcpserver", None),
    ("setuptftp", "servicenode.tftpserver", None),
    ("setupnfs", "servicenode.nfsserver", None),
    ("setupconserver", "servicenode.conserver", None),
    ("setupipforward", "servicenode.ipforward", None),
    ("setupproxydhcp", "servicenode.proxydhcp", None),
    ("setupldap", "servicenode.ldapserver", None),
    ("setupntp", "servicenode.ntpserver", None),
    ("setupftp", "servicenode.ftpserver", None),
    ("setupnim", "servicenode.nimserver", None),
    ("dhcpinterfaces", "servicenode.dhcpinterfaces", None),
    ("arch", "nodetype.arch", None),
    ("supportedarchs", "nodetype.supportedarchs", None),
    ("os", "nodetype.os", None),
    ("profile", "nodetype.profile", None),
    ("provmethod", "nodetype.provmethod", None),
    ("iscsiserver", "iscsi.server", None),
    ("iscsitarget", "iscsi.target", None),
    ("iscsiuserid", "iscsi.userid", None),
    ("iscsipassword", "iscsi.passwd", None),
    ("mgt", "nodehm.mgt", None),
    ("power", "nodehm.power", None),
    ("cons", "nodehm.cons", None),
    ("termserver", "nodehm.termserver", None),
    ("termport", "nodehm.termport", None),
    ("conserver", "nodehm.conserver", None),
    ("getmac", "nodehm.getmac", None),
    ("cmdmapping", "nodehm.cmdmapping", None),
    ("serialport", "nodehm.serialport", None),
    ("serialspeed", "nodehm.serialspeed", None),
    ("serialflow", "nodehm.serialflow", None),
    ("consoleondemand", "nodehm.consoleondemand", None),
    ("consoleenabled", "nodehm.consoleenabled", None),
    ("serial", "vpd.serial", None),
    ("mtm", "vpd.mtm", None),
    ("side", "vpd.side", None),
    ("interface", "mac.interface", None),
    ("mac", "mac.mac", None),
    ("chain", "chain.chain", None),
    ("ondiscover", "chain.ondiscover", None),
    ("currstate", "chain.currstate", None),
    ("currchain", "chain.currchain", None),
    ("username", "ppchcp.username", "nodetype=ivm"),
    ("password", "ppchcp.password", "nodetype=ivm"),
    ("username", "ppchcp.username", "nodetype=hmc"),
    ("password", "ppchcp.password", "nodetype=hmc"),
    ("username", "ppchcp.username", "nodetype=ppc"),
    ("password", "ppchcp.password", "nodetype=ppc"),
    ("hcp", "ppc.hcp", None),
    ("id", "ppc.id", None),
    ("pprofile", "ppc.pprofile", "mgt=hmc"),
    ("pprofile", "ppc.pprofile", "mgt=ivm"),
    ("pprofile", "ppc.pprofile", "mgt=fsp"),
    ("parent", "ppc.parent", "mgt=hmc"),
    ("parent", "ppc.parent", "mgt=ivm"),
    ("parent", "ppc.parent", "mgt=bpa"),
    ("parent", "ppc.parent", "mgt=fsp"),
    ("hwtype", "ppc.nodetype", "mgt=fsp"),
    ("hwtype", "ppc.nodetype", "mgt=bpa"),
    ("hwtype", "ppc.nodetype", "mgt=ivm"),
    ("hwtype", "ppc.nodetype", "mgt=hmc"),
    ("hwtype", "zvm.nodetype", "mgt=zvm"),
    ("hwtype", "mp.nodetype", "mgt=blade"),
    ("hwtype", "mp.nodetype", "mgt=ipmi"),
    ("hwtype", "mp.nodetype", "mgt=openbmc"),
    ("supernode", "ppc.supernode", None),
    ("sfp", "ppc.sfp", None),
    # ppcdirect rows are keyed by (hcp, username): the user is the name's suffix.
    ("passwd.HMC", "ppcdirect.password", "mgt=fsp"),
    ("passwd.hscroot", "ppcdirect.password", "mgt=fsp"),
    ("passwd.admin", "ppcdirect.password", "mgt=fsp"),
    ("passwd.general", "ppcdirect.password", "mgt=fsp"),
    ("passwd.celogin", "ppcdirect.password", "mgt=fsp"),
    ("passwd.celogin", "ppcdirect.password", "mgt=bpa"),
    ("passwd.HMC", "ppcdirect.password", "mgt=bpa"),
    ("passwd.hscroot", "ppcdirect.password", "mgt=bpa"),
    ("passwd.admin", "ppcdirect.password", "mgt=bpa"),
    ("passwd.general", "ppcdirect.password", "mgt=bpa"),
    ("hcp", "zvm.hcp", "mgt=zvm"),
    ("userid", "zvm.userid", "mgt=zvm"),
    ("bmc", "ipmi.bmc", "mgt=ipmi"),
    ("bmcport", "ipmi.bmcport", "mgt=ipmi"),
    ("bmcusername", "ipmi.username", "mgt=ipmi"),
    ("bmcpassword", "ipmi.password", "mgt=ipmi"),
    ("bmcvlantag", "ipmi.taggedvlan", "mgt=ipmi"),
    ("mpa", "mp.mpa", None),
    ("slotid", "mp.id", "mgt=fsp"),
    ("id", "mp.id", "mgt=blade"),
    ("slotid", "mp.id", "mgt=ipmi"),
    ("username", "mpa.username", "nodetype=mm"),
    ("password", "mpa.password", "nodetype=mm"),
    ("displayname", "mpa.displayname", "nodetype=mm"),
    ("slots", "mpa.slots", "nodetype=mm"),
    ("urlpath", "mpa.urlpath", "nodetype=mm"),
    ("bmc", "openbmc.bmc", "mgt=openbmc"),
    ("bmcusername", "openbmc.username", "mgt=openbmc"),
    ("bmcpassword", "openbmc.password", "mgt=openbmc"),
    ("consport", "openbmc.consport", "mgt=openbmc"),
    ("bmcvlantag", "openbmc.taggedvlan", "mgt=openbmc"),
    ("rack", "nodepos.rack", None),
    ("unit", "nodepos.u", None),
    ("chassis", "nodepos.chassis", None),
    ("slot", "nodepos.slot", None),
    ("room", "nodepos.room", None),
    ("height", "nodepos.height", None),
    ("nicips", "nics.nicips", None),
    ("nichostnamesuffixes", "nics.nichostnamesuffixes", None),
    ("nichostnameprefixes", "nics.nichostnameprefixes", None),
    ("nictypes", "nics.nictypes", None),
    ("niccustomscripts", "nics.niccustomscripts", None),
    ("nicnetworks", "nics.nicnetworks", None),
    ("nicaliases", "nics.nicaliases", None),
    ("nicextraparams", "nics.nicextraparams", None),
    ("nicdevices", "nics.nicdevices", None),
    ("nicsadapter", "nics.nicsadapter", None),
    ("productkey", "prodkey.key", None),
    ("ou", "domain.ou", None),
    ("domainadminuser", "domain.adminuser", None),
    ("domainadminpassword", "domain.adminpassword", None),
    ("authdomain", "domain.authdomain", None),
    ("domaintype", "domain.type", None),
    ("osvolume", "storage.osvolume", None),
    ("storagcontroller", "storage.controller", None),  # sic, as xCAT spells it
    ("storagetype", "storage.type", None),
    ("vmmanager", "vm.mgr", None),
    ("vmhost", "vm.host", None),
    ("migrationdest", "vm.migrationdest", None),
    ("vmstorage", "vm.storage", None),
    ("vmphyslots", "vm.physlots", None),
    ("vmothersetting", "vm.othersettings", None),
    ("vmstoragemodel", "vm.storagemodel", None),
    ("vmstoragecache", "vm.storagecache", None),
    ("vmstorageformat", "vm.storageformat", None),
    ("vmcfgstore", "vm.cfgstore", None),
    ("vmmemory", "vm.memory", None),
    ("vmcpus", "vm.cpus", None),
    ("vmnics", "vm.nics", None),
    ("vmnicnicmodel", "vm.nicmodel", None),
    ("vmbootorder", "vm.bootorder", None),
    ("vmvirtflags", "vm.virtflags", None),
    ("vmmaster", "vm.master", None),
    ("vmvncport", "vm.vncport", None),
    ("vmtextconsole", "vm.textconsole", None),
    ("vmbeacon", "vm.beacon", None),
    ("vmcluster", "vm.cluster", None),
    ("hosttype", "hypervisor.type", None),
    ("hostinterface", "hypervisor.interface", None),
    ("hostmanager", "hypervisor.mgr", None),
    ("hostcluster", "hypervisor.cluster", None),
    ("webport", "websrv.port", "nodetype=websrv"),
    ("username", "websrv.username", "nodetype=websrv"),
    ("password", "websrv.password", "nodetype=websrv"),
    ("pdu", "pduoutlet.pdu", None),
    ("switch", "switch.switch", None),
    ("switchport", "switch.port", None),
    ("switchvlan", "switch.vlan", None),
    ("switchinterface", "switch.interface", None),
    ("ip", "hosts.ip", None),
    ("hostnames", "hosts.hostnames", None),
    ("otherinterfaces", "hosts.otherinterfaces", None),
    ("prescripts-begin", "prescripts.begin", None),
    ("prescripts-end", "prescripts.end", None),
    ("cfgmgr", "cfgmgt.cfgmgr", None),
    ("cfgserver", "cfgmgt.cfgserver", None),
    ("cfgmgtroles", "cfgmgt.roles", None),
    ("michost", "mic.host", "mgt=mic"),
    ("micid", "mic.id", "mgt=mic"),
    ("hwtype", "mic.nodetype", "mgt=mic"),
    ("micbridge", "mic.bridge", "mgt=mic"),
    ("miconboot", "mic.onboot", "mgt=mic"),
    ("micvlog", "mic.vlog", "mgt=mic"),
    ("micpowermgt", "mic.powermgt", "mgt=mic"),
    ("cputype", "hwinv.cputype", None),
    ("cpucount", "hwinv.cpucount", None),
    ("memory", "hwinv.memory", None),
    ("disksize", "hwinv.disksize", None),
    ("nodetype", "pdu.nodetype", "nodetype=pdu"),
    ("pdutype", "pdu.pdutype", "nodetype=pdu"),
    ("outlet", "pdu.outlet", "nodetype=pdu"),
    ("username", "pdu.username", "nodetype=pdu"),
    ("password", "pdu.password", "nodetype=pdu"),
    ("snmpversion", "pdu.snmpversion", "nodetype=pdu"),
    ("community", "pdu.community", "nodetype=pdu"),
    ("snmpuser", "pdu.snmpuser", "nodetype=pdu"),
    ("authtype", "pdu.authtype", "nodetype=pdu"),
    ("authkey", "pdu.authkey", "nodetype=pdu"),
    ("privtype", "pdu.privtype", "nodetype=pdu"),
    ("privkey", "pdu.privkey", "nodetype=pdu"),
    ("seclevel", "pdu.seclevel", "nodetype=pdu"),
    ("snmpusername", "switches.username", "nodetype=switch"),
    ("snmppassword", "switches.password", "nodetype=switch"),
    ("snmpversion", "switches.snmpversion", "nodetype=switch"),
    ("snmpprivacy", "switches.privacy", "nodetype=switch"),
    ("snmpauth", "switches.auth", "nodetype=switch"),
    ("linkports", "switches.linkports", "nodetype=switch"),
    ("username", "switches.sshusername", "nodetype=switch"),
    ("password", "switches.sshpassword", "nodetype=switch"),
    ("protocol", "switches.protocol", "nodetype=switch"),
    ("switchtype", "switches.switchtype", "nodetype=switch"),
)

_NODE: tuple[_Row, ...] = (
    ("node", "nodelist.node", None),
    ("groups", "nodelist.groups", None),
    ("status", "nodelist.status", None),
    ("statustime", "nodelist.statustime", None),
    ("appstatus", "nodelist.appstatus", None),
    ("appstatustime", "nodelist.appstatustime", None),
    ("primarysn", "nodelist.primarysn", None),
    ("hidden", "nodelist.hidden", None),
    ("updatestatus", "nodelist.updatestatus", None),
    ("updatestatustime", "nodelist.updatestatustime", None),
    ("zonename", "nodelist.zonename", None),
    ("usercomment", "nodelist.comments", None),
    *_NODE_AND_GROUP,
)

_GROUP: tuple[_Row, ...] = (
    ("groupname", "nodegroup.groupname", None),
    ("grouptype", "nodegroup.grouptype", None),
    ("members", "nodegroup.members", None),
    ("membergroups", "nodegroup.membergroups", None),
    ("wherevals", "nodegroup.wherevals", None),
    ("usercomment", "nodegroup.comments", None),
    *_NODE_AND_GROUP,
)

_LINUX = "imagetype=linux"
_WINDOWS = "imagetype=windows"
_NIM = "imagetype=NIM"

_OSIMAGE: tuple[_Row, ...] = (
    ("imagename", "osimage.imagename", None),
    ("groups", "osimage.groups", None),
    ("imagetype", "osimage.imagetype", None),
    ("description", "osimage.description", None),
    ("provmethod", "osimage.provmethod", None),
    ("osdistroname", "osimage.osdistroname", None),
    ("osupdatename", "osimage.osupdatename", None),
    ("cfmdir", "osimage.cfmdir", None),
    ("rootfstype", "osimage.rootfstype", _LINUX),
    ("nfsrootopts", "osimage.nfsrootopts", _LINUX),
    ("profile", "osimage.profile", None),
    ("osname", "osimage.osname", None),
    ("osvers", "osimage.osvers", None),
    ("osarch", "osimage.osarch", None),
    ("synclists", "osimage.synclists", None),
    ("postscripts", "osimage.postscripts", None),
    ("postbootscripts", "osimage.postbootscripts", None),
    ("serverrole", "osimage.serverrole", None),
    ("isdeletable", "osimage.isdeletable", None),
    ("kitcomponents", "osimage.kitcomponents", None),
    ("template", "linuximage.template", _LINUX),
    ("boottarget", "linuximage.boottarget", _LINUX),
    ("addkcmdline", "linuximage.addkcmdline", _LINUX),
    ("pkglist", "linuximage.pkglist", _LINUX),
    ("pkgdir", "linuximage.pkgdir", _LINUX),
    ("otherpkglist", "linuximage.otherpkglist", _LINUX),
    ("otherpkgdir", "linuximage.otherpkgdir", _LINUX),
    ("exlist", "linuximage.exlist", _LINUX),
    ("postinstall", "linuximage.postinstall", _LINUX),
    ("rootimgdir", "linuximage.rootimgdir", _LINUX),
    ("kerneldir", "linuximage.kerneldir", _LINUX),
    ("nodebootif", "linuximage.nodebootif", _LINUX),
    ("otherifce", "linuximage.otherifce", _LINUX),
    ("netdrivers", "linuximage.netdrivers", _LINUX),
    ("kernelver", "linuximage.kernelver", _LINUX),
    ("krpmver", "linuximage.krpmver", _LINUX),
    ("permission", "linuximage.permission", _LINUX),
    ("dump", "linuximage.dump", _LINUX),
    ("crashkernelsize", "linuximage.crashkernelsize", _LINUX),
    ("partitionfile", "linuximage.partitionfile", _LINUX),
    ("driverupdatesrc", "linuximage.driverupdatesrc", _LINUX),
    ("usercomment", "linuximage.comments", _LINUX),
    ("template", "winimage.template", _WINDOWS),
    ("installto", "winimage.installto", _WINDOWS),
    ("partitionfile", "winimage.partitionfile", _WINDOWS),
    ("winpepath", "winimage.winpepath", _WINDOWS),
    ("nimtype", "nimimage.nimtype", _NIM),
    ("nimmethod", "nimimage.nimmethod", _NIM),
    ("lpp_source", "nimimage.lpp_source", _NIM),
    ("spot", "nimimage.spot", _NIM),
    ("root", "nimimage.root", _NIM),
    ("dump", "nimimage.dump", _NIM),
    ("configdump", "nimimage.configdump", _NIM),
    ("paging", "nimimage.paging", _NIM),
    ("resolv_conf", "nimimage.resolv_conf", _NIM),
    ("image_data", "nimimage.image_data", _NIM),
    ("tmp", "nimimage.tmp", _NIM),
    ("home", "nimimage.home", _NIM),
    ("shared_home", "nimimage.shared_home", _NIM),
    ("shared_root", "nimimage.shared_root", _NIM),
    ("script", "nimimage.script", _NIM),
    ("fb_script", "nimimage.fb_script", _NIM),
    ("bosinst_data", "nimimage.bosinst_data", _NIM),
    ("installp_bundle", "nimimage.installp_bundle", _NIM),
    ("otherpkgs", "nimimage.otherpkgs", _NIM),
    ("mksysb", "nimimage.mksysb", _NIM),
    ("usercomment", "nimimage.comments", _NIM),
    ("environvar", "osimage.environvar", None),
)


def _plain(table: str, *attrs: str) -> tuple[_Row, ...]:
    """Attributes stored under their own name in ``table``, unconditionally."""
    return tuple((attr, f"{table}.{attr}", None) for attr in attrs)


def _usercomment(table: str) -> tuple[_Row, ...]:
    return (("usercomment", f"{table}.comments", None),)


_NETWORK = (
    *_plain(
        "networks", "netname", "net", "mask", "mgtifname", "gateway", "dhcpserver",
        "tftpserver", "nameservers", "ntpservers", "logservers", "dynamicrange",
        "nodehostname", "ddnsdomain", "vlanid", "domain", "staticrange",
        "staticrangeincrement", "mtu",
    ),
    *_usercomment("networks"),
)
_RACK = (*_plain("rack", "rackname", "displayname", "num", "height", "room"),
         *_usercomment("rack"))
_ZONE = (*_plain("zone", "zonename", "sshkeydir", "sshbetweennodes", "defaultzone"),
         *_usercomment("zone"))
_ROUTE = (*_plain("routes", "routename", "net", "mask", "gateway", "ifname"),
          *_usercomment("routes"))
# xCAT lists only these three; see the module docstring for the rest of site.
_SITE: tuple[_Row, ...] = (
    ("master", "site.value", None),
    ("installdir", "site.value", None),
    ("xcatdport", "site.value", None),
)
_POLICY = (
    *_plain("policy", "priority", "name", "host", "commands", "noderange", "parameters",
            "time", "rule"),
    *_usercomment("policy"),
)
_NOTIFICATION = _plain("notification", "filename", "tables", "tableops", "comments")
_MONITORING = _plain("monitoring", "name", "nodestatmon", "comments", "disable")
_EVENTLOG = _plain(
    "eventlog", "recid", "eventtime", "eventtype", "monitor", "monnode", "node",
    "application", "component", "id", "severity", "message", "rawdata", "comments", "disable",
)
_TASKSTATE = _plain("taskstate", "node", "command", "state", "pid", "reserve", "disable")
_AUDITLOG = _plain(
    "auditlog", "recid", "audittime", "userid", "clientname", "clienttype", "command",
    "noderange", "args", "status", "comments", "disable",
)
_FIRMWARE = _plain("firmware", "cfgfile", "comments", "disable")
_OSDISTRO = _plain(
    "osdistro", "osdistroname", "basename", "majorversion", "minorversion", "arch", "type",
    "dirpaths",
)
_OSDISTROUPDATE = (
    *_plain("osdistroupdate", "osupdatename", "osdistroname", "dirpath", "downloadtime"),
    *_usercomment("osdistroupdate"),
)
_KIT = _plain(
    "kit", "kitname", "basename", "description", "version", "release", "ostype",
    "isinternal", "kitdeployparams", "kitdir",
)
_KITREPO = _plain(
    "kitrepo", "kitreponame", "kitname", "osbasename", "osmajorversion", "osminorversion",
    "osarch", "compat_osbasenames", "kitrepodir",
)
_KITCOMPONENT = _plain(
    "kitcomponent", "kitcompname", "description", "kitname", "kitreponame", "basename",
    "version", "release", "serverroles", "kitpkgdeps", "prerequisite", "driverpacks",
    "kitcompdeps", "postbootscripts", "genimage_postinstall", "exlist",
)
_BOOTTARGET = _plain("boottarget", "bprofile", "kernel", "initrd", "kcmdline", "comments")
_PDU: tuple[_Row, ...] = (
    ("node", "pdu.node", "nodetype=pdu"),
    ("nodetype", "pdu.nodetype", "nodetype=pdu"),
    ("outlet", "pdu.outlet", "nodetype=pdu"),
)

# (type, key attribute, table listing the objects, attributes), in xCAT's order.
_TYPES: tuple[tuple[str, str, str, tuple[_Row, ...]], ...] = (
    ("node", "node", "nodelist", _NODE),
    ("osimage", "imagename", "osimage", _OSIMAGE),
    ("network", "netname", "networks", _NETWORK),
    ("route", "routename", "routes", _ROUTE),
    ("group", "groupname", "nodegroup", _GROUP),
    ("site", "master", "site", _SITE),
    ("policy", "priority", "policy", _POLICY),
    ("monitoring", "name", "monitoring", _MONITORING),
    ("notification", "filename", "notification", _NOTIFICATION),
    ("eventlog", "recid", "eventlog", _EVENTLOG),
    ("auditlog", "recid", "auditlog", _AUDITLOG),
    ("boottarget", "bprofile", "boottarget", _BOOTTARGET),
    ("kit", "kitname", "kit", _KIT),
    ("kitrepo", "kitreponame", "kitrepo", _KITREPO),
    ("kitcomponent", "kitcompname", "kitcomponent", _KITCOMPONENT),
    ("rack", "rackname", "rack", _RACK),
    ("osdistro", "osdistroname", "osdistro", _OSDISTRO),
    ("osdistroupdate", "osupdatename", "osdistroupdate", _OSDISTROUPDATE),
    ("zone", "zonename", "zone", _ZONE),
    ("zvmivp", "id", "zvmivp", ()),
    ("firmware", "cfgfile", "firmware", _FIRMWARE),
    ("taskstate", "node", "taskstate", _TASKSTATE),
    ("pdu", "node", "pdu", _PDU),
)

_PPCDIRECT_PREFIX = "passwd."


def _description(type_name: str, attr: str, table: str, column: str) -> str:
    if type_name == "site":
        return SITE_KEY_DOCS[attr]
    if attr.startswith(_PPCDIRECT_PREFIX):
        return f"Password of user {attr[len(_PPCDIRECT_PREFIX):]} on the FSP or BPA."
    return TABLES[table].column_docs[column]


def _spec(type_name: str, row: _Row) -> AttrSpec:
    attr, entry, only_if = row
    table, _, column = entry.partition(".")
    cond: tuple[str, str] | None = None
    if only_if is not None:
        other, _, value = only_if.partition("=")
        cond = (other, value)
    return AttrSpec(attr, table, column, cond, _description(type_name, attr, table, column))


OBJECT_TYPES: Mapping[str, ObjectType] = MappingProxyType({
    name: ObjectType(name, key_attr, key_table, tuple(_spec(name, row) for row in rows))
    for name, key_attr, key_table, rows in _TYPES
})
"""Every object type of xCAT's defspec, in xCAT's order, by name."""


def get_type(name: str) -> ObjectType:
    """The object type ``name``; raises :class:`ObjectError` listing the valid ones."""
    try:
        return OBJECT_TYPES[name]
    except KeyError:
        valid = ", ".join(sorted(OBJECT_TYPES))
        raise ObjectError(
            f"Type '{name}' is not a valid object type. Valid types: {valid}"
        ) from None


def row_key(type_name: str, spec: AttrSpec, objname: str) -> dict[str, str]:
    """Column values that select the row holding ``spec`` for object ``objname``.

    Usually the first key column of the attribute's table equals the object name.
    The exceptions follow xCAT's lookups: ``site`` rows are found by ``key`` = the
    attribute name, ``networks`` by ``netname``, ``ppcdirect`` passwords by
    ``hcp`` plus the user named after ``passwd.``, and ``firmware`` objects by
    their ``cfgfile`` (xCAT's own lookup names a column that does not exist).
    """
    if type_name == "site":
        return {"key": spec.attr}
    if spec.table == "networks":
        return {"netname": objname}
    if spec.table == "ppcdirect" and spec.attr.startswith(_PPCDIRECT_PREFIX):
        return {"hcp": objname, "username": spec.attr[len(_PPCDIRECT_PREFIX):]}
    if type_name == "firmware":
        return {"cfgfile": objname}
    return {TABLES[spec.table].keys[0]: objname}
