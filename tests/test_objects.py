"""lsdef, mkdef, chdef and rmdef: output, exit codes and tables, as xCAT's.

Every write test checks the tables with tabdump; every failing command checks
that the database did not change at all.
"""

from __future__ import annotations

import pytest

from tests.conftest import both_stores


def lines(text: str) -> list[str]:
    return text.splitlines()


def cluster(mn) -> None:  # type: ignore[no-untyped-def]
    """Three IPMI nodes in compute, one OpenBMC node in gpu."""
    mn.ok("mkdef", "-t", "node", "-o", "n1,n2,n3", "groups=compute,all", "mgt=ipmi",
          "bmc=10.0.0.1", "os=rhels9", "arch=x86_64")
    mn.ok("mkdef", "g1", "groups=gpu,all", "mgt=openbmc", "bmc=10.0.1.1")


# --------------------------------------------------------------------------- #
# lsdef


def test_lsdef_lists_nodes_by_default(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    r = mn.run("lsdef")
    assert r.code == 0 and r.err == ""
    assert lines(r.out) == ["g1  (node)", "n1  (node)", "n2  (node)", "n3  (node)"]
    assert mn.ok("lsdef", "-t", "node") == r.out
    assert mn.ok("lsdef", "-s", "n1,n2") == "n1  (node)\nn2  (node)\n"


def test_lsdef_with_nothing_defined(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("lsdef")
    assert (r.code, r.out, r.err) == (0, "Could not find any object definitions to display.\n", "")
    assert mn.ok("lsdef", "-t", "osimage") == "Could not find any object definitions to display.\n"


def test_lsdef_long_sorted_and_only_defined(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    out = mn.ok("lsdef", "n1")
    assert out == (
        "Object name: n1\n"
        "    arch=x86_64\n"
        "    bmc=10.0.0.1\n"
        "    groups=compute,all\n"
        "    mgt=ipmi\n"
        "    os=rhels9\n"
    )
    assert mn.ok("lsdef", "-t", "node", "-o", "n1") == out
    assert mn.ok("lsdef", "-l", "n1") == out
    assert mn.ok("lsdef", "-l", "-t", "node").startswith("Object name: g1\n")


def test_lsdef_inherits_from_groups(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    mn.ok("chdef", "-t", "group", "-o", "compute", "netboot=xnba", "os=rhels8")
    out = mn.ok("lsdef", "n2", "-i", "netboot,os")
    assert out == "Object name: n2\n    netboot=xnba\n    os=rhels9\n"
    # the group itself shows only its own rows, no inheritance, and its members
    assert mn.ok("lsdef", "-t", "group", "compute") == (
        "Object name: compute\n"
        "    members=n1,n2,n3\n"
        "    netboot=xnba\n"
        "    os=rhels8\n"
    )


def test_lsdef_group_noderange(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    out = mn.ok("lsdef", "compute", "-i", "mgt")
    assert lines(out) == ["Object name: n1", "    mgt=ipmi", "Object name: n2", "    mgt=ipmi",
                          "Object name: n3", "    mgt=ipmi"]


def test_lsdef_i_shows_unset_attributes_and_c_compresses(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    assert mn.ok("lsdef", "n1", "-i", "mgt,ip") == "Object name: n1\n    ip=\n    mgt=ipmi\n"
    assert mn.ok("lsdef", "n1,n2", "-i", "mgt,bmc", "-c") == (
        "n1: bmc=10.0.0.1\nn1: mgt=ipmi\nn2: bmc=10.0.0.1\nn2: mgt=ipmi\n"
    )


def test_lsdef_c_needs_i(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    r = mn.run("lsdef", "-c", "n1")
    assert r.code == 1
    assert r.err == "Error: The flags '-c' and '-i' must be used together.\n"
    assert "Usage: lsdef" in r.out


def test_lsdef_i_invalid_attribute(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    r = mn.run("lsdef", "n1", "-i", "mgt,nosuch")
    assert r.code == 1
    assert r.err == "Error: 'nosuch' is not a valid attribute name for an object type of 'node'.\n"
    assert r.out == "Object name: n1\n    mgt=ipmi\n"


def test_lsdef_unknown_object(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    r = mn.run("lsdef", "nosuch")
    assert r.code == 1
    assert r.err == "Error: Could not find an object named 'nosuch' of type 'node'.\n"
    assert r.out == "No object definitions have been found\n"
    r = mn.run("lsdef", "n1,nosuch", "-i", "mgt")
    assert r.code == 1
    assert r.out == "Object name: n1\n    mgt=ipmi\n"


def test_lsdef_unknown_type(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("lsdef", "-t", "nosuch")
    assert (r.code, r.out) == (1, "")
    assert r.err == "Error: Type 'nosuch' is not a valid xCAT object type.\n"


@pytest.mark.parametrize(
    ("where", "expect"),
    [
        ("mgt==ipmi", ["n1", "n2", "n3"]),
        ("mgt!=ipmi", ["g1"]),
        ("bmc=~^10.0.1", ["g1"]),
        ("bmc=~/^10\\.0\\.0/", ["n1", "n2", "n3"]),
        ("groups!~compute", ["g1"]),
        ("mgt=openbmc", ["g1"]),
        ("ip==1.2.3.4", []),
    ],
)
def test_lsdef_where(mn, where: str, expect: list[str]) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    r = mn.run("lsdef", "-w", where)
    assert r.code == 0
    if expect:
        assert lines(r.out) == [f"{n}  (node)" for n in expect]
    else:
        assert r.out == "No object definitions have been found\n"


def test_lsdef_where_several_and_long(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    mn.ok("chdef", "n2", "arch=ppc64le")
    out = mn.ok("lsdef", "-w", "mgt==ipmi", "-w", "arch==x86_64", "-i", "arch")
    assert out == ("Object name: n1\n    arch=x86_64\n"
                   "Object name: n3\n    arch=x86_64\n")
    r = mn.run("lsdef", "-w", "mgt")
    assert (r.code, r.err) == (1, "Error: Incorrect selection string specified with -w flag.\n")


def test_lsdef_stanza(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    assert mn.ok("lsdef", "-z", "n1,g1") == (
        "# <xCAT data object stanza file>\n"
        "\n"
        "g1:\n"
        "    objtype=node\n"
        "    bmc=10.0.1.1\n"
        "    groups=gpu,all\n"
        "    mgt=openbmc\n"
        "\n"
        "n1:\n"
        "    objtype=node\n"
        "    arch=x86_64\n"
        "    bmc=10.0.0.1\n"
        "    groups=compute,all\n"
        "    mgt=ipmi\n"
        "    os=rhels9\n"
    )


def test_lsdef_several_types_and_all(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    mn.ok("mkdef", "-t", "osimage", "-o", "img1", "imagetype=linux", "osvers=rhels9")
    out = mn.ok("lsdef", "-t", "node,osimage", "-l")
    assert "Object name: n1  (node)\n" in out
    assert out.endswith("Object name: img1  (osimage)\n    imagetype=linux\n    osvers=rhels9\n")
    out = mn.ok("lsdef", "-a")
    assert "n1 (node)\n" in out and "img1 (osimage)\n" in out
    assert "clustersite (site)\n" in out and "compute (group)\n" in out
    r = mn.run("lsdef", "-a", "-t", "node")
    assert r.err == "Error: The flags '-a' and '-t' cannot be used together.\n"


def test_lsdef_hidden_nodes_need_S(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    mn.ok("chdef", "n3", "hidden=1")
    assert "n3" not in mn.ok("lsdef")
    assert mn.ok("lsdef", "-S").endswith("n3  (node)\n")


def test_lsdef_xcatdefaults_postscripts(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    mn.ok("chtab", "node=xcatdefaults", "postscripts.postscripts=syslog,remoteshell",
          "postscripts.postbootscripts=otherpkgs")
    mn.ok("chdef", "n1", "postscripts=setupntp")
    out = mn.ok("lsdef", "n1", "-i", "postscripts,postbootscripts")
    assert out == ("Object name: n1\n    postbootscripts=otherpkgs\n"
                   "    postscripts=syslog,remoteshell,setupntp\n")
    assert "    postscripts=setupntp\n" in mn.ok("lsdef", "-z", "n1")


def test_lsdef_verbose_names_the_table(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    out = mn.ok("lsdef", "-V", "n1", "-i", "mgt")
    assert out == "Object name: n1\n    mgt=ipmi\t(Table:nodehm - Key:node - Column:mgt)\n"


def test_lsdef_type_help(mn) -> None:  # type: ignore[no-untyped-def]
    out = mn.ok("lsdef", "-t", "node", "-h")
    assert out.startswith("The valid attribute names for object type 'node' are:\n"
                          "Attribute          Description\n\n")
    assert "\nbmc:\t\t" in out and "\nbmcpassword:\t" in out
    out = mn.ok("lsdef", "-t", "network", "-h", "-i", "net,mask")
    assert lines(out)[0] == "Attribute          Description"
    assert [x.split(":")[0] for x in lines(out)[2:] if x] == ["mask", "net"]


def test_lsdef_site_and_policy(mn) -> None:  # type: ignore[no-untyped-def]
    assert mn.ok("lsdef", "-t", "site") == "clustersite  (site)\n"
    out = mn.ok("lsdef", "-t", "site", "-l")
    assert out.startswith("Object name: clustersite\n")
    assert "    xcatdport=3001\n" in out
    assert mn.ok("lsdef", "-t", "site", "-i", "xcatdport,nosuchkey") == (
        "Object name: clustersite\n    nosuchkey=\n    xcatdport=3001\n"
    )
    out = mn.ok("lsdef", "-t", "policy", "-o", "1", "-l")
    assert out.startswith("Object name: 1\n    name=")
    assert "    rule=trusted\n" in out or "    rule=allow\n" in out


def test_lsdef_template(mn) -> None:  # type: ignore[no-untyped-def]
    out = mn.ok("lsdef", "--template")
    assert "Object name: x86_64-template\n" in out
    out = mn.ok("lsdef", "-t", "node", "--template", "x86_64-template")
    assert out.startswith("Object name: x86_64-template\n    arch=x86_64\n")
    assert "    bmc=MANDATORY:" in out
    r = mn.run("lsdef", "--template", "nosuch-template")
    assert r.err == "Error: Could not find nosuch-template in xCAT templates.\n"
    assert mn.ok("lsdef", "--template", "-a", "-s") == (
        "pdu-template (node)\nppc64le-openbmc-template (node)\nppc64le-template (node)\n"
        "switch-template (node)\nx86_64-template (node)\n")


def test_lsdef_nics_expand(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("mkdef", "cn1", "groups=all", "nicips.eth0=1.1.1.1|1.2.1.1", "nicips.eth1=2.1.1.1",
          "nictypes.eth0=Ethernet")
    assert mn.dump("nics").splitlines()[1].startswith('"cn1","eth0!1.1.1.1|1.2.1.1,eth1!2.1.1.1"')
    assert mn.ok("lsdef", "cn1") == (
        "Object name: cn1\n    groups=all\n    nicips.eth0=1.1.1.1|1.2.1.1\n"
        "    nicips.eth1=2.1.1.1\n    nictypes.eth0=Ethernet\n"
    )
    assert mn.ok("lsdef", "cn1", "-i", "nicips.eth1", "-c") == "cn1: nicips.eth1=2.1.1.1\n"
    mn.ok("chdef", "cn1", "nicips.eth1=3.3.3.3")
    assert mn.ok("lsdef", "cn1", "-i", "nicips") == (
        "Object name: cn1\n    nicips.eth0=1.1.1.1|1.2.1.1\n    nicips.eth1=3.3.3.3\n"
    )


# --------------------------------------------------------------------------- #
# mkdef


@both_stores
def test_mkdef_writes_the_tables(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("mkdef", "-t", "node", "-o", "n1,n2", "groups=compute,all", "mgt=ipmi",
               "bmc=10.0.0.9", "bmcusername=ADMIN", "ip=10.1.0.1")
    assert (r.code, r.out, r.err) == (0, "2 object definitions have been created or modified.\n", "")
    assert mn.dump("nodelist").splitlines()[1:] == [
        '"n1","compute,all",,,,,,,,,,,', '"n2","compute,all",,,,,,,,,,,']
    assert mn.dump("nodehm").splitlines()[1:] == [
        '"n1",,"ipmi",,,,,,,,,,,,,', '"n2",,"ipmi",,,,,,,,,,,,,']
    assert mn.dump("ipmi").splitlines()[1:] == [
        '"n1","10.0.0.9",,,,"ADMIN",,,', '"n2","10.0.0.9",,,,"ADMIN",,,']
    assert mn.dump("hosts").splitlines()[1:] == ['"n1","10.1.0.1",,,,', '"n2","10.1.0.1",,,,']


def test_mkdef_noderange_and_single(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("mkdef", "n[01-03]", "groups=all")
    assert r.out == "3 object definitions have been created or modified.\n"
    assert mn.ok("lsdef") == "n01  (node)\nn02  (node)\nn03  (node)\n"


def test_mkdef_existing_needs_force(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    before = mn.dump_all()
    r = mn.run("mkdef", "n1,n9", "groups=x", "mgt=kvm")
    assert r.code == 1
    assert lines(r.err) == [
        "Error: A definition for 'n1' already exists.",
        "Error: To remove the old definition and replace it with a new definition use the "
        "force '-f' option.",
        "Error: To change the existing definition use the 'chdef' command.",
        "Error: One or more errors occured when attempting to create or modify xCAT object "
        "definitions.",
    ]
    assert mn.dump_all() == before
    r = mn.run("mkdef", "-f", "n1", "groups=x", "mgt=kvm")
    assert (r.code, r.out) == (0, "1 object definitions have been created or modified.\n")
    # -f replaces: the old bmc and os are gone
    assert mn.ok("lsdef", "n1") == "Object name: n1\n    groups=x\n    mgt=kvm\n"
    assert '"n1"' not in mn.dump("ipmi")


def test_mkdef_node_needs_groups(mn) -> None:  # type: ignore[no-untyped-def]
    before = mn.dump_all()
    r = mn.run("mkdef", "n1", "mgt=ipmi")
    assert r.code == 1
    assert lines(r.err) == [
        "Error: Attribute 'groups' is not specified for node 'n1', skipping to the next node.",
        "Error: One or more errors occured when attempting to create or modify xCAT object "
        "definitions.",
    ]
    assert mn.dump_all() == before


def test_mkdef_unknown_attribute_changes_nothing(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    before = mn.dump_all()
    r = mn.run("mkdef", "n7,n8", "groups=all", "mgt=ipmi", "colour=red", "size=9")
    assert r.code == 1
    assert lines(r.err) == [
        "Error: 'colour' is not a valid attribute name for an object type of 'node'.",
        "Error: 'size' is not a valid attribute name for an object type of 'node'.",
        "Error: One or more errors occured when attempting to create or modify xCAT object "
        "definitions.",
    ]
    assert r.out == ""
    assert mn.dump_all() == before


def test_mkdef_bad_input(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    before = mn.dump_all()
    r = mn.run("mkdef", "-t", "nosuch", "-o", "x", "a=b")
    assert (r.code, r.err) == (1, "Error: Type 'nosuch' is not a valid xCAT object type.\n")
    r = mn.run("mkdef", "-t", "osimage", "imagetype=linux")
    assert r.code == 1
    assert r.err.startswith("Error: No object names were provided.\n")
    r = mn.run("mkdef", "a.b", "groups=all")
    assert r.err.startswith("Error: The object name 'a.b' is invalid, Cannot use '.' in node name.")
    r = mn.run("mkdef", "-p", "n5", "groups=all")
    assert r.err.startswith("Error: The '-p' and '-m' options are not valid for the mkdef command.")
    assert mn.dump_all() == before


def test_mkdef_capital_letters_warn(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("mkdef", "Node1", "groups=all")
    assert r.code == 0
    assert r.err == ("Warning: The node name 'Node1' contains capital letters which may not "
                     "be resolved correctly by the dns server.\n")


def test_conditional_attributes_follow_mgt(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("mkdef", "n1", "groups=all", "mgt=ipmi", "bmc=10.0.0.1", "bmcpassword=pw")
    mn.ok("mkdef", "n2", "groups=all", "mgt=openbmc", "bmc=10.0.0.2", "bmcpassword=pw2")
    assert mn.dump("ipmi").splitlines()[1:] == ['"n1","10.0.0.1",,,,,"pw",,']
    assert mn.dump("openbmc").splitlines()[1:] == ['"n2","10.0.0.2",,,,"pw2",,']
    assert mn.ok("lsdef", "n1,n2", "-i", "bmc,bmcpassword", "-c") == (
        "n1: bmc=10.0.0.1\nn1: bmcpassword=pw\nn2: bmc=10.0.0.2\nn2: bmcpassword=pw2\n"
    )
    # the condition reads the value the node has: a stale ipmi row is not shown
    mn.ok("chdef", "n1", "mgt=openbmc")
    assert mn.ok("lsdef", "n1", "-i", "bmc,mgt") == "Object name: n1\n    bmc=\n    mgt=openbmc\n"
    mn.ok("chdef", "n1", "bmc=10.9.9.9")
    assert mn.dump("openbmc").splitlines()[1] == '"n1","10.9.9.9",,,,,,'
    assert mn.dump("ipmi").splitlines()[1] == '"n1","10.0.0.1",,,,,"pw",,'


def test_conditional_attribute_without_condition(mn) -> None:  # type: ignore[no-untyped-def]
    before = mn.dump_all()
    r = mn.run("mkdef", "n1", "groups=all", "bmc=10.0.0.1")
    assert r.code == 1
    assert lines(r.err)[0] == ("Error: Cannot set the 'bmc' attribute unless a value is "
                               "provided for 'mgt'.")
    r = mn.run("mkdef", "n1", "groups=all", "mgt=kvm", "bmc=10.0.0.1")
    assert lines(r.err)[0] == ("Error: Cannot set the attr='bmc' attribute unless "
                               "'mgt=ipmi' or 'mgt=openbmc'.")
    assert mn.dump_all() == before


def test_mkdef_other_types(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("mkdef", "-t", "osimage", "-o", "rh9", "imagetype=linux", "osvers=rhels9",
          "osarch=x86_64", "pkgdir=/install/rhels9")
    assert mn.dump("osimage").splitlines()[1].startswith('"rh9",,,"linux"')
    assert mn.dump("linuximage").splitlines()[1].startswith('"rh9",,,,,"/install/rhels9"')
    mn.ok("mkdef", "-t", "network", "-o", "mgmt", "net=10.0.0.0", "mask=255.0.0.0",
          "gateway=10.0.0.254")
    assert mn.dump("networks").splitlines()[1].startswith('"mgmt","10.0.0.0","255.0.0.0",,"10.0.0.254"')
    r = mn.run("mkdef", "-t", "network", "-o", "dup", "net=10.0.0.0", "mask=255.0.0.0")
    assert r.err.startswith("Error: A network definition called 'mgmt' already exists that "
                            "contains the same net and mask values. Cannot create a definition "
                            "for 'dup'.\n")
    r = mn.run("mkdef", "-t", "network", "-o", "nonet", "gateway=1.1.1.1")
    assert r.err.startswith("Error: Net or mask value should not be empty for xCAT network "
                            "object 'nonet'.\n")
    r = mn.run("mkdef", "-t", "osimage", "-o", "rh9", "imagetype=linux")
    assert r.code == 1 and r.err.startswith("Error: A definition for 'rh9' already exists.\n")
    mn.ok("mkdef", "-t", "policy", "-o", "7.0", "name=admin1", "rule=allow")
    assert '"7.0","admin1",,,,,,"allow",,' in mn.dump("policy")
    assert mn.ok("lsdef", "-t", "policy", "7.0") == (
        "Object name: 7.0\n    name=admin1\n    rule=allow\n")


def test_mkdef_template(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("mkdef", "-t", "node", "--template", "x86_64-template", "cn1", "groups=all")
    assert (r.code, r.err) == (1, 'Error: The attribute "bmc" must be specified!\n')
    mn.ok("mkdef", "-t", "node", "--template", "x86_64-template", "cn1", "bmc=10.2.0.1",
          "groups=compute")
    out = mn.ok("lsdef", "cn1")
    assert "    groups=compute\n    mgt=ipmi\n    netboot=xnba\n" in out
    assert "    bmc=10.2.0.1\n" in out and "OPTIONAL" not in out
    # an existing object can serve as the template
    mn.ok("mkdef", "--template", "cn1", "cn2", "bmc=10.2.0.2")
    assert mn.ok("lsdef", "cn2", "-i", "bmc,groups,mgt", "-c") == (
        "cn2: bmc=10.2.0.2\ncn2: groups=compute\ncn2: mgt=ipmi\n")
    r = mn.run("mkdef", "--template", "nosuch", "cn3")
    assert r.err == "Error: Could not find the template object named 'nosuch' of type 'node'.\n"


# --------------------------------------------------------------------------- #
# chdef


@both_stores
def test_chdef_replace_plus_minus(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    r = mn.run("chdef", "n1", "groups=compute,all,rack1")
    assert (r.code, r.out) == (0, "1 object definitions have been created or modified.\n")
    mn.ok("chdef", "-p", "n1", "groups=gpu,rack1")
    assert mn.ok("lsdef", "n1", "-i", "groups", "-c") == "n1: groups=compute,all,rack1,gpu\n"
    r = mn.run("chdef", "-m", "n1", "groups=rack1,nosuch")
    assert r.code == 0
    assert r.err == ("Warning: nosuch is not in the attribute of 'groups' for the 'n1' "
                     "definition.\n")
    assert '"n1","compute,all,gpu"' in mn.dump("nodelist")
    mn.ok("chdef", "-t", "node", "-o", "n1,n2", "-p", "postscripts=a,b")
    mn.ok("chdef", "n1", "-p", "postscripts=b,c")
    assert '"n1","a,b,c",,,' in mn.dump("postscripts")
    mn.ok("chdef", "n1", "postscripts=")
    assert mn.ok("lsdef", "n1", "-i", "postscripts") == "Object name: n1\n    postscripts=\n"


def test_chdef_creates_and_reports_new(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    r = mn.run("chdef", "n1,n9", "groups=all", "mgt=kvm")
    assert r.code == 0
    assert lines(r.out) == ["2 object definitions have been created or modified.",
                            "New object definitions 'n9' have been created."]


def test_chdef_bad_input_changes_nothing(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    before = mn.dump_all()
    r = mn.run("chdef", "n1", "colour=red")
    assert lines(r.err) == [
        "Error: 'colour' is not a valid attribute name for an object type of 'node'.",
        "Error: One or more errors occured when attempting to create or modify xCAT object "
        "definitions.",
    ]
    # a node that does not exist: chdef would create it, but not without groups
    r = mn.run("chdef", "n1,nonode", "mgt=kvm")
    assert r.code == 1
    assert lines(r.err)[0] == ("Error: Attribute 'groups' is not specified for node 'nonode', "
                               "skipping to the next node.")
    r = mn.run("chdef", "-m", "nonode", "groups=all")
    assert lines(r.err)[0] == ("Error: The '-m' option is not valid since the 'nonode' "
                               "definition does not exist.")
    r = mn.run("chdef", "-t", "node", "mgt=kvm")
    assert r.code == 1 and r.err.startswith("Error: No object names were provided.\n")
    r = mn.run("chdef", "-t", "nosuch", "-o", "x", "a=b")
    assert r.err == "Error: Type 'nosuch' is not a valid xCAT object type.\n"
    r = mn.run("chdef", "-f", "n1", "mgt=kvm")
    assert r.err.startswith("Error: The '-f' option is not valid for the chdef command.\n")
    r = mn.run("chdef", "-p", "n1", "nicips.eth0=1.1.1.1")
    assert r.err == ("Error: chdef does not support to change the nic related attributes "
                     "with -m or -p flag.\n")
    assert mn.dump_all() == before


@both_stores
def test_chdef_rename_node_everywhere(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    mn.ok("chtab", "node=n1", "kvm_nodedata.xml=<domain/>")
    mn.ok("chdef", "n1", "ip=10.5.0.1", "mac=aa:bb:cc:dd:ee:ff")
    r = mn.run("chdef", "-t", "node", "-o", "n1", "-n", "n100")
    assert (r.code, r.out) == (0, "Changed the object name from n1 to n100.\n")
    dump = mn.dump_all()
    assert not any('"n1"' in text for text in dump.values())
    for table in ("nodelist", "nodehm", "ipmi", "nodetype", "hosts", "mac", "kvm_nodedata"):
        assert '"n100"' in dump[table], table
    assert mn.ok("lsdef", "n100", "-i", "ip,bmc", "-c") == "n100: bmc=10.0.0.1\nn100: ip=10.5.0.1\n"


def test_chdef_rename_errors(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    before = mn.dump_all()
    r = mn.run("chdef", "-n", "n5", "nosuch")
    assert r.err == "Error: The nosuch is not a valid object.\n"
    r = mn.run("chdef", "-n", "n2", "n1")
    assert r.err == "Error: Object n2 already exists.\n"
    r = mn.run("chdef", "-n", "x", "n1,n2")
    assert r.err.startswith("Error: The '-n' option (changing object name) can only work on "
                            "one object.\n")
    r = mn.run("chdef", "-n", "x", "-p", "n1")
    assert r.err.startswith("Error: Cannot combine '-n' and '-d','-p','-m','-z','-w' options.")
    assert mn.dump_all() == before


def test_chdef_site(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("chdef", "-t", "site", "xcatdport=4001", "mynewkey=hello")
    assert '"xcatdport","4001",,' in mn.dump("site")
    assert '"mynewkey","hello",,' in mn.dump("site")
    mn.ok("chdef", "-t", "site", "-o", "clustersite", "mynewkey=")
    assert "mynewkey" not in mn.dump("site")
    assert mn.ok("lsdef", "-t", "site", "-i", "xcatdport", "-c") == "clustersite: xcatdport=4001\n"


def test_chdef_policy_and_network_rename(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("chdef", "-t", "policy", "-o", "7.0", "name=admin1", "rule=allow")
    mn.ok("chdef", "-t", "policy", "-o", "7.0", "rule=deny")
    assert '"7.0","admin1",,,,,,"deny",,' in mn.dump("policy")
    mn.ok("mkdef", "-t", "network", "-o", "net1", "net=10.0.0.0", "mask=255.0.0.0")
    mn.ok("chdef", "-t", "network", "-o", "net1", "-n", "mgmt")
    assert mn.dump("networks").splitlines()[1].startswith('"mgmt","10.0.0.0","255.0.0.0"')


# --------------------------------------------------------------------------- #
# groups


@both_stores
def test_static_group(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    r = mn.run("mkdef", "-t", "group", "-o", "rack1", "members=n1,n2", "mgt=ipmi")
    assert (r.code, r.out) == (0, "1 object definitions have been created or modified.\n")
    assert '"rack1","static","static",,,,' in mn.dump("nodegroup")
    assert '"n1","compute,all,rack1"' in mn.dump("nodelist")
    assert '"rack1",,"ipmi"' in mn.dump("nodehm")
    assert mn.ok("lsdef", "-t", "group", "rack1") == (
        "Object name: rack1\n    grouptype=static\n    members=n1,n2\n    mgt=ipmi\n")
    mn.ok("chdef", "-t", "group", "-o", "rack1", "-p", "members=n3")
    assert mn.ok("lsdef", "-t", "group", "rack1", "-i", "members", "-c") == (
        "rack1: members=n1,n2,n3\n")
    mn.ok("chdef", "-t", "group", "-o", "rack1", "-m", "members=n1")
    r = mn.run("chdef", "-t", "group", "-o", "rack1", "-m", "members=n1")
    assert (r.code, r.err) == (0, "Warning: n1 is not a member of 'rack1'.\n")
    mn.ok("chdef", "-t", "group", "-o", "rack1", "members=g1,n2")
    assert mn.ok("lsdef", "-t", "group", "rack1", "-i", "members", "-c") == (
        "rack1: members=g1,n2\n")
    assert '"n3","compute,all"' in mn.dump("nodelist")
    r = mn.run("rmdef", "-t", "group", "-o", "rack1")
    assert (r.code, r.out) == (0, "1 object definitions have been removed.\n")
    assert "rack1" not in "".join(mn.dump_all().values())


def test_group_member_errors(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    before = mn.dump_all()
    r = mn.run("mkdef", "-t", "group", "-o", "rack1", "members=n1,n99")
    assert lines(r.err)[0] == "Error: Could not find a node named 'n99', skipping to the next node."
    r = mn.run("mkdef", "-t", "group", "-o", "rack1", "members=n1", "-w", "mgt==ipmi")
    assert lines(r.err)[0] == "Error: Cannot use a list of members together with the '-w' option."
    assert mn.dump_all() == before
    r = mn.run("mkdef", "-t", "group", "-o", "empty")
    assert r.code == 0
    assert r.err == "Warning: Cannot determine a member list for group 'empty'.\n"


@both_stores
def test_dynamic_group(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    r = mn.run("mkdef", "-t", "group", "-o", "ipminodes", "-d", "-w", "mgt==ipmi",
               "-w", "arch=~x86")
    assert r.code == 0, r.err
    assert '"ipminodes","dynamic","dynamic",,"mgt==ipmi::arch=~x86",,' in mn.dump("nodegroup")
    assert mn.ok("lsdef", "-t", "group", "ipminodes") == (
        "Object name: ipminodes\n    grouptype=dynamic\n    members=n1,n2,n3\n"
        "    wherevals=mgt==ipmi::arch=~x86\n")
    # the dynamic group works as a noderange too
    assert mn.ok("lsdef", "ipminodes", "-s") == "n1  (node)\nn2  (node)\nn3  (node)\n"
    mn.ok("chdef", "n3", "arch=ppc64le")
    mn.ok("chdef", "-t", "group", "-o", "ipminodes", "-d", "-p", "-w", "os==rhels9")
    assert mn.ok("lsdef", "-t", "group", "ipminodes", "-i", "members,wherevals", "-c") == (
        "ipminodes: members=n1,n2\nipminodes: wherevals=mgt==ipmi::arch=~x86::os==rhels9\n")
    before = mn.dump_all()
    r = mn.run("chdef", "-t", "group", "-o", "ipminodes", "mgt=kvm")
    assert lines(r.err)[0] == "Error: Can not assign attributes to dynamic node group 'ipminodes'."
    r = mn.run("mkdef", "-t", "group", "-o", "d2", "-d")
    assert lines(r.err)[0] == ("Error: The 'where' attributes and values were not provided for "
                               "dynamic group 'd2'.")
    r = mn.run("mkdef", "-t", "group", "-o", "d3", "-d", "-w", "colour==red")
    assert r.err == ("Error: Incorrect attribute 'colour' in the selection string specified "
                     "with -w flag.\n")
    assert mn.dump_all() == before
    mn.ok("rmdef", "-t", "group", "ipminodes")
    assert "ipminodes" not in mn.dump("nodegroup")
    assert '"n1","compute,all"' in mn.dump("nodelist")


# --------------------------------------------------------------------------- #
# rmdef


@both_stores
def test_rmdef_node_clears_every_table(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    mn.ok("chtab", "node=n1", "kvm_nodedata.xml=<domain/>")
    mn.ok("chdef", "n1", "ip=10.5.0.1", "postscripts=a")
    r = mn.run("rmdef", "-t", "node", "n1-n2")
    assert (r.code, r.out, r.err) == (0, "2 object definitions have been removed.\n", "")
    dump = mn.dump_all()
    assert not any('"n1"' in t or '"n2"' in t for t in dump.values())
    assert mn.ok("lsdef") == "g1  (node)\nn3  (node)\n"


def test_rmdef_messages(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    r = mn.run("rmdef", "n1,zz")
    assert r.code == 1
    assert r.err == "Error: Could not find an object named 'zz' of type 'node'.\n"
    assert r.out == "1 object definitions have been removed.\n"
    r = mn.run("rmdef", "-t", "osimage", "-o", "nope")
    assert r.out == "No objects have been removed from the xCAT database.\n"
    r = mn.run("rmdef", "-V", "n2,n3")
    assert r.out == "The following objects were removed:\nn2\nn3\n"
    before = mn.dump_all()
    r = mn.run("rmdef", "-a")
    assert r.err.startswith("Error: You must use the '-f' option when using the '-a' option.\n")
    r = mn.run("rmdef", "-l", "g1")
    assert r.err.startswith("Error: Invalid flag specified, see rmdef manpage for details.\n")
    r = mn.run("rmdef", "-t", "node")
    assert r.err.startswith("Error: No object names were provided.\n")
    assert mn.dump_all() == before


def test_rmdef_all(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    mn.ok("mkdef", "-t", "osimage", "-o", "img", "imagetype=linux")
    r = mn.run("rmdef", "-a", "-f")
    assert r.code == 0, r.err
    assert mn.ok("lsdef") == "Could not find any object definitions to display.\n"
    assert mn.dump("osimage").splitlines()[1:] == []
    assert mn.dump("site").splitlines()[1:] == []


def test_rmdef_other_types(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("mkdef", "-t", "osimage", "-o", "img", "imagetype=linux", "pkgdir=/x")
    mn.ok("mkdef", "-t", "network", "-o", "n1", "net=10.0.0.0", "mask=255.0.0.0")
    assert mn.ok("rmdef", "-t", "osimage", "img") == "1 object definitions have been removed.\n"
    assert mn.ok("rmdef", "-t", "network", "n1") == "1 object definitions have been removed.\n"
    assert mn.dump("linuximage").splitlines()[1:] == []
    assert mn.dump("networks").splitlines()[1:] == []


# --------------------------------------------------------------------------- #
# command line


def test_usage_and_help(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("mkdef")
    assert r.code == 0
    assert "Usage: mkdef - Create xCAT data object definitions." in r.out
    for cmd in ("lsdef", "mkdef", "chdef", "rmdef"):
        r = mn.run(cmd, "-h")
        assert r.code == 0 and f"Usage: {cmd}" in r.out
    r = mn.run("chdef", "-t", "group", "-h", "-i", "members")
    assert r.out == "Attribute          Description\n\nmembers:\tThe list of members for this group.\n" or \
        r.out.startswith("Attribute          Description\n\nmembers:\t")


# --------------------------------------------------------------------------- #
# scale: lsdef over many nodes is a bounded number of statements


def test_lsdef_long_is_bulk(mn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from xcatpy.store import db

    mn.ok("mkdef", "-t", "group", "-o", "rack")
    mn.ok("chdef", "-t", "group", "rack", "mgt=ipmi", "bmc=|n(\\d+)|10.0.($1/250).($1%250)|")
    mn.ok("mkdef", "n[1-2000]", "groups=rack,all", "arch=x86_64")
    mn.ok("chdef", "n[1-1000]", "ip=10.1.0.1", "netboot=xnba")
    statements: list[str] = []
    real = db.engine_for

    def counted(url: str):  # type: ignore[no-untyped-def]
        engine = real(url)
        sa.event.listen(engine, "before_cursor_execute",
                        lambda conn, cur, stmt, *a: statements.append(stmt))
        return engine

    monkeypatch.setattr(db, "engine_for", counted)
    out = mn.ok("lsdef", "-t", "node", "-l")
    assert out.count("Object name: ") == 2000
    assert "Object name: n1999\n    arch=x86_64\n    bmc=10.0.7.249\n    groups=rack,all\n" \
        "    mgt=ipmi\n" in out
    # one query per table the node type maps, however many nodes
    many = len(statements)
    assert many < 50, many
    assert all(s.lstrip().upper().startswith(("SELECT", "PRAGMA")) for s in statements)
    statements.clear()
    mn.ok("lsdef", "-l", "n7")
    # all 2000 cost no more queries than one (the scan asks first which
    # columns hold data, and skips the empty tables)
    assert len(statements) >= many
    statements.clear()
    out = mn.ok("lsdef", "-w", "bmc==10.0.0.7", "-i", "bmc")
    assert out == "Object name: n7\n    bmc=10.0.0.7\n"
    assert len(statements) < 20, len(statements)


# --------------------------------------------------------------------------- #
# more types and options


def test_other_types_round(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("mkdef", "-t", "route", "-o", "r1", "net=10.5.0.0", "mask=255.255.0.0",
          "gateway=10.0.0.1")
    assert mn.ok("lsdef", "-t", "route", "r1") == (
        "Object name: r1\n    gateway=10.0.0.1\n    mask=255.255.0.0\n    net=10.5.0.0\n")
    # monitoring plug-in settings beyond the monitoring table go to monsetting
    mn.ok("mkdef", "-t", "monitoring", "-o", "snmpmon", "nodestatmon=yes", "interval=5")
    assert mn.dump("monsetting").splitlines()[1:] == ['"snmpmon","interval","5",,']
    assert mn.ok("lsdef", "-t", "monitoring", "snmpmon") == (
        "Object name: snmpmon\n    interval=5\n    nodestatmon=yes\n")
    mn.ok("rmdef", "-t", "monitoring", "snmpmon")
    assert mn.dump("monsetting").splitlines()[1:] == []
    mn.ok("mkdef", "-t", "zone", "-o", "z1", "sshkeydir=/keys", "defaultzone=yes")
    assert mn.ok("lsdef", "-t", "zone") == "z1  (zone)\n"


def test_osimage_fill(mn) -> None:  # type: ignore[no-untyped-def]
    custom = mn.root / "install/custom/netboot/rhels9"
    custom.mkdir(parents=True)
    (custom / "compute.rhels9.4.x86_64.pkglist").write_text("bash\n")
    r = mn.run("mkdef", "img1", "-u", "profile=compute", "provmethod=netboot", "osvers=rhels9.4",
               "osarch=x86_64")
    assert r.code == 0, r.err
    root = mn.root / "install"
    assert mn.ok("lsdef", "-t", "osimage", "img1") == (
        "Object name: img1\n    imagetype=linux\n    osarch=x86_64\n"
        "    osdistroname=rhels9.4-x86_64\n    osname=Linux\n    osvers=rhels9.4\n"
        f"    otherpkgdir={root}/post/otherpkgs/rhels9.4/x86_64\n"
        f"    pkgdir={root}/rhels9.4/x86_64\n"
        f"    pkglist={custom}/compute.rhels9.4.x86_64.pkglist\n"
        "    profile=compute\n    provmethod=netboot\n"
        f"    rootimgdir={root}/netboot/rhels9.4/x86_64/compute\n")
    r = mn.run("mkdef", "img2", "-u", "profile=compute")
    assert r.err.startswith("Error: The profile and provmethod are all need to be specified.\n")
    r = mn.run("mkdef", "-t", "node", "n1", "-u", "profile=compute")
    assert r.err == "Error: Option '-u' only work for objtype 'osimage'.\n"


def test_lsdef_osimage_of_node(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("mkdef", "-t", "osimage", "-o", "img1", "imagetype=linux", "osvers=rhels9",
          "pkgdir=/install/rhels9")
    mn.ok("mkdef", "n1", "groups=all", "provmethod=img1")
    assert mn.ok("lsdef", "n1", "--osimage") == (
        "Object name: n1\n    groups=all\n    provmethod=img1\n"
        "    imagetype=linux\n    osvers=rhels9\n    pkgdir=/install/rhels9\n")


def test_rmdef_cleanup_flag(mn) -> None:  # type: ignore[no-untyped-def]
    cluster(mn)
    r = mn.run("rmdef", "-C", "n1")
    assert (r.code, r.out) == (0, "1 object definitions have been removed.\n")
    r = mn.run("lsdef", "-C", "n2")
    assert r.err.startswith("Error: Option '-C' can not be used with lsdef.\n")


def test_verbose_write_lists_objects(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("mkdef", "-V", "n2,n1", "groups=all")
    assert r.out == "The database was updated for the following objects:\nn1\nn2\n"
