"""Chassis operations as coroutines on an engine :class:`~xcatpy.ipmi.engine.Session`.

These are the hot-path commands (power, boot device, identify) implemented
natively, without pyghmi.  A non-zero completion code raises
:class:`~xcatpy.ipmi.engine.IpmiCommandError` with a readable message.
"""

from __future__ import annotations

from dataclasses import dataclass

from xcatpy.ipmi import rmcp
from xcatpy.ipmi.engine import IpmiCommandError, IpmiError, Response, Session

NETFN_CHASSIS = 0x00
CMD_CHASSIS_STATUS = 0x01
CMD_CHASSIS_CONTROL = 0x02
CMD_CHASSIS_IDENTIFY = 0x04
CMD_SET_BOOT_OPTIONS = 0x08
CMD_GET_BOOT_OPTIONS = 0x09

POWER_ACTIONS = {"off": 0, "on": 1, "cycle": 2, "reset": 3, "nmi": 4, "softoff": 5}

# Boot device selector (parameter 5, data byte 2, bits 5:2) by our device name.
BOOT_DEVICES = {"net": 0x04, "hd": 0x08, "cd": 0x14, "setup": 0x18, "floppy": 0x3C, "def": 0x00}
_BOOT_NAMES = {
    0x00: "def", 0x04: "net", 0x08: "hd", 0x0C: "hd", 0x10: "def", 0x14: "cd",
    0x18: "setup", 0x1C: "floppy", 0x3C: "floppy",
}


def _check(rsp: Response, what: str) -> Response:
    if rsp.code:
        raise IpmiCommandError(f"{what} failed: {rmcp.completion_text(rsp.code)} "
                               f"(0x{rsp.code:02x})", rsp.code)
    return rsp


@dataclass(frozen=True)
class ChassisStatus:
    """Decoded Get Chassis Status."""

    power_on: bool
    identify: str | None  # "off", "on", "timed", or None when not reported


async def chassis_status(session: Session) -> ChassisStatus:
    """Get Chassis Status."""
    # Get Chassis Status is a USER-level command: no privilege change needed.
    rsp = _check(await session.command(NETFN_CHASSIS, CMD_CHASSIS_STATUS, priv=rmcp.PRIV_USER),
                 "get chassis status")
    if len(rsp.data) < 1:
        raise IpmiError(f"BMC answered garbage ({session.bmc.label}): empty chassis status")
    ident: str | None = None
    if len(rsp.data) >= 3 and rsp.data[2] & 0x40:
        ident = ("off", "timed", "on", "on")[(rsp.data[2] >> 4) & 3]
    return ChassisStatus(bool(rsp.data[0] & 1), ident)


async def get_power(session: Session) -> str:
    """``"on"`` or ``"off"``."""
    return "on" if (await chassis_status(session)).power_on else "off"


async def set_power(session: Session, action: str) -> None:
    """Chassis Control: on, off, cycle, reset, nmi (diagnostic interrupt), softoff."""
    try:
        code = POWER_ACTIONS[action]
    except KeyError:
        raise ValueError(f"unknown power action {action!r}") from None
    _check(await session.command(NETFN_CHASSIS, CMD_CHASSIS_CONTROL, bytes([code])),
           f"power {action}")


@dataclass(frozen=True)
class BootDev:
    """Boot options parameter 5, decoded."""

    device: str  # what the next boot will use: the selector if valid, else "def"
    selector: str  # the device selector as stored, whatever the valid bit says
    valid: bool
    uefi: bool
    persistent: bool


async def get_bootdev(session: Session) -> str:
    """Next boot device: net, hd, cd, setup, floppy, or def when no valid
    override is set (the boot flags' valid bit is clear)."""
    return (await get_bootdev_detail(session)).device


async def get_bootdev_detail(session: Session) -> BootDev:
    """Boot options parameter 5 with all its flags."""
    rsp = _check(await session.command(NETFN_CHASSIS, CMD_GET_BOOT_OPTIONS, bytes([5, 0, 0])),
                 "get boot options")
    d = rsp.data
    if len(d) < 4:
        raise IpmiError(f"BMC answered garbage ({session.bmc.label}): short boot options")
    flags, dev = d[2], d[3] & 0x3C
    selector = _BOOT_NAMES.get(dev, f"0x{dev:02x}")
    valid = bool(flags & 0x80)
    return BootDev(selector if valid else "def", selector, valid, bool(flags & 0x20),
                   bool(flags & 0x40))


async def set_bootdev(session: Session, device: str, uefi: bool = False,
                      persistent: bool = False) -> None:
    """Set the next boot device (``def`` clears the override)."""
    try:
        sel = BOOT_DEVICES[device]
    except KeyError:
        raise ValueError(f"unknown boot device {device!r}") from None
    # Parameter 3: keep the BIOS from clearing our flags on a watchdog timeout
    # (what pyghmi and ipmitool do); not every BMC supports it.
    await session.command(NETFN_CHASSIS, CMD_SET_BOOT_OPTIONS, bytes([3, 0x08]))
    flags = 0
    if sel:
        flags = 0x80 | (0x20 if uefi else 0) | (0x40 if persistent else 0)
    _check(await session.command(NETFN_CHASSIS, CMD_SET_BOOT_OPTIONS,
                                 bytes([5, flags, sel, 0, 0, 0])), "set boot device")


async def identify(session: Session, on: bool | None = True, interval: int = 15) -> None:
    """Chassis Identify: ``on=True`` force on, ``False`` off, ``None`` blink for
    ``interval`` seconds (0-255)."""
    if on is None:
        data = bytes([max(0, min(255, int(interval)))])
    else:
        data = bytes([0, 1 if on else 0])  # interval 0 plus the force-on byte
    _check(await session.command(NETFN_CHASSIS, CMD_CHASSIS_IDENTIFY, data), "identify")


async def get_identify(session: Session) -> str:
    """Identify light state from Get Chassis Status: on, off, timed or unknown."""
    return (await chassis_status(session)).identify or "unknown"
