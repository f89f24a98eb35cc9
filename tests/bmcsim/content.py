"""Deterministic inventory of simulated BMC number ``i``: GUID, FRU, SDRs and SEL.

The values are a pure function of the index so tests can state exact
expectations:

* GUID: ``uuid.uuid5(uuid.NAMESPACE_DNS, f"bmc{i}.bmcsim.invalid")``, sent in
  the SMBIOS byte order (``UUID.bytes_le``) that ipmitool decodes.
* FRU: manufacturer ``Acme``, product ``SimServer 1000`` (part ``SIM-1000``,
  version ``1.0``), product serial ``SN{i:05d}``, asset tag ``ASSET{i:05d}``,
  board ``SimBoard X1`` serial ``BSN{i:05d}`` part ``SIM-MB-0001``,
  chassis serial ``CSN{i:05d}`` part ``SIM-CH-1000``, rack mount chassis.
* Sensors (full SDRs, 8-bit ASCII names): ``CPU Temp`` 40 + i % 10 degrees C,
  ``PSU 12V Rail`` (200 + i % 4) * 0.06 Volts, ``Fan1`` (100 + i % 20) * 60 RPM,
  ``Sys Power`` (100 + i % 50) * 2 Watts.
* SEL: three events (CPU Temp upper non-critical asserted and deasserted,
  power unit power off).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from datetime import datetime

SEL_BASE_TIME = 1_700_000_000


def guid_for(index: int) -> uuid.UUID:
    """The system GUID of BMC ``index``."""
    return uuid.uuid5(uuid.NAMESPACE_DNS, f"bmc{index}.bmcsim.invalid")


def _field(text: str) -> bytes:
    """An 8-bit ASCII type/length field (0xC1 is reserved, so no 1-byte strings)."""
    raw = text.encode("latin-1")
    if len(raw) == 1 or len(raw) > 63:
        raise ValueError(f"FRU field length not encodable: {text!r}")
    return bytes([0xC0 | len(raw)]) + raw


def _area(head: bytes, fields: list[str]) -> bytes:
    """A FRU info area: version, length, ``head``, fields, end marker, pad, checksum."""
    data = bytearray(b"\x01\x00" + head)
    for f in fields:
        data += _field(f)
    data.append(0xC1)
    while (len(data) + 1) % 8:
        data.append(0)
    data[1] = (len(data) + 1) // 8
    data.append(-sum(data) & 0xFF)
    return bytes(data)


def build_fru(index: int, size: int = 256) -> bytes:
    """The FRU inventory image of BMC ``index`` padded to ``size`` bytes."""
    chassis = _area(b"\x17", ["SIM-CH-1000", f"CSN{index:05d}"])
    minutes = int((datetime(2023, 1, 2) - datetime(1996, 1, 1)).total_seconds() // 60)
    board = _area(b"\x00" + minutes.to_bytes(3, "little"),
                  ["Acme", "SimBoard X1", f"BSN{index:05d}", "SIM-MB-0001", ""])
    product = _area(b"\x00", ["Acme", "SimServer 1000", "SIM-1000", "1.0",
                              f"SN{index:05d}", f"ASSET{index:05d}", ""])
    ch_off = 8
    bd_off = ch_off + len(chassis)
    pr_off = bd_off + len(board)
    header = bytearray([1, 0, ch_off // 8, bd_off // 8, pr_off // 8, 0, 0])
    header.append(-sum(header) & 0xFF)
    image = bytes(header) + chassis + board + product
    return image + bytes(max(0, size - len(image)))


@dataclass(frozen=True)
class Sensor:
    """A linear threshold sensor with one fixed raw reading."""

    number: int
    name: str
    sensor_type: int
    entity: int
    unit: int
    m: int
    b: int
    r_exp: int
    b_exp: int
    raw: int
    #: Raw thresholds: lnc, lcr, lnr, unc, ucr, unr (Get Sensor Thresholds order).
    thresholds: tuple[int, int, int, int, int, int]

    def value(self) -> float:
        """The reading in units, as y = (M x + B 10^Bexp) 10^Rexp."""
        return (self.m * self.raw + self.b * 10 ** self.b_exp) * 10 ** self.r_exp

    def sdr(self, record_id: int) -> bytes:
        """Full sensor record (type 01h) for this sensor."""
        lnc, lcr, lnr, unc, ucr, unr = self.thresholds
        name = self.name.encode("latin-1")
        body = bytes([
            0x20, 0x00, self.number, self.entity, 0x01,
            0x7F, 0x44, self.sensor_type, 0x01,
            0x00, 0x70, 0x00, 0x70, 0x3F, 0x00,
            0x00, self.unit, 0x00, 0x00,
            self.m & 0xFF, ((self.m >> 8) & 3) << 6,
            self.b & 0xFF, ((self.b >> 8) & 3) << 6,
            0x00, ((self.r_exp & 0xF) << 4) | (self.b_exp & 0xF),
            0x01, self.raw, 0x00, 0x00, 0xFF, 0x00,
            unr, ucr, unc, lnr, lcr, lnc,
            0x00, 0x00, 0x00, 0x00, 0x00,
            0xC0 | len(name),
        ]) + name
        return struct.pack("<HBBB", record_id, 0x51, 0x01, len(body)) + body


def sensors_for(index: int) -> list[Sensor]:
    """The four sensors of BMC ``index``."""
    return [
        Sensor(1, "CPU Temp", 0x01, 0x03, 1, 1, 0, 0, 0, 40 + index % 10,
               (10, 5, 1, 80, 90, 100)),
        Sensor(2, "PSU 12V Rail", 0x02, 0x0A, 4, 6, 0, -2, 0, 200 + index % 4,
               (180, 175, 170, 220, 225, 230)),
        Sensor(3, "Fan1", 0x04, 0x1D, 18, 60, 0, 0, 0, 100 + index % 20,
               (30, 20, 10, 230, 240, 250)),
        Sensor(4, "Sys Power", 0x0B, 0x07, 6, 2, 0, 0, 0, 100 + index % 50,
               (3, 2, 1, 225, 240, 250)),
    ]


def sel_record(record_id: int, timestamp: int, sensor_type: int, sensor: int,
               event_type: int, data: tuple[int, int, int]) -> bytes:
    """A 16-byte system event record (type 02h) from the BMC (generator 20h)."""
    return struct.pack("<HBIHBBBB3B", record_id, 0x02, timestamp, 0x0020, 0x04,
                       sensor_type, sensor, event_type, *data)


def initial_sel(index: int) -> list[tuple[int, int, int, int, tuple[int, int, int]]]:
    """The starting SEL events as (timestamp, sensor type, sensor, dir/type, data)."""
    t = SEL_BASE_TIME + index
    return [
        (t, 0x01, 0x01, 0x01, (0x57, 81, 80)),
        (t + 3600, 0x01, 0x01, 0x81, (0x57, 79, 80)),
        (t + 7200, 0x09, 0x10, 0x6F, (0x00, 0xFF, 0xFF)),
    ]
