"""RMCP / RMCP+ / IPMI LAN codec and session cryptography.

Pure functions and small value types only: nothing here touches a socket, a
clock or a thread, so every byte layout can be unit-tested in isolation.  The
layouts follow the IPMI v2.0 specification, chapter 13 (tables 13-8 for the
RMCP+ session header, 13-16..13-19 for Open Session and 13-11..13-14 for the
RAKP messages) and chapter 22 (completion codes).

Only what a management client needs is implemented: cipher suite 3
(RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128) and cipher suite 17
(RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128).
"""

from __future__ import annotations

import hmac
import os
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

RMCP_HEADER = b"\x06\x00\xff\x07"  # version 6, reserved, seq 0xff (no ack), class IPMI
BMC_ADDR = 0x20  # rsAddr of the BMC on IPMB
SWID = 0x81  # rqAddr: remote console software ID

# Payload types (table 13-16)
PT_IPMI = 0x00
PT_OPEN_REQ = 0x10
PT_OPEN_RSP = 0x11
PT_RAKP1 = 0x12
PT_RAKP2 = 0x13
PT_RAKP3 = 0x14
PT_RAKP4 = 0x15
PT_ENCRYPTED = 0x80
PT_AUTHENTICATED = 0x40

AUTHTYPE_NONE = 0x00
AUTHTYPE_RMCPP = 0x06

PRIV_USER = 2
PRIV_OPERATOR = 3
PRIV_ADMIN = 4
NAME_ONLY_LOOKUP = 0x10

# Privilege names for messages.
PRIV_NAMES = {1: "CALLBACK", 2: "USER", 3: "OPERATOR", 4: "ADMINISTRATOR", 5: "OEM"}

RMCPP_STATUS = {
    0x00: "no errors",
    0x01: "insufficient resources to create a session",
    0x02: "invalid session ID",
    0x03: "invalid payload type",
    0x04: "invalid authentication algorithm",
    0x05: "invalid integrity algorithm",
    0x06: "no matching authentication payload",
    0x07: "no matching integrity payload",
    0x08: "inactive session ID",
    0x09: "invalid role",
    0x0A: "unauthorized role or privilege level requested",
    0x0B: "insufficient resources to create a session at the requested role",
    0x0C: "invalid name length",
    0x0D: "unauthorized name",
    0x0E: "unauthorized GUID",
    0x0F: "invalid integrity check value",
    0x10: "invalid confidentiality algorithm",
    0x11: "no cipher suite match with proposed security algorithms",
    0x12: "illegal or unrecognized parameter",
}

COMPLETION_CODES = {
    0x00: "success",
    0xC0: "node busy",
    0xC1: "invalid command",
    0xC2: "invalid command for given LUN",
    0xC3: "timeout while processing command",
    0xC4: "out of storage space",
    0xC5: "reservation canceled or invalid reservation ID",
    0xC6: "request data truncated",
    0xC7: "request data length invalid",
    0xC8: "request data field length limit exceeded",
    0xC9: "parameter out of range",
    0xCA: "cannot return number of requested data bytes",
    0xCB: "requested sensor, data, or record not present",
    0xCC: "invalid data field in request",
    0xCD: "command illegal for specified sensor or record type",
    0xCE: "command response could not be provided",
    0xCF: "cannot execute duplicated request",
    0xD0: "SDR repository in update mode",
    0xD1: "device in firmware update mode",
    0xD2: "BMC initialization in progress",
    0xD3: "destination unavailable",
    0xD4: "insufficient privilege level",
    0xD5: "command not supported in present state",
    0xD6: "command sub-function disabled or unavailable",
    0xFF: "unspecified error",
}


def status_text(code: int) -> str:
    """Readable text for an RMCP+ status code (Open Session / RAKP messages)."""
    return RMCPP_STATUS.get(code, f"unknown RMCP+ status 0x{code:02x}")


def completion_text(code: int) -> str:
    """Readable text for an IPMI completion code."""
    if code in COMPLETION_CODES:
        return COMPLETION_CODES[code]
    if 0x01 <= code <= 0x7E:
        return f"OEM completion code 0x{code:02x}"
    if 0x80 <= code <= 0xBE:
        return f"command-specific completion code 0x{code:02x}"
    return f"unknown completion code 0x{code:02x}"


class CodecError(ValueError):
    """A packet that cannot be decoded (short, bad checksum, bad MAC...)."""


# --------------------------------------------------------------------------
# Cipher suites


@dataclass(frozen=True)
class CipherSuite:
    """Algorithms of one cipher suite, as numbers used on the wire."""

    id: int
    auth_alg: int  # RAKP-HMAC-SHA1 = 1, RAKP-HMAC-SHA256 = 3
    integ_alg: int  # HMAC-SHA1-96 = 1, HMAC-SHA256-128 = 4
    conf_alg: int  # AES-CBC-128 = 1
    digest: str  # hashlib name
    icv_len: int  # integrity check value length (bytes)

    def hmac(self, key: bytes, data: bytes) -> bytes:
        """Full-length HMAC with this suite's hash."""
        return hmac.digest(key, data, self.digest)


SUITE_3 = CipherSuite(3, 1, 1, 1, "sha1", 12)
SUITE_17 = CipherSuite(17, 3, 4, 1, "sha256", 16)
SUITES = {3: SUITE_3, 17: SUITE_17}


def suite_from_algorithms(auth: int, integ: int, conf: int) -> CipherSuite | None:
    """The supported suite with these algorithm numbers, or None."""
    for s in SUITES.values():
        if (s.auth_alg, s.integ_alg, s.conf_alg) == (auth, integ, conf):
            return s
    return None


# --------------------------------------------------------------------------
# IPMI LAN messages (the payload of PT_IPMI)


def checksum(data: bytes) -> int:
    """Two's complement checksum: data plus checksum sums to 0 mod 256."""
    return (-sum(data)) & 0xFF


def ipmi_request(netfn: int, cmd: int, seq: int, data: bytes = b"", lun: int = 0) -> bytes:
    """Frame an IPMI request message for the BMC (rsAddr 0x20)."""
    head = bytes([BMC_ADDR, ((netfn & 0x3F) << 2) | (lun & 3)])
    body = bytes([SWID, (seq & 0x3F) << 2, cmd & 0xFF]) + bytes(data)
    return head + bytes([checksum(head)]) + body + bytes([checksum(body)])


@dataclass(frozen=True)
class IpmiReply:
    """A decoded IPMI response message."""

    netfn: int  # response netfn (request netfn + 1)
    seq: int
    cmd: int
    code: int
    data: bytes


def parse_ipmi_response(msg: bytes) -> IpmiReply:
    """Decode an IPMI response message and verify both checksums."""
    if len(msg) < 8:
        raise CodecError("IPMI message too short")
    if checksum(msg[:2]) != msg[2]:
        raise CodecError("bad IPMI header checksum")
    if checksum(msg[3:-1]) != msg[-1]:
        raise CodecError("bad IPMI body checksum")
    return IpmiReply(msg[1] >> 2, msg[4] >> 2, msg[5], msg[6], bytes(msg[7:-1]))


# --------------------------------------------------------------------------
# IPMI 1.5 session-less messages (probing only)


def v15_sessionless(netfn: int, cmd: int, seq: int, data: bytes = b"") -> bytes:
    """An RMCP packet with an IPMI 1.5 session header and no authentication."""
    msg = ipmi_request(netfn, cmd, seq, data)
    return (RMCP_HEADER + bytes([AUTHTYPE_NONE]) + b"\x00" * 8 + bytes([len(msg)]) + msg)


def get_channel_auth_cap_request(seq: int = 0) -> bytes:
    """Get Channel Authentication Capabilities for the current channel,
    asking for IPMI v2.0 extended data, ADMINISTRATOR level."""
    return v15_sessionless(0x06, 0x38, seq, bytes([0x8E, PRIV_ADMIN]))


@dataclass(frozen=True)
class AuthCapabilities:
    """The interesting bits of a Get Channel Authentication Capabilities reply."""

    channel: int
    ipmi20: bool
    auth_types: int
    anonymous: bool
    null_user: bool


def parse_v15(pkt: bytes) -> IpmiReply:
    """Decode an RMCP packet carrying an IPMI 1.5 session (authtype none)."""
    if len(pkt) < 14 or pkt[:4] != RMCP_HEADER or pkt[4] != AUTHTYPE_NONE:
        raise CodecError("not an unauthenticated IPMI 1.5 packet")
    n = pkt[13]
    return parse_ipmi_response(pkt[14:14 + n])


def parse_auth_cap(reply: IpmiReply) -> AuthCapabilities:
    """Decode the data of a Get Channel Authentication Capabilities reply."""
    d = reply.data
    if len(d) < 3:
        raise CodecError("short channel authentication capabilities")
    return AuthCapabilities(d[0], bool(d[1] & 0x80), d[1] & 0x3F,
                            bool(d[2] & 0x01), bool(d[2] & 0x02))


# --------------------------------------------------------------------------
# RMCP+ packets


def packet_payload_type(pkt: bytes) -> int | None:
    """The payload type byte of an RMCP+ packet (with its flag bits), else None."""
    if len(pkt) < 16 or pkt[:4] != RMCP_HEADER or pkt[4] != AUTHTYPE_RMCPP:
        return None
    return pkt[5]


def packet_session_id(pkt: bytes) -> int:
    """The session ID field of an RMCP+ packet header."""
    return struct.unpack_from("<I", pkt, 6)[0]


def rmcpp_unauth(ptype: int, payload: bytes) -> bytes:
    """An RMCP+ packet outside a session (Open Session, RAKP)."""
    return (RMCP_HEADER + bytes([AUTHTYPE_RMCPP, ptype]) + b"\x00" * 8
            + struct.pack("<H", len(payload)) + payload)


def aes_pad(n: int) -> bytes:
    """IPMI confidentiality trailer: pad bytes 1,2,3.. and the pad length,
    so that payload + trailer is a multiple of 16 bytes (table 13-20)."""
    padlen = (16 - (n + 1) % 16) % 16
    return bytes(range(1, padlen + 1)) + bytes([padlen])


def encrypt_payload(k2: bytes, payload: bytes, iv: bytes | None = None) -> bytes:
    """AES-CBC-128 with a random IV, as carried in an encrypted payload."""
    iv = os.urandom(16) if iv is None else iv
    enc = Cipher(algorithms.AES(k2[:16]), modes.CBC(iv)).encryptor()
    return iv + enc.update(payload + aes_pad(len(payload))) + enc.finalize()


def decrypt_payload(k2: bytes, blob: bytes) -> bytes:
    """Reverse of encrypt_payload; checks the confidentiality trailer length."""
    if len(blob) < 32 or len(blob) % 16:
        raise CodecError("encrypted payload has a bad length")
    dec = Cipher(algorithms.AES(k2[:16]), modes.CBC(blob[:16])).decryptor()
    plain = dec.update(blob[16:]) + dec.finalize()
    padlen = plain[-1]
    if padlen > 15:
        raise CodecError("bad confidentiality pad")
    return plain[:-(padlen + 1)]


def rmcpp_session_packet(suite: CipherSuite, k1: bytes, k2: bytes, session_id: int,
                         seq: int, payload: bytes, iv: bytes | None = None) -> bytes:
    """An authenticated and encrypted RMCP+ packet in an established session."""
    body = encrypt_payload(k2, payload, iv)
    msg = (bytes([AUTHTYPE_RMCPP, PT_IPMI | PT_ENCRYPTED | PT_AUTHENTICATED])
           + struct.pack("<IIH", session_id, seq, len(body)) + body)
    # Integrity pad: authtype .. next header must be a multiple of 4 bytes.
    padlen = (4 - (len(msg) + 2) % 4) % 4
    msg += b"\xff" * padlen + bytes([padlen, 0x07])
    return RMCP_HEADER + msg + suite.hmac(k1, msg)[: suite.icv_len]


@dataclass(frozen=True)
class SessionPacket:
    """Header fields and clear-text payload of an RMCP+ session packet."""

    ptype: int
    session_id: int
    seq: int
    payload: bytes


def parse_session_packet(suite: CipherSuite, k1: bytes, k2: bytes, pkt: bytes) -> SessionPacket:
    """Verify the integrity code and decrypt an RMCP+ session packet."""
    if len(pkt) < 16 + suite.icv_len + 2:
        raise CodecError("RMCP+ packet too short")
    ptype = pkt[5]
    if not ptype & PT_AUTHENTICATED:
        raise CodecError("unauthenticated packet inside a session")
    icv = pkt[-suite.icv_len:]
    if not hmac.compare_digest(suite.hmac(k1, pkt[4:-suite.icv_len])[: suite.icv_len], icv):
        raise CodecError("integrity check failed")
    sid, seq, plen = struct.unpack_from("<IIH", pkt, 6)
    body = pkt[16:16 + plen]
    if len(body) != plen:
        raise CodecError("truncated RMCP+ payload")
    if ptype & PT_ENCRYPTED:
        body = decrypt_payload(k2, body)
    return SessionPacket(ptype & 0x3F, sid, seq, body)


def parse_unauth(pkt: bytes) -> tuple[int, bytes]:
    """Payload type and payload of an RMCP+ packet outside a session."""
    if len(pkt) < 16:
        raise CodecError("RMCP+ packet too short")
    plen = struct.unpack_from("<H", pkt, 14)[0]
    payload = pkt[16:16 + plen]
    if len(payload) != plen:
        raise CodecError("truncated RMCP+ payload")
    return pkt[5] & 0x3F, payload


# --------------------------------------------------------------------------
# Open Session and RAKP


def _alg_record(kind: int, alg: int) -> bytes:
    return bytes([kind, 0, 0, 8, alg, 0, 0, 0])


def open_session_request(tag: int, console_sid: int, suite: CipherSuite,
                         priv: int = PRIV_ADMIN) -> bytes:
    """RMCP+ Open Session Request payload proposing exactly one cipher suite."""
    return (bytes([tag & 0xFF, priv, 0, 0]) + struct.pack("<I", console_sid)
            + _alg_record(0, suite.auth_alg) + _alg_record(1, suite.integ_alg)
            + _alg_record(2, suite.conf_alg))


@dataclass(frozen=True)
class OpenSessionResponse:
    """Decoded RMCP+ Open Session Response."""

    tag: int
    status: int
    max_priv: int
    console_sid: int | None  # None in a short error answer
    bmc_sid: int
    suite: CipherSuite | None  # None if status != 0 or an unknown combination


def parse_open_session_response(p: bytes) -> OpenSessionResponse:
    """Decode an Open Session Response payload.

    Error answers may stop after the status byte (ipmi_sim sends two bytes).
    """
    if len(p) < 2:
        raise CodecError("short Open Session Response")
    tag, status = p[0], p[1]
    csid = struct.unpack_from("<I", p, 4)[0] if len(p) >= 8 else None
    if status != 0:
        return OpenSessionResponse(tag, status, p[2] if len(p) > 2 else 0, csid, 0, None)
    if len(p) < 36:
        raise CodecError("short Open Session Response")
    priv = p[2]
    bsid = struct.unpack_from("<I", p, 8)[0]
    suite = suite_from_algorithms(p[16] & 0x3F, p[24] & 0x3F, p[32] & 0x3F)
    return OpenSessionResponse(tag, status, priv, csid, bsid, suite)


def rakp1(tag: int, bmc_sid: int, console_rand: bytes, username: bytes,
          priv: int = PRIV_ADMIN) -> bytes:
    """RAKP Message 1: name-only lookup at the requested privilege."""
    return (bytes([tag & 0xFF, 0, 0, 0]) + struct.pack("<I", bmc_sid) + console_rand
            + bytes([NAME_ONLY_LOOKUP | priv, 0, 0, len(username)]) + username)


@dataclass(frozen=True)
class Rakp2:
    """Decoded RAKP Message 2."""

    tag: int
    status: int
    console_sid: int | None  # None in a short error answer
    bmc_rand: bytes
    bmc_guid: bytes
    auth_code: bytes


def parse_rakp2(p: bytes) -> Rakp2:
    """Decode RAKP Message 2 (the auth code is whatever follows the GUID)."""
    if len(p) < 2:
        raise CodecError("short RAKP 2")
    csid = struct.unpack_from("<I", p, 4)[0] if len(p) >= 8 else None
    if p[1] != 0:
        return Rakp2(p[0], p[1], csid, b"", b"", b"")
    if len(p) < 40:
        raise CodecError("short RAKP 2")
    return Rakp2(p[0], 0, csid, bytes(p[8:24]), bytes(p[24:40]), bytes(p[40:]))


@dataclass(frozen=True)
class Keys:
    """Session keys derived after RAKP 2 (SIK, K1 for integrity, K2 for AES)."""

    sik: bytes
    k1: bytes
    k2: bytes


def _role_user(priv: int, username: bytes) -> bytes:
    return bytes([NAME_ONLY_LOOKUP | priv, len(username)]) + username


def rakp2_expected(suite: CipherSuite, password: bytes, console_sid: int, bmc_sid: int,
                   console_rand: bytes, bmc_rand: bytes, guid: bytes, username: bytes,
                   priv: int = PRIV_ADMIN) -> bytes:
    """The key exchange authentication code the BMC must send in RAKP 2."""
    data = (struct.pack("<II", console_sid, bmc_sid) + console_rand + bmc_rand + guid
            + _role_user(priv, username))
    return suite.hmac(password, data)


def derive_keys(suite: CipherSuite, kg: bytes, console_rand: bytes, bmc_rand: bytes,
                username: bytes, priv: int = PRIV_ADMIN) -> Keys:
    """SIK = HMAC_Kg(Rm | Rc | role | ulen | user); K1, K2 = HMAC_SIK(const 1/2)."""
    sik = suite.hmac(kg, console_rand + bmc_rand + _role_user(priv, username))
    return Keys(sik, suite.hmac(sik, b"\x01" * 20), suite.hmac(sik, b"\x02" * 20))


def rakp3(suite: CipherSuite, tag: int, bmc_sid: int, password: bytes, bmc_rand: bytes,
          console_sid: int, username: bytes, priv: int = PRIV_ADMIN,
          status: int = 0) -> bytes:
    """RAKP Message 3 proving we know the password (or reporting an error)."""
    head = bytes([tag & 0xFF, status, 0, 0]) + struct.pack("<I", bmc_sid)
    if status:
        return head
    code = suite.hmac(password, bmc_rand + struct.pack("<I", console_sid)
                      + _role_user(priv, username))
    return head + code


@dataclass(frozen=True)
class Rakp4:
    """Decoded RAKP Message 4."""

    tag: int
    status: int
    console_sid: int | None  # None in a short error answer
    icv: bytes


def parse_rakp4(p: bytes) -> Rakp4:
    """Decode RAKP Message 4."""
    if len(p) < 2 or (p[1] == 0 and len(p) < 8):
        raise CodecError("short RAKP 4")
    csid = struct.unpack_from("<I", p, 4)[0] if len(p) >= 8 else None
    return Rakp4(p[0], p[1], csid, bytes(p[8:]))


def rakp4_expected(suite: CipherSuite, sik: bytes, console_rand: bytes, bmc_sid: int,
                   guid: bytes) -> bytes:
    """The integrity check value the BMC must send in RAKP 4."""
    return suite.hmac(sik, console_rand + struct.pack("<I", bmc_sid) + guid)[: suite.icv_len]
