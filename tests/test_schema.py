"""The schema and object-layer data against xCAT's Schema.pm and the reference."""

from __future__ import annotations

import pytest

from xcatpy.errors import ObjectError, UnknownColumnError, UnknownTableError
from xcatpy.store import defspec, schema
from xcatpy.store.defspec import OBJECT_TYPES, get_type, row_key
from xcatpy.store.schema import (
    AUTOINCREMENT_TABLES,
    DEFAULT_POLICY,
    MN_POLICY_PRIORITY,
    SITE_DEFAULTS,
    SITE_KEY_DOCS,
    TABLES,
    check_column,
    get_table,
)

# xCAT defines these two differently from every other table; kept as xCAT has them.
ODD_TAILS = {
    "zvm": ("comments", "disable", "discovered", "status"),
    "taskstate": ("pid", "reserve", "disable"),
}

# Reference §3.2: the important tables and the "other tables" line.
REFERENCE_TABLES = """
site nodelist nodegroup nodehm nodetype noderes ipmi openbmc passwd policy hosts mac
networks nics chain bootparams vpd vm hypervisor kvm_nodedata switch switches mp mpa pdu
pduoutlet ppc ppchcp ppcdirect osimage linuximage websrv postscripts servicenode prescripts
auditlog eventlog token hwinv discoverydata zone statelite litefile litetree iscsi storage
virtsd vmmaster kvm_masterdata prodkey deps monitoring monsetting nodepos notification
routes osdistro osdistroupdate kit kitrepo kitcomponent cfgmgt mic firmware rack performance
taskstate domain winimage nimimage zvm zvmivp boottarget
""".split()


# --- tables ------------------------------------------------------------------

def test_every_table_of_xcat_is_there():
    assert len(TABLES) == 73
    assert set(REFERENCE_TABLES) == set(TABLES)


@pytest.mark.parametrize("name", sorted(set(TABLES) - set(ODD_TAILS)))
def test_columns_end_with_comments_and_disable(name):
    assert TABLES[name].columns[-2:] == ("comments", "disable")


def test_the_two_odd_tables_keep_xcats_column_order():
    for name, tail in ODD_TAILS.items():
        assert TABLES[name].columns[-len(tail):] == tail
    assert "comments" not in TABLES["taskstate"].columns


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_is_well_formed(name):
    spec = TABLES[name]
    assert spec.name == name
    assert spec.keys and set(spec.keys) <= set(spec.columns)
    assert len(set(spec.columns)) == len(spec.columns)
    assert "disable" in spec.columns
    assert set(spec.column_docs) == set(spec.columns)
    for text in (spec.description, *spec.column_docs.values()):
        assert text.strip() and "\n" not in text and len(text) <= 100


@pytest.mark.parametrize(
    ("table", "keys", "columns"),
    [
        ("site", ("key",), ("key", "value")),
        ("ipmi", ("node",),
         ("node", "bmc", "bmcport", "taggedvlan", "bmcid", "username", "password")),
        ("openbmc", ("node",),
         ("node", "bmc", "consport", "taggedvlan", "username", "password")),
        ("networks", ("net", "mask"),
         ("netname", "net", "mask", "mgtifname", "gateway", "dhcpserver", "tftpserver",
          "nameservers", "ntpservers", "logservers", "dynamicrange", "staticrange",
          "staticrangeincrement", "nodehostname", "ddnsdomain", "vlanid", "domain", "mtu")),
        ("passwd", ("key", "username"),
         ("key", "username", "password", "cryptmethod", "authdomain")),
        ("policy", ("priority",),
         ("priority", "name", "host", "commands", "noderange", "parameters", "time", "rule")),
        ("nodelist", ("node",),
         ("node", "groups", "status", "statustime", "appstatus", "appstatustime",
          "primarysn", "hidden", "updatestatus", "updatestatustime", "zonename")),
        ("nodehm", ("node",),
         ("node", "power", "mgt", "cons", "termserver", "termport", "conserver",
          "serialport", "serialspeed", "serialflow", "getmac", "cmdmapping",
          "consoleondemand", "consoleenabled")),
        ("switch", ("node", "switch", "port"),
         ("node", "switch", "port", "vlan", "interface")),
        ("mpa", ("mpa", "username"),
         ("mpa", "username", "password", "displayname", "slots", "urlpath")),
        ("ppchcp", ("hcp",), ("hcp", "username", "password")),
        ("ppcdirect", ("hcp", "username"), ("hcp", "username", "password")),
        ("pduoutlet", ("node",), ("node", "pdu")),
        ("token", ("tokenid",), ("tokenid", "username", "expire", "created", "access")),
        ("hwinv", ("node",), ("node", "cputype", "cpucount", "memory", "disksize")),
        ("zone", ("zonename",), ("zonename", "sshkeydir", "sshbetweennodes", "defaultzone")),
        ("auditlog", ("recid",),
         ("recid", "audittime", "userid", "clientname", "clienttype", "command",
          "noderange", "args", "status")),
        ("osimage", ("imagename",),
         ("imagename", "groups", "profile", "imagetype", "description", "provmethod",
          "rootfstype", "nfsrootopts", "osdistroname", "osupdatename", "cfmdir", "osname",
          "osvers", "osarch", "synclists", "postscripts", "postbootscripts", "serverrole",
          "isdeletable", "kitcomponents", "environvar")),
    ],
)
def test_spot_checks_against_the_reference(table, keys, columns):
    spec = get_table(table)
    assert spec.keys == keys
    assert spec.columns == (*columns, "comments", "disable")


def test_node_keyed_and_node_column():
    assert TABLES["ipmi"].node_keyed and TABLES["switch"].node_keyed
    assert TABLES["deps"].node_keyed  # first of two keys
    for name in ("site", "networks", "performance", "discoverydata", "mpa", "switches"):
        assert not TABLES[name].node_keyed
    assert TABLES["switches"].node_column == "switch"
    assert TABLES["ppchcp"].node_column == "hcp"
    assert TABLES["nodehm"].node_column == "node"
    assert TABLES["osimage"].node_column is None


def test_autoincrement_tables():
    assert AUTOINCREMENT_TABLES == {"auditlog", "eventlog"}
    for name in AUTOINCREMENT_TABLES:
        assert TABLES[name].keys == ("recid",)


def test_get_table_and_check_column():
    assert get_table("nodelist") is TABLES["nodelist"]
    assert check_column("ipmi", "bmc") is TABLES["ipmi"]
    with pytest.raises(UnknownTableError) as err:
        get_table("nodelists")
    assert str(err.value) == "nodelists is not a valid table name"
    with pytest.raises(UnknownTableError):
        check_column("nosuch", "node")
    with pytest.raises(UnknownColumnError) as cerr:
        check_column("ipmi", "bmcaddr")
    assert (cerr.value.table, cerr.value.column) == ("ipmi", "bmcaddr")


def test_specs_are_immutable():
    with pytest.raises(TypeError):
        TABLES["site"] = TABLES["ipmi"]  # type: ignore[index]
    with pytest.raises(TypeError):
        TABLES["ipmi"].column_docs["bmc"] = "x"  # type: ignore[index]


# --- site and policy defaults ------------------------------------------------

def test_site_defaults():
    rows = dict(SITE_DEFAULTS)
    assert len(rows) == len(SITE_DEFAULTS)
    assert rows["xcatdport"] == "3001" and rows["xcatiport"] == "3002"
    assert rows["installdir"] == "/install" and rows["tftpdir"] == "/tftpboot"
    assert rows["ipmitimeout"] == "2" and rows["ipmiretries"] == "3"
    assert rows["dhcplease"] == "43200" and rows["auditskipcmds"] == "ALL"
    assert rows["xcatconfdir"] == "/etc/xcatpy"
    for host_value in ("master", "domain", "nameservers", "timezone", "forwarders"):
        assert rows[host_value] is None
    assert set(rows) <= set(SITE_KEY_DOCS)


def test_site_key_docs_cover_the_reference_list():
    common = """master domain nameservers forwarders installdir tftpdir xcatdport xcatiport
    xcatlport xcatconfdir xcatmaxconnections xcatmaxbatchconnections xcatsslversion
    xcatsslciphers xcattlspolicy auditskipcmds auditnosyslog excludenodes hierarchicalattrs
    ipmitimeout ipmiretries ipmidispatch ipmisdrcache syspowerinterval syspowermaxnodes
    powerinterval vmmaxp dhcpsetup dhcplease disjointdhcps sharedtftp dnshandler
    consoleondemand consoleservice nodestatus useflowcontrol precreatemypostscripts secureroot
    xcatdebugmode httpport tokenexpiredays openbmcperl pruneservices""".split()
    assert set(common) <= set(SITE_KEY_DOCS)
    for text in SITE_KEY_DOCS.values():
        assert text.strip() and "\n" not in text and len(text) <= 100


def test_default_policy_is_the_reference_table():
    # Reference §2.3 (Linux rows of xcatconfig initDB); the MN's name is filled in later.
    assert DEFAULT_POLICY == (
        ("1", "root", None, "allow"),
        ("1.2", None, None, "trusted"),
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
    assert MN_POLICY_PRIORITY == "1.2"


# --- object layer ------------------------------------------------------------

REFERENCE_TYPES = """node group osimage network route site policy monitoring notification
eventlog auditlog boottarget kit kitrepo kitcomponent rack osdistro osdistroupdate zone
firmware taskstate pdu zvmivp""".split()


def test_object_types_and_keys():
    assert set(OBJECT_TYPES) == set(REFERENCE_TYPES)
    keys = {name: (t.key_attr, t.key_table) for name, t in OBJECT_TYPES.items()}
    assert keys["node"] == ("node", "nodelist")
    assert keys["group"] == ("groupname", "nodegroup")
    assert keys["osimage"] == ("imagename", "osimage")
    assert keys["network"] == ("netname", "networks")
    assert keys["policy"] == ("priority", "policy")
    assert keys["site"] == ("master", "site")
    assert defspec.SITE_OBJECT == "clustersite"


@pytest.mark.parametrize("name", sorted(OBJECT_TYPES))
def test_every_attribute_maps_to_a_real_column(name):
    otype = OBJECT_TYPES[name]
    assert otype.key_table in TABLES
    for spec in otype.attrs:
        check_column(spec.table, spec.column)
        assert spec.description and "\n" not in spec.description
        assert len(spec.description) <= 100
        if spec.only_if is not None:
            other, value = spec.only_if
            assert other and value
            assert otype.attr_specs(other), f"{name}.{spec.attr} depends on unknown {other}"
    if otype.attrs:
        assert otype.attr_specs(otype.key_attr)
        assert otype.attr_specs(otype.key_attr)[0].table == otype.key_table


def test_conditional_attributes():
    node = get_type("node")
    assert [(s.table, s.column, s.only_if) for s in node.attr_specs("bmc")] == [
        ("ipmi", "bmc", ("mgt", "ipmi")),
        ("openbmc", "bmc", ("mgt", "openbmc")),
    ]
    assert [(s.table, s.column) for s in node.attr_specs("bmcusername")] == [
        ("ipmi", "username"), ("openbmc", "username"),
    ]
    expected = {
        "groups": ("nodelist", "groups"), "mgt": ("nodehm", "mgt"), "ip": ("hosts", "ip"),
        "mac": ("mac", "mac"), "os": ("nodetype", "os"), "provmethod": ("nodetype", "provmethod"),
        "netboot": ("noderes", "netboot"), "installnic": ("noderes", "installnic"),
        "vmhost": ("vm", "host"), "vmstorage": ("vm", "storage"), "vmcpus": ("vm", "cpus"),
        "vmmemory": ("vm", "memory"), "hosttype": ("hypervisor", "type"),
        "switch": ("switch", "switch"), "switchport": ("switch", "port"),
        "serial": ("vpd", "serial"), "mtm": ("vpd", "mtm"), "currstate": ("chain", "currstate"),
        "chain": ("chain", "chain"), "pdu": ("pduoutlet", "pdu"),
        "disksize": ("hwinv", "disksize"), "postbootscripts": ("postscripts", "postbootscripts"),
        "usercomment": ("nodelist", "comments"),
    }
    for attr, where in expected.items():
        specs = node.attr_specs(attr)
        assert [(s.table, s.column) for s in specs] == [where], attr
        assert specs[0].only_if is None
    assert node.attr_specs("nosuchattr") == ()
    assert node.attr_names[:2] == ("node", "groups")
    assert len(node.attr_names) == len(set(node.attr_names))


def test_group_has_node_attributes_but_not_nodelist_ones():
    group = get_type("group")
    assert group.attr_names[:5] == ("groupname", "grouptype", "members", "membergroups",
                                    "wherevals")
    assert group.attr_specs("mgt") and group.attr_specs("bmc")
    assert not group.attr_specs("groups") and not group.attr_specs("status")


def test_osimage_conditions_follow_imagetype():
    osimage = get_type("osimage")
    assert [(s.table, s.only_if) for s in osimage.attr_specs("template")] == [
        ("linuximage", ("imagetype", "linux")),
        ("winimage", ("imagetype", "windows")),
    ]
    assert osimage.attr_specs("nimtype")[0].only_if == ("imagetype", "NIM")
    assert osimage.attr_specs("imagetype")[0].only_if is None


def test_row_key():
    node, network, site = get_type("node"), get_type("network"), get_type("site")
    assert row_key("node", node.attr_specs("mgt")[0], "n1") == {"node": "n1"}
    assert row_key("node", node.attr_specs("snmpauth")[0], "sw1") == {"switch": "sw1"}
    assert row_key("node", node.attr_specs("passwd.HMC")[0], "fsp1") == {
        "hcp": "fsp1", "username": "HMC",
    }
    assert row_key("network", network.attr_specs("gateway")[0], "net1") == {"netname": "net1"}
    assert row_key("site", site.attr_specs("master")[0], "clustersite") == {"key": "master"}
    assert row_key("group", get_type("group").attr_specs("os")[0], "compute") == {
        "node": "compute",
    }


def test_get_type_error_names_valid_types():
    with pytest.raises(ObjectError) as err:
        get_type("nodes")
    message = str(err.value)
    assert "'nodes' is not a valid object type" in message
    assert "node, " in message and "osimage" in message


def test_modules_are_stdlib_only():
    for module in (schema, defspec):
        for name in _imports_of(module):
            assert name.startswith(("xcatpy.", "__future__", "collections", "dataclasses",
                                    "types")), name


def _imports_of(module) -> list[str]:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(module))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names
