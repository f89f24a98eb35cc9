#!/usr/bin/env python3
"""Write an IPMI FRU inventory image for the ipmi_sim test BMC.

The image follows the Platform Management FRU Information Storage
Definition v1.0: an 8-byte common header, then a chassis info area, a
board info area and a product info area. Every field is stored as 8-bit
ASCII (type/length byte 0xC0 | length), every area ends with 0xC1, is padded
to a multiple of 8 bytes and carries a zero-sum checksum in its last byte.

Used by tests/ipmisim.py through ``build_fru()``; it also runs on its own:

    python3 mkfru.py OUT.bin [--serial SIM-SN-0001] [--size 256] ...
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import asdict, dataclass

#: FRU board manufacturing dates count minutes from this moment.
FRU_EPOCH = dt.datetime(1996, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class FruInfo:
    manufacturer: str = "Xcatpy Labs"
    product_name: str = "SimServer 2000"
    product_part: str = "SIM-PN-2000"
    product_version: str = "1.0"
    product_serial: str = "SIM-SN-0001"
    asset_tag: str = "ASSET-0001"
    board_manufacturer: str = "Xcatpy Labs"
    board_product: str = "SimBoard B2"
    board_serial: str = "SIM-BSN-0001"
    board_part: str = "SIM-BPN-42"
    board_mfg_date: dt.datetime = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
    chassis_type: int = 0x17  # rack mount chassis
    chassis_part: str = "SIM-CPN-1"
    chassis_serial: str = "SIM-CSN-0001"


def _field(text: str) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > 63:
        raise ValueError(f"FRU field longer than 63 bytes: {text!r}")
    return bytes([0xC0 | len(raw)]) + raw


def _area(head: bytes, fields: list[str]) -> bytes:
    """head = version byte, length placeholder, fixed bytes; then fields."""
    body = bytearray(head) + b"".join(_field(f) for f in fields) + b"\xc1"
    while (len(body) + 1) % 8:
        body.append(0)
    body[1] = (len(body) + 1) // 8
    body.append(-sum(body) & 0xFF)
    return bytes(body)


def build_fru(info: FruInfo | None = None, size: int = 256) -> bytes:
    """The FRU image for ``info``, zero-padded to ``size`` bytes."""
    info = info or FruInfo()
    minutes = int((info.board_mfg_date - FRU_EPOCH).total_seconds() // 60)
    chassis = _area(bytes([0x01, 0, info.chassis_type]), [info.chassis_part, info.chassis_serial])
    board = _area(
        bytes([0x01, 0, 0x19]) + minutes.to_bytes(3, "little"),  # language: English
        [info.board_manufacturer, info.board_product, info.board_serial, info.board_part, ""],
    )
    product = _area(
        bytes([0x01, 0, 0x19]),
        [
            info.manufacturer,
            info.product_name,
            info.product_part,
            info.product_version,
            info.product_serial,
            info.asset_tag,
            "",  # FRU file id
        ],
    )
    header = bytearray(8)
    header[0] = 0x01
    offset = 1
    for slot, area in ((2, chassis), (3, board), (4, product)):
        header[slot] = offset
        offset += len(area) // 8
    header[7] = -sum(header[:7]) & 0xFF
    image = bytes(header) + chassis + board + product
    if len(image) > size:
        raise ValueError(f"FRU image needs {len(image)} bytes, more than {size}")
    return image + bytes(size - len(image))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--size", type=int, default=256)
    for name, value in asdict(FruInfo()).items():
        if isinstance(value, str):
            parser.add_argument("--" + name.replace("_", "-"), dest=name, default=value)
    args = vars(parser.parse_args())
    out, size = args.pop("out"), args.pop("size")
    image = build_fru(FruInfo(**args), size)
    with open(out, "wb") as fh:
        fh.write(image)
    print(f"{out}: {len(image)} bytes")


if __name__ == "__main__":
    main()
