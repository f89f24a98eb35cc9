"""Byte-level framing for the simulator: RMCP, ASF ping, IPMI LAN messages and RMCP+.

Everything here follows the IPMI v2.0 specification (sections 13.x) and the
ASF 2.0 presence ping.  Functions are pure: they take and return bytes.
"""

from __future__ import annotations

import hmac
import os
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

RMCP_IPMI = b"\x06\x00\xff\x07"
RMCP_ASF = b"\x06\x00\xff\x06"
ASF_IANA = b"\x00\x00\x11\xbe"

AUTHTYPE_NONE = 0x00
AUTHTYPE_RMCPP = 0x06

PAYLOAD_IPMI = 0x00
PAYLOAD_OPEN_REQ = 0x10
PAYLOAD_OPEN_RSP = 0x11
PAYLOAD_RAKP1 = 0x12
PAYLOAD_RAKP2 = 0x13
PAYLOAD_RAKP3 = 0x14
PAYLOAD_RAKP4 = 0x15

#: Authentication algorithm number -> hash name used for RAKP and the SIK.
AUTH_HASH = {1: "sha1", 3: "sha256"}
#: Integrity algorithm number -> (hash name, AuthCode length).
INTEGRITY = {1: ("sha1", 12), 4: ("sha256", 16)}
#: Confidentiality algorithms offered (1 = AES-CBC-128).
CONFIDENTIALITY = {1}
#: RAKP4 integrity check value length per authentication algorithm.
RAKP4_ICV_LEN = {1: 12, 3: 16}
#: Cipher suite id -> (authentication, integrity, confidentiality).
CIPHER_SUITES = {3: (1, 1, 1), 17: (3, 4, 1)}


def checksum(data: bytes) -> int:
    """Two's complement checksum: the byte that makes ``data`` sum to zero."""
    return -sum(data) & 0xFF


def asf_pong(packet: bytes) -> bytes | None:
    """Answer an ASF presence ping (RMCP class 6, message type 0x80)."""
    if len(packet) < 12 or packet[4:8] != ASF_IANA or packet[8] != 0x80:
        return None
    body = ASF_IANA + bytes(4) + b"\x81\x00" + bytes(6)
    return RMCP_ASF + ASF_IANA + bytes([0x40, packet[9], 0x00, len(body)]) + body


@dataclass(frozen=True)
class Request:
    """A decoded IPMI LAN request message."""

    rs_sa: int
    netfn: int
    rs_lun: int
    rq_sa: int
    rq_seq: int
    rq_lun: int
    cmd: int
    data: bytes


def parse_request(msg: bytes) -> Request | None:
    """Decode an IPMI request; ``None`` when it is short or a checksum is wrong."""
    if len(msg) < 7 or sum(msg[0:3]) & 0xFF or sum(msg[3:]) & 0xFF:
        return None
    return Request(msg[0], msg[1] >> 2, msg[1] & 3, msg[3], msg[4] >> 2, msg[4] & 3,
                   msg[5], bytes(msg[6:-1]))


def build_response(req: Request, cc: int, data: bytes = b"") -> bytes:
    """Encode the response to ``req`` with completion code ``cc``."""
    head = bytes([req.rq_sa, ((req.netfn | 1) << 2) | req.rq_lun])
    body = bytes([req.rs_sa, (req.rq_seq << 2) | req.rs_lun, req.cmd, cc]) + data
    return head + bytes([checksum(head)]) + body + bytes([checksum(body)])


def v15_packet(msg: bytes) -> bytes:
    """A session-less IPMI 1.5 packet (auth type none, sequence and session 0)."""
    return RMCP_IPMI + b"\x00" + bytes(8) + bytes([len(msg)]) + msg


def v20_plain(payload_type: int, payload: bytes) -> bytes:
    """An unauthenticated, unencrypted RMCP+ packet outside any session."""
    return (RMCP_IPMI + bytes([AUTHTYPE_RMCPP, payload_type])
            + struct.pack("<IIH", 0, 0, len(payload)) + payload)


@dataclass(frozen=True)
class V20Packet:
    """The parts of a received RMCP+ packet."""

    encrypted: bool
    authenticated: bool
    payload_type: int
    session_id: int
    sequence: int
    payload: bytes
    payload_end: int


def parse_v20(packet: bytes) -> V20Packet | None:
    """Split an RMCP+ packet (auth type 6); OEM payloads are not accepted."""
    if len(packet) < 16:
        return None
    ptype = packet[5]
    if ptype & 0x3F == 0x02:
        return None
    sid, seq, plen = struct.unpack_from("<IIH", packet, 6)
    end = 16 + plen
    if len(packet) < end:
        return None
    return V20Packet(bool(ptype & 0x80), bool(ptype & 0x40), ptype & 0x3F, sid, seq,
                     bytes(packet[16:end]), end)


def hmac_digest(key: bytes, data: bytes, hash_name: str) -> bytes:
    """HMAC of ``data`` under ``key`` with the named hash."""
    return hmac.digest(key, data, hash_name)


def aes_encrypt(key: bytes, data: bytes) -> bytes:
    """AES-CBC-128 confidentiality payload: random IV, data, pad 1..N and N."""
    pad = (16 - (len(data) + 1) % 16) % 16
    plain = data + bytes(range(1, pad + 1)) + bytes([pad])
    iv = os.urandom(16)
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + enc.update(plain) + enc.finalize()


def aes_decrypt(key: bytes, payload: bytes) -> bytes | None:
    """Undo :func:`aes_encrypt`; ``None`` when the layout or padding is wrong."""
    if len(payload) < 32 or len(payload) % 16:
        return None
    dec = Cipher(algorithms.AES(key), modes.CBC(payload[:16])).decryptor()
    plain = dec.update(payload[16:]) + dec.finalize()
    pad = plain[-1]
    if pad > 15 or plain[-1 - pad:-1] != bytes(range(1, pad + 1)):
        return None
    return plain[:-1 - pad]


def check_integrity(packet: bytes, pkt: V20Packet, k1: bytes, integ: int) -> bool:
    """Verify the integrity trailer (pad, pad length, next header, AuthCode)."""
    hash_name, code_len = INTEGRITY[integ]
    trailer_start = pkt.payload_end
    if len(packet) < trailer_start + 2 + code_len:
        return False
    pad_len = packet[-code_len - 2]
    if packet[-code_len - 1] != 0x07 or len(packet) - code_len - 2 - trailer_start != pad_len:
        return False
    if (len(packet) - 4 - code_len) % 4:
        return False
    want = hmac.digest(k1, packet[4:-code_len], hash_name)[:code_len]
    return hmac.compare_digest(want, packet[-code_len:])


def session_packet(console_sid: int, seq: int, msg: bytes, *, k1: bytes, k2: bytes,
                   integ: int, encrypt: bool, authenticate: bool) -> bytes:
    """Wrap an IPMI response in an RMCP+ session packet, sealed as requested."""
    payload = aes_encrypt(k2, msg) if encrypt else msg
    ptype = PAYLOAD_IPMI | (0x80 if encrypt else 0) | (0x40 if authenticate else 0)
    pkt = bytes([AUTHTYPE_RMCPP, ptype]) + struct.pack("<IIH", console_sid, seq, len(payload))
    pkt += payload
    if authenticate:
        hash_name, code_len = INTEGRITY[integ]
        pad = (4 - (len(pkt) + 2) % 4) % 4
        pkt += b"\xff" * pad + bytes([pad, 0x07])
        pkt += hmac.digest(k1, pkt, hash_name)[:code_len]
    return RMCP_IPMI + pkt
