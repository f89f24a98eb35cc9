"""One simulated BMC: RMCP+ session establishment and the IPMI commands it serves.

:class:`BMC` is transport-free: :meth:`BMC.handle` takes one received UDP
datagram and the current monotonic time and returns the datagram to send back
(or ``None`` to stay silent).  Delayed effects (soft off, power cycle, timed
identify) are stored as deadlines and settled lazily on the next packet, so no
timers are needed.

Sessions follow IPMI v2.0 section 13: Open Session, RAKP 1-4 with
RAKP-HMAC-SHA1 (cipher suite 3) or RAKP-HMAC-SHA256 (cipher suite 17),
HMAC-SHA1-96 / HMAC-SHA256-128 integrity and AES-CBC-128 confidentiality.
KG is the user's password (one-key login).
"""

from __future__ import annotations

import hmac
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.bmcsim import content, wire

PRIV_CALLBACK, PRIV_USER, PRIV_OPERATOR, PRIV_ADMIN, PRIV_OEM = 1, 2, 3, 4, 5

NETFN_CHASSIS, NETFN_SENSOR, NETFN_APP, NETFN_STORAGE = 0x00, 0x04, 0x06, 0x0A

# RMCP+ status codes (IPMI v2.0 table 13-15).
ST_OK = 0x00
ST_NO_RESOURCES = 0x01
ST_INVALID_SESSION = 0x02
ST_INVALID_AUTH_ALG = 0x04
ST_INVALID_INTEGRITY_ALG = 0x05
ST_INVALID_ROLE = 0x09
ST_UNAUTHORIZED_ROLE = 0x0A
ST_INVALID_NAME_LENGTH = 0x0C
ST_UNAUTHORIZED_NAME = 0x0D
ST_INVALID_ICV = 0x0F
ST_INVALID_CONF_ALG = 0x10
ST_NO_CIPHER_SUITE = 0x11
ST_ILLEGAL_PARAMETER = 0x12

# Completion codes.
CC_OK = 0x00
CC_INVALID_COMMAND = 0xC1
CC_RESERVATION = 0xC5
CC_LENGTH = 0xC7
CC_FIELD_TOO_LONG = 0xC8
CC_OUT_OF_RANGE = 0xC9
CC_NOT_PRESENT = 0xCB
CC_INVALID_FIELD = 0xCC
CC_NOT_IN_STATE = 0xD5
CC_PRIVILEGE = 0xD4

@dataclass
class BMCConfig:
    """Settings shared by every BMC of a farm."""

    user: str = "admin"
    password: str = "secret"
    power_on: bool = False
    soft_off_delay: float = 1.0
    cycle_delay: float = 1.0
    session_timeout: float = 60.0
    max_sessions: int = 16
    #: Read FRU Data requests asking for more bytes than this get 0xC8 (0 = no limit).
    fru_limit: int = 0
    #: Toggle the power state after every Get Chassis Status (a misbehaving BMC).
    flip: bool = False


@dataclass
class Session:
    """One RMCP+ session, from Open Session to Close Session or timeout."""

    bmc_sid: int
    console_sid: int
    auth: int
    integ: int
    conf: int
    max_priv: int
    last_seen: float
    active: bool = False
    rakp2_sent: bool = False
    rm: bytes = b""
    rc: bytes = b""
    role: int = 0
    name: bytes = b""
    priv: int = PRIV_USER
    k1: bytes = b""
    k2: bytes = b""
    in_seq: int = 0
    out_seq: int = 0
    rakp3: bytes = b""
    rakp4: bytes = b""
    closing: bool = False


Handler = Callable[["BMC", bytes, "Session | None", float], tuple[int, bytes]]


@dataclass
class BMC:
    """State and behaviour of simulated BMC number ``index``."""

    index: int
    config: BMCConfig
    sessions: dict[int, Session] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.guid = content.guid_for(self.index).bytes[::-1]
        self.fru = content.build_fru(self.index)
        self.sensors = {s.number: s for s in content.sensors_for(self.index)}
        self.sdrs = [s.sdr(n + 1) for n, s in enumerate(self.sensors.values())]
        self.sdr_reservation = 0
        self.sel: list[bytes] = []
        self.sel_next_id = 1
        self.sel_reservation = 0
        self.sel_counter = 0
        self.sel_added = 0
        self.sel_erased = 0
        for ts, stype, num, evt, data in content.initial_sel(self.index):
            self._add_sel(ts, stype, num, evt, data)
        self.power = self.config.power_on
        self.power_pending: tuple[float, bool] | None = None
        self.last_power_by_command = False
        self.identify_until = 0.0
        self.nmi_count = 0
        self.boot_in_progress = 0
        self.boot_flags = bytearray(5)
        self.boot_ack = 0
        self.boot_valid_clear = 0
        self.boots = 0

    # ---------------------------------------------------------------- entry point

    def handle(self, packet: bytes, now: float | None = None) -> bytes | None:
        """Process one datagram and return the reply, if any."""
        if now is None:
            now = time.monotonic()
        if len(packet) < 5 or packet[0] != 0x06:
            return None
        cls = packet[3] & 0x1F
        if cls == 0x06:
            return wire.asf_pong(packet)
        if cls != 0x07:
            return None
        if packet[4] == wire.AUTHTYPE_RMCPP:
            return self._handle_v20(packet, now)
        if packet[4] == wire.AUTHTYPE_NONE and len(packet) >= 14:
            sid = struct.unpack_from("<I", packet, 9)[0]
            msg = packet[14:14 + packet[13]]
            if sid or len(msg) != packet[13]:
                return None
            rsp = self._ipmi(msg, None, now)
            return wire.v15_packet(rsp) if rsp is not None else None
        return None

    def _handle_v20(self, packet: bytes, now: float) -> bytes | None:
        pkt = wire.parse_v20(packet)
        if pkt is None:
            return None
        if pkt.payload_type in (wire.PAYLOAD_OPEN_REQ, wire.PAYLOAD_RAKP1, wire.PAYLOAD_RAKP3):
            if pkt.session_id or pkt.encrypted or pkt.authenticated:
                return None
            if pkt.payload_type == wire.PAYLOAD_OPEN_REQ:
                return self._open_session(pkt.payload, now)
            if pkt.payload_type == wire.PAYLOAD_RAKP1:
                return self._rakp1(pkt.payload, now)
            return self._rakp3(pkt.payload, now)
        if pkt.payload_type != wire.PAYLOAD_IPMI:
            return None
        if pkt.session_id == 0:
            if pkt.encrypted or pkt.authenticated:
                return None
            rsp = self._ipmi(pkt.payload, None, now)
            return wire.v20_plain(wire.PAYLOAD_IPMI, rsp) if rsp is not None else None
        return self._in_session(packet, pkt, now)

    # ---------------------------------------------------------------- sessions

    def _expire(self, now: float) -> None:
        limit = self.config.session_timeout
        for sid in [k for k, s in self.sessions.items() if now - s.last_seen > limit]:
            del self.sessions[sid]

    def _new_sid(self) -> int:
        for _ in range(64):
            sid = int.from_bytes(os.urandom(4), "little")
            if sid and sid not in self.sessions:
                return sid
        raise RuntimeError("no free session id")

    def _open_session(self, p: bytes, now: float) -> bytes | None:
        if len(p) < 32:
            return None
        tag, priv, console = p[0], p[1] & 0x0F, struct.unpack_from("<I", p, 4)[0]

        def fail(status: int) -> bytes:
            return wire.v20_plain(wire.PAYLOAD_OPEN_RSP,
                                  bytes([tag, status, 0, 0]) + struct.pack("<I", console))

        algs: list[int | None] = []
        for offset, ptype in ((8, 0), (16, 1), (24, 2)):
            if p[offset] != ptype:
                return fail(ST_ILLEGAL_PARAMETER)
            algs.append(p[offset + 4] & 0x3F if p[offset + 3] else None)
        auth, integ, conf = algs
        if auth is not None and auth not in wire.AUTH_HASH:
            return fail(ST_INVALID_AUTH_ALG)
        if integ is not None and integ not in wire.INTEGRITY:
            return fail(ST_INVALID_INTEGRITY_ALG)
        if conf is not None and conf not in wire.CONFIDENTIALITY:
            return fail(ST_INVALID_CONF_ALG)
        suites = [s for s in wire.CIPHER_SUITES.values()
                  if all(want is None or want == have for want, have in zip(algs, s, strict=True))]
        if not suites:
            return fail(ST_NO_CIPHER_SUITE)
        if priv > PRIV_ADMIN:
            return fail(ST_INVALID_ROLE)
        self._expire(now)
        if len(self.sessions) >= self.config.max_sessions:
            return fail(ST_NO_RESOURCES)
        a, i, c = suites[0]
        max_priv = priv or PRIV_ADMIN
        s = Session(self._new_sid(), console, a, i, c, max_priv, now)
        self.sessions[s.bmc_sid] = s
        body = bytes([tag, ST_OK, max_priv, 0]) + struct.pack("<II", console, s.bmc_sid)
        body += bytes([0, 0, 0, 8, a, 0, 0, 0, 1, 0, 0, 8, i, 0, 0, 0, 2, 0, 0, 8, c, 0, 0, 0])
        return wire.v20_plain(wire.PAYLOAD_OPEN_RSP, body)

    def _rakp1(self, p: bytes, now: float) -> bytes | None:
        if len(p) < 28:
            return None
        tag, sid = p[0], struct.unpack_from("<I", p, 4)[0]
        s = self.sessions.get(sid)
        if s is None or s.active or now - s.last_seen > self.config.session_timeout:
            return wire.v20_plain(wire.PAYLOAD_RAKP2, bytes([tag, ST_INVALID_SESSION, 0, 0, 0, 0, 0, 0]))
        s.last_seen = now
        console = struct.pack("<I", s.console_sid)

        def fail(status: int) -> bytes:
            self.sessions.pop(sid, None)
            return wire.v20_plain(wire.PAYLOAD_RAKP2, bytes([tag, status, 0, 0]) + console)

        role, name_len = p[24], p[27]
        if name_len > 16 or len(p) < 28 + name_len:
            return fail(ST_INVALID_NAME_LENGTH)
        name = bytes(p[28:28 + name_len])
        level = role & 0x0F
        if role & 0xE0 or level == 0 or level > PRIV_OEM:
            return fail(ST_INVALID_ROLE)
        if name != self.config.user.encode():
            return fail(ST_UNAUTHORIZED_NAME)
        if level > PRIV_ADMIN or level > s.max_priv:
            return fail(ST_UNAUTHORIZED_ROLE)
        s.rm, s.rc, s.role, s.name = bytes(p[8:24]), os.urandom(16), role, name
        s.rakp2_sent = True
        hash_name = wire.AUTH_HASH[s.auth]
        code = wire.hmac_digest(self._kuid(), console + struct.pack("<I", s.bmc_sid) + s.rm + s.rc
                                + self.guid + bytes([role, len(name)]) + name, hash_name)
        return wire.v20_plain(wire.PAYLOAD_RAKP2,
                              bytes([tag, ST_OK, 0, 0]) + console + s.rc + self.guid + code)

    def _rakp3(self, p: bytes, now: float) -> bytes | None:
        if len(p) < 8:
            return None
        tag, status, sid = p[0], p[1], struct.unpack_from("<I", p, 4)[0]
        s = self.sessions.get(sid)
        if s is None or now - s.last_seen > self.config.session_timeout:
            return wire.v20_plain(wire.PAYLOAD_RAKP4, bytes([tag, ST_INVALID_SESSION, 0, 0, 0, 0, 0, 0]))
        if s.active:
            return s.rakp4 if p == s.rakp3 else None
        console = struct.pack("<I", s.console_sid)
        if status != ST_OK:
            del self.sessions[sid]
            return None
        if not s.rakp2_sent:
            del self.sessions[sid]
            return wire.v20_plain(wire.PAYLOAD_RAKP4, bytes([tag, ST_INVALID_SESSION, 0, 0]) + console)
        hash_name = wire.AUTH_HASH[s.auth]
        tail = bytes([s.role, len(s.name)]) + s.name
        want = wire.hmac_digest(self._kuid(), s.rc + console + tail, hash_name)
        if not hmac.compare_digest(want, bytes(p[8:])):
            del self.sessions[sid]
            return wire.v20_plain(wire.PAYLOAD_RAKP4, bytes([tag, ST_INVALID_ICV, 0, 0]) + console)
        sik = wire.hmac_digest(self._kuid(), s.rm + s.rc + tail, hash_name)
        s.k1 = wire.hmac_digest(sik, b"\x01" * 20, hash_name)
        s.k2 = wire.hmac_digest(sik, b"\x02" * 20, hash_name)[:16]
        icv = wire.hmac_digest(sik, s.rm + struct.pack("<I", s.bmc_sid) + self.guid, hash_name)
        s.active, s.last_seen = True, now
        s.max_priv = s.role & 0x0F
        s.priv = min(PRIV_USER, s.max_priv)
        s.rakp3 = bytes(p)
        s.rakp4 = wire.v20_plain(wire.PAYLOAD_RAKP4, bytes([tag, ST_OK, 0, 0]) + console
                                 + icv[:wire.RAKP4_ICV_LEN[s.auth]])
        return s.rakp4

    def _kuid(self) -> bytes:
        return self.config.password.encode()

    def _in_session(self, packet: bytes, pkt: wire.V20Packet, now: float) -> bytes | None:
        s = self.sessions.get(pkt.session_id)
        if s is None or not s.active:
            return None
        if now - s.last_seen > self.config.session_timeout:
            del self.sessions[s.bmc_sid]
            return None
        if not (pkt.authenticated and pkt.encrypted):
            return None
        if not wire.check_integrity(packet, pkt, s.k1, s.integ):
            return None
        msg = wire.aes_decrypt(s.k2, pkt.payload)
        if msg is None or not self._sequence_ok(s, pkt.sequence):
            return None
        s.last_seen = now
        rsp = self._ipmi(msg, s, now)
        if rsp is None:
            return None
        s.out_seq = (s.out_seq + 1) & 0xFFFFFFFF or 1
        out = wire.session_packet(s.console_sid, s.out_seq, rsp, k1=s.k1, k2=s.k2, integ=s.integ,
                                  encrypt=True, authenticate=True)
        if s.closing:
            self.sessions.pop(s.bmc_sid, None)
        return out

    @staticmethod
    def _sequence_ok(s: Session, seq: int) -> bool:
        """Accept sequence numbers up to 32 ahead of or 16 behind the highest seen."""
        if seq == 0:
            return False
        if s.in_seq == 0:
            s.in_seq = seq
            return True
        diff = (seq - s.in_seq) & 0xFFFFFFFF
        if 0 < diff <= 32:
            s.in_seq = seq
            return True
        return diff == 0 or diff > 0xFFFFFFFF - 16

    # ---------------------------------------------------------------- IPMI dispatch

    def _ipmi(self, msg: bytes, s: Session | None, now: float) -> bytes | None:
        req = wire.parse_request(msg)
        if req is None or req.netfn & 1:
            return None
        entry = COMMANDS.get((req.netfn, req.cmd))
        if entry is None or req.rs_lun:
            return wire.build_response(req, CC_INVALID_COMMAND)
        handler, min_priv = entry
        if (s is None and min_priv) or (s is not None and s.priv < min_priv):
            return wire.build_response(req, CC_PRIVILEGE)
        self._settle(now)
        cc, data = handler(self, req.data, s, now)
        return wire.build_response(req, cc, data if cc == CC_OK else b"")

    # ---------------------------------------------------------------- power model

    def _settle(self, now: float) -> None:
        if self.power_pending and now >= self.power_pending[0]:
            turn_on = self.power_pending[1]
            self.power_pending = None
            self._set_power(turn_on)

    def _set_power(self, on: bool) -> None:
        if on and not self.power:
            self._boot()
        self.power = on

    def _boot(self) -> None:
        """The host starts: one-time boot flags are consumed."""
        self.boots += 1
        if self.boot_flags[0] & 0x80 and not self.boot_flags[0] & 0x40:
            self.boot_flags[0] &= 0x7F

    # ---------------------------------------------------------------- App commands

    def _get_device_id(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        return CC_OK, bytes([0x20, 0x01, 0x01, 0x23, 0x02, 0x8F, 0, 0, 0, 0x00, 0x10, 0, 0, 0, 0])

    def _get_guid(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        return CC_OK, self.guid

    def _auth_caps(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if len(data) < 2:
            return CC_LENGTH, b""
        if data[0] & 0x0F not in (0x01, 0x0E):
            return CC_INVALID_FIELD, b""
        extended = bool(data[0] & 0x80)
        return CC_OK, bytes([0x01, 0x80 if extended else 0x00, 0x04,
                             0x02 if extended else 0x00, 0, 0, 0, 0])

    def _cipher_suites(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if len(data) < 3:
            return CC_LENGTH, b""
        if data[0] & 0x0F not in (0x01, 0x0E):
            return CC_INVALID_FIELD, b""
        if data[2] & 0x80:
            records = b"".join(bytes([0xC0, sid, a, 0x40 | i, 0x80 | c])
                               for sid, (a, i, c) in sorted(wire.CIPHER_SUITES.items()))
        else:
            records = bytes([1, 3, 0x40 | 1, 0x40 | 4, 0x80 | 1])
        start = (data[2] & 0x3F) * 16
        return CC_OK, b"\x01" + records[start:start + 16]

    def _set_priv(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if s is None or not data:
            return CC_LENGTH, b""
        level = data[0] & 0x0F
        if level == 0:
            return CC_OK, bytes([s.priv])
        if level > PRIV_ADMIN:
            return 0x80, b""
        if level > s.max_priv:
            return 0x81, b""
        s.priv = level
        return CC_OK, bytes([level])

    def _close_session(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if s is None or len(data) < 4:
            return CC_LENGTH, b""
        sid = struct.unpack_from("<I", data)[0]
        if sid in (0, s.bmc_sid):
            s.closing = True
            return CC_OK, b""
        other = self.sessions.get(sid)
        if other is None:
            return 0x87, b""
        if s.priv < PRIV_ADMIN:
            return CC_PRIVILEGE, b""
        del self.sessions[sid]
        return CC_OK, b""

    # ---------------------------------------------------------------- Chassis commands

    def _identify_state(self, now: float) -> int:
        if self.identify_until == float("inf"):
            return 2
        return 1 if now < self.identify_until else 0

    def _chassis_status(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        on = self.power
        rsp = bytes([(0x01 if on else 0x00) | 0x20,
                     0x10 if self.last_power_by_command else 0x00,
                     0x40 | (self._identify_state(now) << 4)])
        if self.config.flip:
            self.power = not self.power
        return CC_OK, rsp

    def _chassis_control(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if not data:
            return CC_LENGTH, b""
        action = data[0] & 0x0F
        if action > 5:
            return CC_INVALID_FIELD, b""
        if action in (2, 3) and not self.power:
            return CC_NOT_IN_STATE, b""
        self.last_power_by_command = True
        if action == 0:
            self.power_pending = None
            self._set_power(False)
        elif action == 1:
            self.power_pending = None
            self._set_power(True)
        elif action == 2:
            self.power = False
            self.power_pending = (now + self.config.cycle_delay, True)
        elif action == 3:
            self._boot()
        elif action == 4:
            self.nmi_count += 1
        elif self.power and self.power_pending is None:
            self.power_pending = (now + self.config.soft_off_delay, False)
        self._settle(now)
        return CC_OK, b""

    def _chassis_identify(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        interval = data[0] if data else 15
        if len(data) > 1 and data[1] & 0x01:
            self.identify_until = float("inf")
        else:
            self.identify_until = now + interval if interval else 0.0
        return CC_OK, b""

    def _set_boot(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if not data:
            return CC_LENGTH, b""
        param, value = data[0] & 0x7F, data[1:]
        if param == 0:
            if len(value) != 1:
                return CC_LENGTH, b""
            state = value[0] & 0x03
            if state == 3:
                return CC_INVALID_FIELD, b""
            if state == 1 and self.boot_in_progress == 1:
                return 0x81, b""
            self.boot_in_progress = 1 if state == 1 else 0
        elif param == 3:
            if len(value) != 1:
                return CC_LENGTH, b""
            self.boot_valid_clear = value[0] & 0x1F
        elif param == 4:
            if len(value) != 2:
                return CC_LENGTH, b""
            self.boot_ack = (self.boot_ack & ~value[0]) | (value[1] & value[0])
        elif param == 5:
            if len(value) != 5:
                return CC_LENGTH, b""
            self.boot_flags[:] = value
        else:
            return 0x80, b""
        return CC_OK, b""

    def _get_boot(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if len(data) < 3:
            return CC_LENGTH, b""
        param = data[0] & 0x7F
        values = {0: bytes([self.boot_in_progress]), 3: bytes([self.boot_valid_clear]),
                  4: bytes([0x00, self.boot_ack]), 5: bytes(self.boot_flags)}
        if param not in values:
            return 0x80, b""
        return CC_OK, bytes([0x01, param]) + values[param]

    # ---------------------------------------------------------------- Storage: FRU

    def _fru_info(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if not data:
            return CC_LENGTH, b""
        if data[0] != 0:
            return CC_NOT_PRESENT, b""
        return CC_OK, struct.pack("<HB", len(self.fru), 0x00)

    def _fru_read(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if len(data) < 4:
            return CC_LENGTH, b""
        if data[0] != 0:
            return CC_NOT_PRESENT, b""
        offset, count = struct.unpack_from("<H", data, 1)[0], data[3]
        limit = self.config.fru_limit
        if limit and count > limit:
            return CC_FIELD_TOO_LONG, b""
        if offset >= len(self.fru):
            return CC_OUT_OF_RANGE, b""
        chunk = self.fru[offset:offset + count]
        return CC_OK, bytes([len(chunk)]) + chunk

    # ---------------------------------------------------------------- Storage: SDR

    def _sdr_info(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        ts = content.SEL_BASE_TIME
        return CC_OK, struct.pack("<BHHIIB", 0x51, len(self.sdrs), 0xFFFF, ts, ts, 0x22)

    def _sdr_reserve(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        self.sdr_reservation = self.sdr_reservation % 0xFFFF + 1
        return CC_OK, struct.pack("<H", self.sdr_reservation)

    def _get_sdr(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if len(data) < 6:
            return CC_LENGTH, b""
        resv, rec_id, offset, count = struct.unpack_from("<HHBB", data)
        if (offset or resv) and resv != self.sdr_reservation:
            return CC_RESERVATION, b""
        return _read_record(self.sdrs, rec_id, offset, count, lambda r: struct.unpack_from("<H", r)[0])

    # ---------------------------------------------------------------- Storage: SEL

    def _add_sel(self, ts: int, stype: int, num: int, evt: int, data: tuple[int, int, int]) -> None:
        self.sel.append(content.sel_record(self.sel_next_id, ts, stype, num, evt, data))
        self.sel_next_id = self.sel_next_id % 0xFFFE + 1
        self.sel_added = ts
        self.sel_reservation = 0

    def _sel_info(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        free = (512 - len(self.sel)) * 16
        return CC_OK, struct.pack("<BHHIIB", 0x51, len(self.sel), free, self.sel_added,
                                  self.sel_erased, 0x02)

    def _sel_reserve(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        self.sel_counter = self.sel_counter % 0xFFFF + 1
        self.sel_reservation = self.sel_counter
        return CC_OK, struct.pack("<H", self.sel_reservation)

    def _get_sel(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if len(data) < 6:
            return CC_LENGTH, b""
        resv, rec_id, offset, count = struct.unpack_from("<HHBB", data)
        if offset and resv != self.sel_reservation:
            return CC_RESERVATION, b""
        return _read_record(self.sel, rec_id, offset, count, lambda r: struct.unpack_from("<H", r)[0])

    def _clear_sel(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if len(data) < 6:
            return CC_LENGTH, b""
        if data[2:5] != b"CLR":
            return CC_INVALID_FIELD, b""
        if struct.unpack_from("<H", data)[0] != self.sel_reservation or not self.sel_reservation:
            return CC_RESERVATION, b""
        if data[5] == 0xAA:
            wall = int(time.time())
            self.sel.clear()
            self.sel_erased = wall
            self._add_sel(wall, 0x10, 0x11, 0x6F, (0x02, 0xFF, 0xFF))
        elif data[5] != 0x00:
            return CC_INVALID_FIELD, b""
        return CC_OK, b"\x01"

    def _sel_time(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        return CC_OK, struct.pack("<I", int(time.time()))

    # ---------------------------------------------------------------- Sensor/Event

    def _sensor_reading(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if not data:
            return CC_LENGTH, b""
        sensor = self.sensors.get(data[0])
        if sensor is None:
            return CC_NOT_PRESENT, b""
        return CC_OK, bytes([sensor.raw, 0xC0, 0x00, 0x80])

    def _sensor_thresholds(self, data: bytes, s: Session | None, now: float) -> tuple[int, bytes]:
        if not data:
            return CC_LENGTH, b""
        sensor = self.sensors.get(data[0])
        if sensor is None:
            return CC_NOT_PRESENT, b""
        return CC_OK, bytes([0x3F, *sensor.thresholds])


def _read_record(records: list[bytes], rec_id: int, offset: int, count: int,
                 id_of: Callable[[bytes], int]) -> tuple[int, bytes]:
    """Partial read of record ``rec_id`` (0 = first, 0xFFFF = last) from a list."""
    if not records:
        return CC_NOT_PRESENT, b""
    if rec_id == 0:
        pos = 0
    elif rec_id == 0xFFFF:
        pos = len(records) - 1
    else:
        pos = next((n for n, r in enumerate(records) if id_of(r) == rec_id), -1)
        if pos < 0:
            return CC_NOT_PRESENT, b""
    record = records[pos]
    if offset > len(record):
        return CC_OUT_OF_RANGE, b""
    nxt = id_of(records[pos + 1]) if pos + 1 < len(records) else 0xFFFF
    chunk = record[offset:] if count == 0xFF else record[offset:offset + count]
    return CC_OK, struct.pack("<H", nxt) + chunk


COMMANDS: dict[tuple[int, int], tuple[Handler, int]] = {
    (NETFN_APP, 0x01): (BMC._get_device_id, PRIV_USER),
    (NETFN_APP, 0x37): (BMC._get_guid, PRIV_USER),
    (NETFN_APP, 0x38): (BMC._auth_caps, 0),
    (NETFN_APP, 0x54): (BMC._cipher_suites, 0),
    (NETFN_APP, 0x3B): (BMC._set_priv, PRIV_CALLBACK),
    (NETFN_APP, 0x3C): (BMC._close_session, PRIV_CALLBACK),
    (NETFN_CHASSIS, 0x01): (BMC._chassis_status, PRIV_USER),
    (NETFN_CHASSIS, 0x02): (BMC._chassis_control, PRIV_OPERATOR),
    (NETFN_CHASSIS, 0x04): (BMC._chassis_identify, PRIV_OPERATOR),
    (NETFN_CHASSIS, 0x08): (BMC._set_boot, PRIV_OPERATOR),
    (NETFN_CHASSIS, 0x09): (BMC._get_boot, PRIV_USER),
    (NETFN_STORAGE, 0x10): (BMC._fru_info, PRIV_USER),
    (NETFN_STORAGE, 0x11): (BMC._fru_read, PRIV_USER),
    (NETFN_STORAGE, 0x20): (BMC._sdr_info, PRIV_USER),
    (NETFN_STORAGE, 0x22): (BMC._sdr_reserve, PRIV_USER),
    (NETFN_STORAGE, 0x23): (BMC._get_sdr, PRIV_USER),
    (NETFN_STORAGE, 0x40): (BMC._sel_info, PRIV_USER),
    (NETFN_STORAGE, 0x42): (BMC._sel_reserve, PRIV_USER),
    (NETFN_STORAGE, 0x43): (BMC._get_sel, PRIV_USER),
    (NETFN_STORAGE, 0x47): (BMC._clear_sel, PRIV_OPERATOR),
    (NETFN_STORAGE, 0x48): (BMC._sel_time, PRIV_USER),
    (NETFN_SENSOR, 0x2D): (BMC._sensor_reading, PRIV_USER),
    (NETFN_SENSOR, 0x27): (BMC._sensor_thresholds, PRIV_USER),
}
