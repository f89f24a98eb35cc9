"""Stanza files (xcatstanzafile(5)): parsing, mkdef/chdef -z, and lsdef -z round trips."""

from __future__ import annotations

import pytest

from tests.conftest import both_stores
from xcatpy.commands.objects.options import _Stop
from xcatpy.commands.objects.stanza import parse_stanza

SAMPLE = """\
# <xCAT data object stanza file>

default-node:
    groups=all,compute
    netboot=xnba

node01:
    objtype=node
    mgt=ipmi
    bmc = "10.0.0.1"

node02:
  objtype=node
  groups=all,login
  usercomment=has:colons:

mgmt:
    objtype=network
    net=10.0.0.0
    mask=255.0.0.0
"""


def test_parse_defaults_comments_quotes() -> None:
    objs = parse_stanza(SAMPLE).objects
    assert list(objs) == ["node01", "node02", "mgmt"]
    assert objs["node01"] == {"objtype": "node", "groups": "all,compute", "netboot": "xnba",
                              "mgt": "ipmi", "bmc": "10.0.0.1"}
    # a value given in the stanza wins over the default, whatever its position after objtype
    assert objs["node02"]["groups"] == "all,login"
    assert objs["node02"]["usercomment"] == "has:colons:"
    assert objs["mgmt"] == {"objtype": "network", "net": "10.0.0.0", "mask": "255.0.0.0"}


def test_parse_default_can_be_turned_off() -> None:
    text = ("default-node:\n  os=rhels9\nn1:\n  objtype=node\n"
            "default-node:\n  os=\nn2:\n  objtype=node\n")
    objs = parse_stanza(text).objects
    assert objs["n1"]["os"] == "rhels9"
    assert objs["n2"]["os"] == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("n1:\n  objtype=node\n  this is not an attribute\n",
         "Invalid line 3 in the stanza input: this is not an attribute"),
        ("  groups=all\nn1:\n  objtype=node\n",
         "Invalid line 1 in the stanza input: groups=all"),
        (":\n", "Invalid stanza header on line 1: :"),
    ],
)
def test_parse_rejects_malformed(text: str, message: str) -> None:
    with pytest.raises(_Stop) as info:
        parse_stanza(text)
    assert info.value.messages == (message,)


def test_mkdef_from_stanza(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("mkdef", "-z", stdin=SAMPLE)
    assert (r.code, r.out, r.err) == (0, "3 object definitions have been created or modified.\n",
                                      "")
    assert mn.ok("lsdef", "node01") == ("Object name: node01\n    bmc=10.0.0.1\n"
                                        "    groups=all,compute\n    mgt=ipmi\n"
                                        "    netboot=xnba\n")
    assert mn.dump("networks").splitlines()[1].startswith('"mgmt","10.0.0.0","255.0.0.0"')


def test_chdef_from_stanza(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("mkdef", "-z", stdin=SAMPLE)
    r = mn.run("chdef", "-z", stdin="node01:\n  objtype=node\n  mgt=openbmc\n  bmc=10.9.0.1\n"
                                    "node09:\n  objtype=node\n  groups=all\n")
    assert r.code == 0, r.err
    assert r.out == ("2 object definitions have been created or modified.\n"
                     "New object definitions 'node09' have been created.\n")
    assert mn.ok("lsdef", "node01", "-i", "bmc,mgt", "-c") == (
        "node01: bmc=10.9.0.1\nnode01: mgt=openbmc\n")


def test_stanza_errors_change_nothing(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("mkdef", "-z", stdin=SAMPLE)
    before = mn.dump_all()
    r = mn.run("mkdef", "-z", "-f", stdin="n5:\n  objtype=node\n  groups=all\n  oops\n")
    assert (r.code, r.err) == (1, "Error: Invalid line 4 in the stanza input: oops\n")
    r = mn.run("mkdef", "-z", stdin="n5:\n  groups=all\n")
    assert r.code == 1
    assert r.err.splitlines()[0] == ("Error: No objtype value was specified for 'n5'. "
                                     "Cannot create object definition.")
    r = mn.run("mkdef", "-z", "-f", stdin="n5:\n  objtype=node\n  groups=all\n  colour=red\n"
                                          "node01:\n  objtype=node\n  groups=x\n")
    assert r.err.splitlines()[0] == ("Error: 'colour' is not a valid attribute name for an "
                                     "object type of 'node'.")
    r = mn.run("mkdef", "-z", stdin="n6:\n  objtype=nosuch\n")
    assert r.err.splitlines()[0] == "Error: Type 'nosuch' is not a valid xCAT object type."
    r = mn.run("mkdef", "-z", "-o", "n7", stdin=SAMPLE)
    assert r.err.splitlines()[0] == "Error: Cannot use '-z' with '-o' or a noderange."
    r = mn.run("mkdef", "-z", stdin=SAMPLE)
    assert "Error: A definition for 'node01' already exists." in r.err
    assert mn.dump_all() == before


def build_cluster(mn) -> None:  # type: ignore[no-untyped-def]
    """A small site using every kind of object the stanza format carries."""
    mn.ok("mkdef", "-t", "group", "-o", "all,compute,gpu")
    mn.ok("chdef", "-t", "group", "-o", "compute", "usercomment=CPU nodes")
    mn.ok("mkdef", "n[1-4]", "groups=compute,all", "mgt=ipmi", "bmcusername=ADMIN",
          "arch=x86_64", "os=rhels9.4", "profile=compute", "netboot=xnba")
    for i in range(1, 5):
        mn.ok("chdef", f"n{i}", f"bmc=10.0.0.{i}", f"ip=10.1.0.{i}", f"mac=aa:bb:cc:00:00:0{i}")
    mn.ok("mkdef", "g1", "groups=gpu,all", "mgt=openbmc", "bmc=10.0.1.1", "cons=openbmc",
          "nicips.ib0=10.2.0.1", "nicips.eth1=10.3.0.1", "nictypes.ib0=Infiniband",
          "postscripts=confignics", "usercomment=GPU node")
    mn.ok("mkdef", "-t", "group", "-o", "ipmi", "-d", "-w", "mgt==ipmi")
    mn.ok("mkdef", "-t", "osimage", "-o", "rhels9.4-x86_64-install-compute", "imagetype=linux",
          "osvers=rhels9.4", "osarch=x86_64", "provmethod=install", "profile=compute",
          "pkgdir=/install/rhels9.4/x86_64", "template=/opt/xcat/share/compute.tmpl")
    mn.ok("mkdef", "-t", "network", "-o", "mgmt", "net=10.0.0.0", "mask=255.255.0.0",
          "gateway=10.0.255.254", "dhcpserver=10.0.0.254", "mgtifname=eth0")
    mn.ok("mkdef", "-t", "policy", "-o", "7.0", "name=admin1", "rule=allow", "commands=lsdef")
    mn.ok("chdef", "-t", "site", "domain=cluster.example", "xcatsslversion=")


@both_stores
def test_round_trip_reproduces_the_tables(mn) -> None:  # type: ignore[no-untyped-def]
    build_cluster(mn)
    before = mn.dump_all()
    stanza = mn.ok("lsdef", "-t", "node,group,osimage,network,policy,site", "-z")
    assert stanza.startswith("# <xCAT data object stanza file>\n\ng1:\n    objtype=node\n")
    assert "\nn1:\n    objtype=node\n" in stanza
    assert "    nicips.eth1=10.3.0.1\n    nicips.ib0=10.2.0.1\n" in stanza \
        or "    nicips.ib0=10.2.0.1\n    nicips.eth1=10.3.0.1\n" in stanza
    r = mn.run("mkdef", "-z", "-f", stdin=stanza)
    assert r.code == 0, r.err
    assert mn.dump_all() == before
    # and a second time, from what the first restore wrote
    assert mn.ok("lsdef", "-t", "node,group,osimage,network,policy,site", "-z") == stanza


def test_round_trip_keeps_rows_no_attribute_maps(mn) -> None:  # type: ignore[no-untyped-def]
    build_cluster(mn)
    mn.ok("chtab", "node=n1", "kvm_nodedata.xml=<domain/>")
    before = mn.dump_all()
    stanza = mn.ok("lsdef", "-z", "n1")
    mn.ok("mkdef", "-z", "-f", stdin=stanza)
    assert mn.dump_all() == before


def test_round_trip_into_an_empty_database(mn, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    build_cluster(mn)
    stanza = mn.ok("lsdef", "-t", "node,group,osimage,network", "-z")
    nodes = mn.dump("nodelist")
    mn.ok("rmdef", "-t", "node", "n1-n4,g1")
    mn.ok("rmdef", "-t", "group", "all,compute,gpu,ipmi")
    assert mn.ok("lsdef") == "Could not find any object definitions to display.\n"
    mn.ok("mkdef", "-z", "-f", stdin=stanza)
    assert mn.dump("nodelist") == nodes
    assert mn.ok("lsdef", "-t", "node,group,osimage,network", "-z") == stanza
