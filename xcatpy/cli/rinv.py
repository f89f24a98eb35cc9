"""rinv — read hardware inventory from the nodes' BMCs."""

from __future__ import annotations

from xcatpy.cli._hardware import hardware_command

cli, main = hardware_command(
    "rinv",
    """Read hardware inventory from the nodes' BMCs.

    Model, serial number, asset tag, device id, GUID, firmware, DIMMs and the
    BMC's MAC address, read from the FRU and the BMC; all when none is given.
    """,
    "[model|serial|asset|vpd|deviceid|guid|uuid|firm|mprom|dimm|mac|all ...]",
)
