"""Stanza files (xcatstanzafile(5)) and the object templates shipped with xcatpy."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from xcatpy.commands.objects.options import _Stop


@dataclass
class Stanza:
    objects: dict[str, dict[str, str]] = field(default_factory=dict)
    """Object name -> attributes (``objtype`` included), in file order."""


def parse_stanza(text: str) -> Stanza:
    """Parse stanza text: ``name:`` headers, ``attr=value`` lines, ``#`` comments,
    ``default-<type>:`` stanzas whose values apply to later objects of the type.

    As in xCAT, defaults are applied where an object's ``objtype`` line is met,
    and quotes around values are dropped.  Unlike xCAT, a line that is neither
    a header, an attribute nor a comment is an error naming the line.
    """
    out = Stanza()
    defaults: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    default_type: str | None = None
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith(":") and "=" not in line:
            name = line[:-1].strip()
            if not name:
                raise _Stop(f"Invalid stanza header on line {lineno}: {raw.strip()}")
            if name.startswith("default-"):
                default_type = name[len("default-"):]
                defaults.setdefault(default_type, {})
                current = None
                continue
            default_type = None
            current = out.objects.setdefault(name, {})
            continue
        m = re.match(r"^\s*(.*?)\s*=\s*(.*?)\s*$", raw)
        if m is None or (current is None and default_type is None):
            raise _Stop(f"Invalid line {lineno} in the stanza input: {raw.strip()}")
        attr, value = m.group(1), m.group(2)
        value = re.sub(r'^\s*"\s*', "", value)
        value = re.sub(r'\s*"\s*$', "", value)
        if default_type is not None:
            defaults[default_type][attr] = value
            continue
        assert current is not None
        current[attr] = value
        if attr == "objtype":
            current.update(defaults.get(value, {}))
    return out


# Object definition templates shipped with xcatpy (lsdef/mkdef --template).
# MANDATORY: values must be given on mkdef; OPTIONAL: values are left unset.
TEMPLATES = """
x86_64-template:
    objtype=node
    arch=x86_64
    bmc=MANDATORY:address or host name of the node's BMC
    bmcpassword=OPTIONAL:BMC password, when not the one in the passwd table
    bmcusername=OPTIONAL:BMC user, when not the one in the passwd table
    cons=ipmi
    consoleondemand=yes
    groups=all
    ip=OPTIONAL:address of the node on the installation network
    mac=OPTIONAL:MAC address of the installation interface
    mgt=ipmi
    netboot=xnba
    usercomment=x86_64 server managed over IPMI

ppc64le-template:
    objtype=node
    arch=ppc64le
    bmc=MANDATORY:address or host name of the node's BMC
    bmcpassword=OPTIONAL:BMC password, when not the one in the passwd table
    bmcusername=OPTIONAL:BMC user, when not the one in the passwd table
    cons=ipmi
    consoleondemand=yes
    groups=all
    ip=OPTIONAL:address of the node on the installation network
    mac=OPTIONAL:MAC address of the installation interface
    mgt=ipmi
    netboot=petitboot
    usercomment=POWER little-endian server managed over IPMI

ppc64le-openbmc-template:
    objtype=node
    arch=ppc64le
    bmc=MANDATORY:address or host name of the node's OpenBMC
    bmcpassword=OPTIONAL:OpenBMC password, when not the one in the passwd table
    bmcusername=OPTIONAL:OpenBMC user, when not the one in the passwd table
    cons=openbmc
    consoleondemand=yes
    groups=all
    ip=OPTIONAL:address of the node on the installation network
    mac=OPTIONAL:MAC address of the installation interface
    mgt=openbmc
    netboot=petitboot
    usercomment=POWER little-endian server managed by OpenBMC

switch-template:
    objtype=node
    groups=switch
    ip=MANDATORY:management address of the switch
    mgt=switch
    nodetype=switch
    password=OPTIONAL:SSH password of the switch
    switchtype=OPTIONAL:switch vendor type, e.g. onie or cumulus
    username=OPTIONAL:SSH user of the switch
    usercomment=network switch

pdu-template:
    objtype=node
    groups=pdu
    ip=MANDATORY:management address of the PDU
    mgt=pdu
    nodetype=pdu
    pdutype=OPTIONAL:PDU vendor type, e.g. irpdu or crpdu
    usercomment=power distribution unit
"""


def templates() -> dict[str, dict[str, str]]:
    return parse_stanza(TEMPLATES).objects
