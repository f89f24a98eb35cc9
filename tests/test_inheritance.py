"""Group inheritance and regex rows as nodels shows them (xCAT's Table.pm rules).

Node row beats group rows, attribute by attribute; groups are tried in
``nodelist.groups`` order; ``+=NEXTRECORD`` chains; ``site.hierarchicalattrs``
joins; regex rows are evaluated for the node; dynamic groups and
``site.excludenodes`` shape noderanges.  The last test guards the bulk
resolver: 2,000 nodes cost a fixed number of SQL statements.
"""

from __future__ import annotations

from tests.conftest import both_stores
from tests.test_nodes import put


def test_node_row_beats_group(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1,n2", "groups=compute")
    mn.ok("nodegrpch", "compute", "nodehm.mgt=ipmi")
    mn.ok("nodech", "n1", "nodehm.mgt=kvm")
    assert mn.ok("nodels", "n1,n2", "-b", "mgt") == (
        "n1: kvm\nn2: ipmi (inherited from group compute)\n"
    )


def test_empty_own_value_falls_back_to_group(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1", "groups=compute", "nodehm.power=ipmi")
    put("nodehm", {"node": "n1", "mgt": ""}, {"node": "compute", "mgt": "ipmi"})
    assert mn.ok("nodels", "n1", "-b", "mgt") == "n1: ipmi (inherited from group compute)\n"


@both_stores
def test_groups_in_order_per_attribute(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1", "groups=rack1,compute")
    put(
        "nodehm",
        {"node": "rack1", "mgt": "ipmi"},
        {"node": "compute", "mgt": "kvm", "power": "pdu"},
    )
    assert mn.ok("nodels", "n1", "-b", "mgt", "nodehm.power") == (
        "n1: mgt: ipmi (inherited from group rack1)\n"
        "n1: nodehm.power: pdu (inherited from group compute)\n"
    )
    mn.ok("nodech", "n1", "groups=compute,rack1")
    assert mn.ok("nodels", "n1", "-b", "mgt") == "n1: kvm (inherited from group compute)\n"


def test_nextrecord_chains_group_values(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1,n2,n3", "groups=base,site")
    mn.ok("nodech", "n3", "groups=base")
    put(
        "postscripts",
        {"node": "base", "postscripts": "syslog,+=NEXTRECORD"},
        {"node": "site", "postscripts": "remoteshell"},
        {"node": "n2", "postscripts": "mine,+=NEXTRECORD"},
    )
    assert mn.ok("nodels", "n1-n3", "-b", "postscripts.postscripts") == (
        "n1: syslog,remoteshell (inherited from group base,site)\n"
        "n2: mine,syslog,remoteshell (inherited from group n2,base,site)\n"
        "n3: syslog, (inherited from group base)\n"
    )
    assert mn.ok("nodels", "n2", "postscripts.postscripts") == "n2: mine,syslog,remoteshell\n"


def test_hierarchicalattrs_join_node_and_groups(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1", "groups=g1,g2", "postscripts.postscripts=a", "bootparams.addkcmdline=quiet")
    put(
        "postscripts",
        {"node": "g1", "postscripts": "b,a"},
        {"node": "g2", "postscripts": "c"},
    )
    put(
        "bootparams",
        {"node": "g1", "addkcmdline": "console=ttyS0"},
        {"node": "g2", "addkcmdline": "quiet"},
    )
    assert mn.ok("nodels", "n1", "postscripts.postscripts") == "n1: a\n"
    put("site", {"key": "hierarchicalattrs", "value": "postscripts,addkcmdline:;"})
    assert mn.ok("nodels", "n1", "postscripts.postscripts", "bootparams.addkcmdline") == (
        "n1: postscripts.postscripts: a,b,c\n"
        "n1: bootparams.addkcmdline: quiet;console=ttyS0\n"
    )


def test_regex_rows_on_a_group(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "node01,node12,node250", "groups=compute")
    mn.ok(
        "nodegrpch", "compute",
        "ipmi.bmc=/\\z/-bmc/",
        "hosts.ip=|node(\\d+)|10.0.0.($1+0)|",
        "nodehm.termport=|\\D+(\\d+)|($1*2)|",
    )
    assert mn.ok("nodels", "compute", "ipmi.bmc", "hosts.ip", "nodehm.termport") == (
        "node01: ipmi.bmc: node01-bmc\n"
        "node01: hosts.ip: 10.0.0.1\n"
        "node01: nodehm.termport: 2\n"
        "node12: ipmi.bmc: node12-bmc\n"
        "node12: hosts.ip: 10.0.0.12\n"
        "node12: nodehm.termport: 24\n"
        "node250: ipmi.bmc: node250-bmc\n"
        "node250: hosts.ip: 10.0.0.250\n"
        "node250: nodehm.termport: 500\n"
    )
    # tabdump shows the rows as stored
    assert '"compute","|node(\\d+)|10.0.0.($1+0)|",' in mn.dump("hosts")
    # -b names the group the expression came from
    assert mn.ok("nodels", "node12", "-b", "hosts.ip") == (
        "node12: 10.0.0.12 (inherited from group compute)\n"
    )


def test_regex_selector_sees_evaluated_value(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "node1-node3", "groups=compute")
    mn.ok("nodegrpch", "compute", "hosts.ip=|node(\\d+)|10.0.0.($1+100)|")
    assert mn.ok("nodels", "compute", "hosts.ip==10.0.0.102") == "node2\n"


def test_dynamic_group(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1", "groups=all", "mgt=ipmi", "nodetype.arch=x86_64")
    mn.ok("nodeadd", "n2", "groups=all", "mgt=ipmi", "nodetype.arch=ppc64le")
    mn.ok("nodeadd", "n3", "groups=all", "mgt=kvm", "nodetype.arch=x86_64")
    put(
        "nodegroup",
        {"groupname": "ipmix86", "grouptype": "dynamic", "wherevals": "mgt==ipmi::arch=~x86"},
    )
    assert mn.ok("nodels", "ipmix86") == "n1\n"
    assert mn.ok("nodels", "ipmix86", "groups") == "n1: all\n"
    assert mn.ok("nodels", "all,-ipmix86") == "n2\nn3\n"
    mn.ok("nodech", "n2", "nodetype.arch=x86_64")
    assert mn.ok("nodels", "ipmix86") == "n1\nn2\n"


def test_excludenodes(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1-n4", "groups=all")
    put("site", {"key": "excludenodes", "value": "n2,n4"})
    assert mn.ok("nodels", "all") == "n1\nn3\n"
    assert mn.ok("nodels", "n2") == ""
    # without a noderange nodels reads nodelist itself, as xCAT does
    assert mn.ok("nodels") == "n1\nn2\nn3\nn4\n"


def test_disabled_rows_are_ignored(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1,n2", "groups=compute", "nodehm.mgt=kvm")
    mn.ok("nodegrpch", "compute", "nodehm.power=ipmi")
    mn.ok("nodech", "n1", "nodehm.disable=1")
    put("nodehm", {"node": "compute", "mgt": "ipmi", "power": "ipmi"})
    assert mn.ok("nodels", "n1", "-b", "mgt") == "n1: ipmi (inherited from group compute)\n"
    mn.ok("nodech", "n2", "nodelist.disable=yes")
    assert mn.ok("nodels") == "n1\n"
    r = mn.run("nodels", "n2")
    assert r.code == 1 and "n2" in r.err


def test_nodelist_is_not_inherited(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1", "groups=compute")
    put("nodelist", {"node": "compute", "status": "booted"})
    assert mn.ok("nodels", "n1", "nodelist.status") == "n1: \n"


def test_two_thousand_nodes_cost_a_fixed_number_of_statements(mn, statements) -> None:  # type: ignore[no-untyped-def]
    statements.clear()
    mn.ok("nodeadd", "node[0001-2000]", "groups=compute,all", "nodetype.os=rhels9")
    adding = len(statements)
    mn.ok("nodech", "node[0001-1000]", "groups,=rack1")
    mn.ok("nodech", "node[1001-2000]", "groups,=rack2")
    mn.ok(
        "nodegrpch", "compute", "nodehm.mgt=ipmi", "ipmi.bmc=/\\z/-bmc/",
        "hosts.ip=|node(\\d+)|10.0.($1/250).($1%250)|",
    )
    mn.ok("nodegrpch", "rack2", "nodehm.power=pdu")
    changing = len(statements) - adding

    statements.clear()
    out = mn.ok(
        "nodels", "compute", "-b", "groups", "mgt", "nodehm.power", "ipmi.bmc", "hosts.ip",
        "nodetype.os",
    )
    reading = len(statements)
    lines = out.splitlines()
    assert len(lines) == 2000 * 6
    assert lines[:6] == [
        "node0001: groups: rack1,compute,all",
        "node0001: mgt: ipmi (inherited from group compute)",
        "node0001: nodehm.power: ",
        "node0001: ipmi.bmc: node0001-bmc (inherited from group compute)",
        "node0001: hosts.ip: 10.0.0.1 (inherited from group compute)",
        "node0001: nodetype.os: rhels9",
    ]
    assert lines[-4:] == [
        "node2000: nodehm.power: pdu (inherited from group rack2)",
        "node2000: ipmi.bmc: node2000-bmc (inherited from group compute)",
        "node2000: hosts.ip: 10.0.8.0 (inherited from group compute)",
        "node2000: nodetype.os: rhels9",
    ]

    statements.clear()
    mn.ok("noderm", "node[0001-2000]")
    removing = len(statements)
    assert mn.ok("nodels") == ""

    # nodelist, nodegroup, site and one query per attribute table: nothing per node
    assert reading <= 12, statements
    # batched upserts: per table touched, one existence check per 500 names and
    # one INSERT/UPDATE batch, plus the noderange's own reads
    assert adding <= 2 * (2000 // 500 + 1) + 6, adding
    assert changing <= 60, changing
    # one DELETE per node-bearing table and batch of 500 names
    from xcatpy.store.schema import TABLES

    tables = sum(1 for spec in TABLES.values() if "node" in spec.columns)
    assert removing <= tables * 4 + 5, removing
