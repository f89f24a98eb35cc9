"""nodels, nodeadd, noderm, nodech, nodegrpch: options, output shapes, writes.

Expected strings follow xCAT's tabutils.pm and its client (``node: value``,
``node: label: value``, an empty value printed as ``node: ``).  Write tests
compare every table before and after a rejected command.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from tests.conftest import both_stores


def put(table: str, *records: Mapping[str, str]) -> None:
    """Write rows straight into the store (for tables these commands never write)."""
    from xcatpy.paths import Paths
    from xcatpy.store import rows
    from xcatpy.store.db import open_store
    from xcatpy.store.schema import get_table

    spec = get_table(table)
    store = open_store(Paths.from_env())
    try:
        with store.begin() as conn:
            rows.upsert(
                conn,
                store,
                table,
                [
                    ({k: r[k] for k in spec.keys}, {c: v for c, v in r.items() if c not in spec.keys})
                    for r in records
                ],
            )
    finally:
        store.dispose()


@pytest.fixture
def cluster(mn):  # type: ignore[no-untyped-def]
    """n1..n3 and n10 in compute; n1, n2 also in ipmi; a hidden fsp1."""
    mn.ok("nodeadd", "n1-n2", "groups=compute,ipmi", "nodehm.power=ipmi")
    mn.ok("nodeadd", "n3,n10", "groups=compute", "nodetype.arch=ppc64le")
    mn.ok("nodeadd", "fsp1", "groups=fsp", "nodelist.hidden=1")
    mn.ok("nodegrpch", "ipmi", "nodehm.mgt=ipmi", "ipmi.username=ADMIN")
    mn.ok("nodech", "n3", "nodehm.mgt=kvm")
    return mn


# --------------------------------------------------------------------------- #
# nodels


def test_nodels_without_noderange_lists_visible_nodes(cluster) -> None:  # type: ignore[no-untyped-def]
    assert cluster.ok("nodels") == "n1\nn2\nn3\nn10\n"
    assert cluster.ok("nodels", "-S") == "fsp1\nn1\nn2\nn3\nn10\n"


def test_nodels_noderange_hides_hidden_nodes_unless_S(cluster) -> None:  # type: ignore[no-untyped-def]
    assert cluster.ok("nodels", "fsp1,n2") == "n2\n"
    assert cluster.ok("nodels", "fsp1,n2", "-S") == "fsp1\nn2\n"
    assert cluster.ok("nodels", "-S", "fsp") == "fsp1\n"


def test_nodels_group_and_range(cluster) -> None:  # type: ignore[no-untyped-def]
    assert cluster.ok("nodels", "compute") == "n1\nn2\nn3\nn10\n"
    assert cluster.ok("nodels", "n2-n3") == "n2\nn3\n"
    assert cluster.ok("nodels", "compute,-ipmi") == "n3\nn10\n"


def test_nodels_one_attribute_is_terse(cluster) -> None:  # type: ignore[no-untyped-def]
    assert cluster.ok("nodels", "compute", "nodehm.mgt") == (
        "n1: ipmi\nn2: ipmi\nn3: kvm\nn10: \n"
    )


def test_nodels_two_attributes_are_labelled_as_typed(cluster) -> None:  # type: ignore[no-untyped-def]
    out = cluster.ok("nodels", "n1,n3", "groups", "mgt")
    assert out == (
        "n1: groups: compute,ipmi\n"
        "n1: mgt: ipmi\n"
        "n3: groups: compute\n"
        "n3: mgt: kvm\n"
    )


def test_nodels_H_labels_a_single_attribute(cluster) -> None:  # type: ignore[no-untyped-def]
    assert cluster.ok("nodels", "n3", "-H", "nodetype.arch") == "n3: nodetype.arch: ppc64le\n"
    assert cluster.ok("nodels", "n3", "--with-fieldname", "tags") == "n3: tags: compute\n"


def test_nodels_whole_table(cluster) -> None:  # type: ignore[no-untyped-def]
    out = cluster.ok("nodels", "n3", "nodetype")
    assert out == (
        "n3: nodetype.node: n3\n"
        "n3: nodetype.os: \n"
        "n3: nodetype.arch: ppc64le\n"
        "n3: nodetype.profile: \n"
        "n3: nodetype.provmethod: \n"
        "n3: nodetype.supportedarchs: \n"
        "n3: nodetype.nodetype: \n"
        "n3: nodetype.comments: \n"
        "n3: nodetype.disable: \n"
    )


def test_nodels_whole_table_without_rows(cluster) -> None:  # type: ignore[no-untyped-def]
    out = cluster.ok("nodels", "n10", "hosts")
    assert out == (
        "n10: hosts.node: \n"
        "n10: hosts.ip: \n"
        "n10: hosts.hostnames: \n"
        "n10: hosts.otherinterfaces: \n"
        "n10: hosts.comments: \n"
        "n10: hosts.disable: \n"
    )


def test_nodels_node_column_from_group_row(cluster) -> None:  # type: ignore[no-untyped-def]
    # n10 has no hosts row of its own; the group's row stands in, named as the node
    put("hosts", {"node": "compute", "hostnames": "/\\z/.cluster/"})
    assert cluster.ok("nodels", "n10", "hosts.node", "hosts.hostnames") == (
        "n10: hosts.node: n10\nn10: hosts.hostnames: n10.cluster\n"
    )


def test_nodels_selector_lists_matching_names(cluster) -> None:  # type: ignore[no-untyped-def]
    assert cluster.ok("nodels", "compute", "nodehm.mgt==ipmi") == "n1\nn2\n"
    assert cluster.ok("nodels", "compute", "mgt!=ipmi") == "n3\nn10\n"
    assert cluster.ok("nodels", "compute", "nodehm.mgt=~/^k/") == "n3\n"
    assert cluster.ok("nodels", "compute", "nodehm.mgt=~vm") == "n3\n"
    assert cluster.ok("nodels", "compute", "nodehm.mgt!~i") == "n3\nn10\n"
    assert cluster.ok("nodels", "compute", "nodehm.mgt==") == "n10\n"
    assert cluster.ok("nodels", "compute", "nodehm.mgt=kvm") == "n3\n"


def test_nodels_selector_with_other_attribute(cluster) -> None:  # type: ignore[no-untyped-def]
    out = cluster.ok("nodels", "compute", "nodehm.mgt==ipmi", "groups")
    assert out == "n1: groups: compute,ipmi\nn2: groups: compute,ipmi\n"


def test_nodels_selector_then_plain_prints_value(cluster) -> None:  # type: ignore[no-untyped-def]
    out = cluster.ok("nodels", "compute", "nodehm.mgt=~i", "nodehm.mgt")
    assert out == "n1: nodehm.mgt: ipmi\nn2: nodehm.mgt: ipmi\n"
    # the other order filters but does not print (xCAT's order rule)
    assert cluster.ok("nodels", "compute", "nodehm.mgt", "nodehm.mgt=~i") == "n1\nn2\n"


def test_nodels_two_criteria_on_one_column_is_an_error(cluster) -> None:  # type: ignore[no-untyped-def]
    r = cluster.run("nodels", "compute", "mgt==ipmi", "nodehm.mgt!=kvm")
    assert r.code == 1
    assert r.out == ""
    assert r.err == "Error: Multiple selection critera for nodehm.mgt\n"


def test_nodels_blame(cluster) -> None:  # type: ignore[no-untyped-def]
    out = cluster.ok("nodels", "n1,n3", "-b", "nodehm.mgt", "nodehm.power")
    assert out == (
        "n1: nodehm.mgt: ipmi (inherited from group ipmi)\n"
        "n1: nodehm.power: ipmi\n"
        "n3: nodehm.mgt: kvm\n"
        "n3: nodehm.power: \n"
    )
    assert cluster.ok("nodels", "n2", "--blame", "ipmi.username") == (
        "n2: ADMIN (inherited from group ipmi)\n"
    )


def test_nodels_unknown_column_reports_and_continues(cluster) -> None:  # type: ignore[no-untyped-def]
    r = cluster.run("nodels", "n1", "nodehm.bogus", "nodehm.mgt")
    assert r.code == 1
    assert r.err == "Error: nodehm.bogus not a valid table.column description\n"
    assert r.out == "n1: nodehm.mgt: ipmi\n"  # two attributes were named: labels


def test_nodels_unknown_words(cluster) -> None:  # type: ignore[no-untyped-def]
    r = cluster.run("nodels", "n1", "bogus")
    assert (r.code, r.out) == (1, "")
    assert r.err == "Error: bogus not a valid table.column description\n"
    r = cluster.run("nodels", "n1", "nosuch.col")
    assert (r.code, r.out) == (1, "")
    assert r.err == "Error: nosuch.col not a valid table.column description\n"


def test_nodels_unknown_nodes(cluster) -> None:  # type: ignore[no-untyped-def]
    r = cluster.run("nodels", "n1,nosuch", "groups")
    assert (r.code, r.out) == (1, "")
    assert r.err == "Error: Invalid nodes and/or groups in noderange: nosuch\n"


def test_nodels_empty_noderange_prints_nothing(cluster) -> None:  # type: ignore[no-untyped-def]
    assert cluster.ok("nodels", "nodehm.mgt==esx") == ""


def test_nodels_natural_order(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "node[1-12]", "groups=all")
    assert mn.ok("nodels").split() == [f"node{i}" for i in range(1, 13)]
    out = mn.ok("nodels", "all", "groups")
    assert out.splitlines()[:3] == ["node1: all", "node2: all", "node3: all"]


def test_nodels_help_and_version(mn) -> None:  # type: ignore[no-untyped-def]
    from xcatpy import __version__

    for flag in ("-h", "--help", "-?"):
        r = mn.run("nodels", flag)
        assert r.code == 0
        assert "Usage: nodels" in r.out
    assert mn.ok("nodels", "-v") == f"Version {__version__}\n"
    r = mn.run("nodels", "-x")
    assert r.code == 1 and "No such option" in r.err


# --------------------------------------------------------------------------- #
# nodeadd


@both_stores
def test_nodeadd_writes_every_table_in_one_go(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok(
        "nodeadd", "c[01-03]", "groups=compute,all", "nodehm.mgt=ipmi", "ipmi.bmc=/\\z/-bmc/",
        "mgt=kvm",
    )
    assert mn.dump("nodelist").splitlines()[1:] == [
        f'"c0{i}","compute,all",,,,,,,,,,,' for i in (1, 2, 3)
    ]
    # the shortname, written later, wins over nodehm.mgt
    assert mn.ok("nodels", "c01-c03", "mgt", "ipmi.bmc") == (
        "c01: mgt: kvm\nc01: ipmi.bmc: c01-bmc\n"
        "c02: mgt: kvm\nc02: ipmi.bmc: c02-bmc\n"
        "c03: mgt: kvm\nc03: ipmi.bmc: c03-bmc\n"
    )


def test_nodeadd_existing_nodes_are_updated(cluster) -> None:  # type: ignore[no-untyped-def]
    cluster.ok("nodeadd", "n3", "groups=compute,rack1")
    assert cluster.ok("nodels", "n3", "groups") == "n3: compute,rack1\n"
    assert cluster.ok("nodels", "n3", "nodehm.mgt") == "n3: kvm\n"


def test_nodeadd_requires_groups(mn) -> None:  # type: ignore[no-untyped-def]
    before = mn.dump_all()
    r = mn.run("nodeadd", "c1", "nodehm.mgt=ipmi")
    assert r.code == 1
    assert r.err.startswith("Error: At least one group name must be given with groups=\n")
    assert "Usage: nodeadd <noderange> groups=<groupnames>" in r.err
    assert mn.run("nodeadd", "c1", "groups=").code == 1
    assert mn.dump_all() == before


@both_stores
def test_nodeadd_bad_input_changes_nothing(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "c1", "groups=all")
    before = mn.dump_all()
    cases = {
        ("c2", "groups=all", "nodehm.bogus=1"):
            "Error: nodehm.bogus not a valid table.column description\n",
        ("c2", "groups=all", "nosuch.col=1"):
            "Error: nosuch.col not a valid table.column description\n",
        ("c2", "groups=all", "justaword"):
            "Error: Malformed argument justaword: expected table.column=value\n",
        ("c2", "groups=all", "site.value=1"):
            "Error: site.value: table site is not keyed by node\n",
        ("c[1-", "groups=all"): None,
    }
    for args, message in cases.items():
        r = mn.run("nodeadd", *args)
        assert r.code == 1, args
        if message is not None:
            assert r.err == message
        else:
            assert r.err.startswith("Error: ")
    assert mn.dump_all() == before


def test_nodeadd_warns_about_capital_letters(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("nodeadd", "Node1,node2,NODE3", "groups=all")
    assert r.code == 0
    assert r.err == (
        "Warning: The node name 'NODE3,Node1' contains capital letters which may not be "
        "resolved correctly by the dns server.\n"
    )
    assert mn.ok("nodels") == "NODE3\nNode1\nnode2\n"


def test_nodeadd_into_dynamic_group_notes_it(mn) -> None:  # type: ignore[no-untyped-def]
    put("nodegroup", {"groupname": "dyn", "grouptype": "dynamic", "wherevals": "mgt==ipmi"})
    out = mn.ok("nodeadd", "c1,c2", "groups=all,dyn")
    note = (
        "nodegroup dyn is a dynamic node group, should not add a node into a dynamic "
        "node group statically.\n\n"
    )
    assert out == note * 2


def test_nodeadd_blank_value_hides_group_value(cluster) -> None:  # type: ignore[no-untyped-def]
    cluster.ok("nodeadd", "n5", "groups=ipmi", "ipmi.username=")
    assert cluster.ok("nodels", "n5", "ipmi.username") == "n5: \n"
    assert '"n5",,,,,"|^.*$||",' in cluster.dump("ipmi")


def test_nodeadd_at_assignment(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "c1", "groups=all", "nodelist.comments=@=x")
    assert mn.ok("nodels", "c1", "nodelist.comments") == "c1: =x\n"


# --------------------------------------------------------------------------- #
# noderm


@both_stores
def test_noderm_deletes_rows_everywhere(cluster) -> None:  # type: ignore[no-untyped-def]
    cluster.ok("nodech", "n1,n3", "hosts.ip=10.0.0.1", "mac.mac=aa:bb")
    cluster.ok("noderm", "n1,n3")
    assert cluster.ok("nodels", "-S") == "fsp1\nn2\nn10\n"
    for table in ("nodelist", "nodehm", "hosts", "mac", "nodetype"):
        dump = cluster.dump(table)
        assert '"n1"' not in dump and '"n3"' not in dump, table
    # group rows stay
    assert '"ipmi",,,,,"ADMIN",' in cluster.dump("ipmi")
    assert cluster.ok("nodels", "n2", "ipmi.username") == "n2: ADMIN\n"


def test_noderm_group_removes_members(cluster) -> None:  # type: ignore[no-untyped-def]
    cluster.ok("noderm", "ipmi")
    assert cluster.ok("nodels") == "n3\nn10\n"


@both_stores
def test_noderm_unknown_node_changes_nothing(cluster) -> None:  # type: ignore[no-untyped-def]
    before = cluster.dump_all()
    r = cluster.run("noderm", "n1,ghost")
    assert r.code == 1
    assert r.err == "Error: Invalid nodes and/or groups in noderange: ghost\n"
    assert cluster.dump_all() == before


def test_noderm_needs_a_noderange(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("noderm")
    assert r.code == 1 and "Usage:" in r.err


# --------------------------------------------------------------------------- #
# nodech


def test_nodech_sets_and_replaces(cluster) -> None:  # type: ignore[no-untyped-def]
    cluster.ok("nodech", "n1,n2", "nodehm.power=pdu", "nodetype.os=rhels9")
    assert cluster.ok("nodels", "n1,n2", "nodehm.power", "nodetype.os") == (
        "n1: nodehm.power: pdu\nn1: nodetype.os: rhels9\n"
        "n2: nodehm.power: pdu\nn2: nodetype.os: rhels9\n"
    )


def test_nodech_prepend_and_remove(cluster) -> None:  # type: ignore[no-untyped-def]
    cluster.ok("nodech", "n1", "groups,=rack1")
    assert cluster.ok("nodels", "n1", "groups") == "n1: rack1,compute,ipmi\n"
    cluster.ok("nodech", "n1", "groups,=ipmi")  # present already: unchanged
    assert cluster.ok("nodels", "n1", "groups") == "n1: rack1,compute,ipmi\n"
    cluster.ok("nodech", "n1", "groups^=compute")
    assert cluster.ok("nodels", "n1", "groups") == "n1: rack1,ipmi\n"
    cluster.ok("nodech", "n1", "groups^=rack1", "groups,=rack2")
    assert cluster.ok("nodels", "n1", "groups") == "n1: rack2,ipmi\n"
    cluster.ok("nodech", "n3", "groups^=nothere")
    assert cluster.ok("nodels", "n3", "groups") == "n3: compute\n"


def test_nodech_prepend_starts_from_inherited_value(cluster) -> None:  # type: ignore[no-untyped-def]
    cluster.ok("nodegrpch", "compute", "postscripts.postscripts=syslog,remoteshell")
    cluster.ok("nodech", "n3", "postscripts.postscripts,=confignics")
    assert cluster.ok("nodels", "n3,n10", "-b", "postscripts.postscripts") == (
        "n3: confignics,syslog,remoteshell\n"
        "n10: syslog,remoteshell (inherited from group compute)\n"
    )
    # prepending to nothing just sets
    cluster.ok("nodech", "n10", "postscripts.postbootscripts,=otherpkgs")
    assert cluster.ok("nodels", "n10", "postscripts.postbootscripts") == "n10: otherpkgs\n"


def test_nodech_selectors_narrow_the_nodes(cluster) -> None:  # type: ignore[no-untyped-def]
    cluster.ok("nodech", "compute", "nodehm.mgt==ipmi", "nodehm.cons=ipmi")
    assert cluster.ok("nodels", "compute", "nodehm.cons") == (
        "n1: ipmi\nn2: ipmi\nn3: \nn10: \n"
    )
    cluster.ok("nodech", "compute", "nodetype.arch=~^ppc", "groups,=power")
    assert cluster.ok("nodels", "power") == "n3\nn10\n"
    cluster.ok("nodech", "compute", "nodehm.mgt!~/^i/", "nodehm.cons=none")
    assert cluster.ok("nodels", "compute", "nodehm.cons") == (
        "n1: ipmi\nn2: ipmi\nn3: none\nn10: none\n"
    )


def test_nodech_blank_overrides_group(cluster) -> None:  # type: ignore[no-untyped-def]
    cluster.ok("nodech", "n2", "nodehm.mgt=")
    assert cluster.ok("nodels", "n1,n2", "mgt") == "n1: ipmi\nn2: \n"


@both_stores
def test_nodech_delete_rows(cluster) -> None:  # type: ignore[no-untyped-def]
    cluster.ok("nodech", "n1,n2", "hosts.ip=10.1.1.1")
    cluster.ok("nodech", "-d", "n1", "hosts", "nodehm")
    assert cluster.ok("nodels", "n1,n2", "hosts.ip", "nodehm.power") == (
        "n1: hosts.ip: \nn1: nodehm.power: \n"
        "n2: hosts.ip: 10.1.1.1\nn2: nodehm.power: ipmi\n"
    )
    assert cluster.ok("nodels", "n1", "mgt") == "n1: ipmi\n"  # group row untouched


@both_stores
def test_nodech_bad_input_changes_nothing(cluster) -> None:  # type: ignore[no-untyped-def]
    before = cluster.dump_all()
    cases = {
        ("n1", "nodehm.power=x", "nodehm.nope=1"):
            "Error: nodehm.nope not a valid table.column description\n",
        ("n1", "nodehm.power=x", "word"):
            "Error: Malformed argument word: expected table.column=value\n",
        ("n1,ghost", "nodehm.power=x"):
            "Error: Invalid nodes and/or groups in noderange: ghost\n",
        ("-d", "n1", "hosts", "nodehm.mgt"):
            "Error: . and = not valid in delete mode: nodehm.mgt\n",
        ("-d", "n1", "hosts", "nosuchtable"):
            "Error: nosuchtable is not a valid table name\n",
        ("-d", "n1", "site"):
            "Error: table site has no node column\n",
        ("n1", "nodehm.mgt=~(", "nodehm.power=x"): None,
    }
    for args, message in cases.items():
        r = cluster.run("nodech", *args)
        assert r.code == 1, args
        if message is not None:
            assert r.err == message
        else:
            assert r.err.startswith("Error: Invalid regular expression")
    assert cluster.dump_all() == before


def test_nodech_multi_key_table_updates_every_row(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "c1,c2", "groups=all")
    put(
        "switch",
        {"node": "c1", "switch": "sw1", "port": "1"},
        {"node": "c1", "switch": "sw2", "port": "7"},
    )
    mn.ok("nodech", "c1,c2", "switch.vlan=12")
    lines = mn.dump("switch").splitlines()[1:]
    assert sorted(lines) == sorted([
        '"c1","sw1","1","12",,,',
        '"c1","sw2","7","12",,,',
        '"c2",,,"12",,,',
    ])


def test_nodech_usage(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("nodech", "n1")
    assert r.code == 1 and "Usage:" in r.err
    assert "Usage: nodech" in mn.ok("nodech", "--help")


# --------------------------------------------------------------------------- #
# nodegrpch


def test_nodegrpch_sets_group_and_clears_members(cluster) -> None:  # type: ignore[no-untyped-def]
    cluster.ok("nodech", "n1", "nodehm.cons=conserver")
    cluster.ok("nodegrpch", "compute,fsp", "nodehm.cons=ipmi", "nodetype.os=rhels9")
    assert cluster.ok("nodels", "-S", "compute,fsp", "-b", "nodehm.cons") == (
        "fsp1: ipmi (inherited from group fsp)\n"
        "n1: ipmi (inherited from group compute)\n"
        "n2: ipmi (inherited from group compute)\n"
        "n3: ipmi (inherited from group compute)\n"
        "n10: ipmi (inherited from group compute)\n"
    )
    dump = cluster.dump("nodehm")
    assert '"compute",,,"ipmi",' in dump and '"fsp",,,"ipmi",' in dump
    # n1's own override cleared to empty (its mgt was cleared by the ipmi group's change)
    assert '"n1","ipmi","","",' in dump


def test_nodegrpch_group_without_members(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodegrpch", "future", "nodehm.mgt=ipmi")
    assert '"future",,"ipmi",' in mn.dump("nodehm")


@both_stores
def test_nodegrpch_rejections_change_nothing(cluster) -> None:  # type: ignore[no-untyped-def]
    before = cluster.dump_all()
    cases = {
        ("compute", "groups=x"): "Error: Group membership is not changeable via nodegrpch\n",
        ("compute", "nodehm.cons,=x"): "Error: ,= and ^= are not supported by nodegrpch\n",
        ("compute", "nodehm.nope=x"): "Error: nodehm.nope not a valid table.column description\n",
    }
    for args, message in cases.items():
        r = cluster.run("nodegrpch", *args)
        assert (r.code, r.err) == (1, message), args
    r = cluster.run("nodegrpch", "compute")
    assert r.code == 1 and "Usage:" in r.err
    assert cluster.dump_all() == before
