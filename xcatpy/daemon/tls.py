"""TLS for the daemon: its context, client identities and revocations.

The daemon asks for a client certificate but does not require one, as xCAT's
does: a connection without one is anonymous.  A certificate that does not
chain to the cluster CA, or has expired, fails the handshake; one that was
revoked (``xcatconfig --revoke``) is refused right after it, and the list is
re-read whenever its file changes, so no restart is needed.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import NameOID

from xcatpy.errors import XcatError
from xcatpy.paths import Paths


class TLSSetupError(XcatError):
    """The daemon's credentials are missing or unusable."""


def server_context(paths: Paths, site: dict[str, str] | None = None) -> ssl.SSLContext:
    site = site or {}
    cred = paths.certdir / "server-cred.pem"
    ca = paths.certdir / "ca.pem"
    if not cred.exists() or not ca.exists():
        raise TLSSetupError(f"no server credential in {paths.certdir}: run 'xcatconfig -i' first")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    policy = (site.get("xcattlspolicy") or "modern").strip().lower()
    ctx.minimum_version = (
        ssl.TLSVersion.TLSv1 if policy == "legacy" else ssl.TLSVersion.TLSv1_2
    )
    if site.get("xcatsslciphers"):
        ctx.set_ciphers(site["xcatsslciphers"])
    ctx.load_cert_chain(str(cred))
    ctx.load_verify_locations(cafile=str(ca))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.options |= ssl.OP_NO_COMPRESSION
    return ctx


def peer_identity(der: bytes | None) -> tuple[str | None, int | None]:
    """(CN, serial) of a verified peer certificate, or (None, None) for anonymous."""
    if not der:
        return None, None
    cert = x509.load_der_x509_certificate(der)
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else None
    return cn, cert.serial_number


@dataclass
class Revocations:
    """Revoked serials from ``ca/index.json``, reloaded when the file changes."""

    paths: Paths
    _stamp: float = -1.0
    _serials: frozenset[int] = field(default_factory=frozenset)

    def revoked(self, serial: int) -> bool:
        index = self.paths.cadir / "index.json"
        try:
            stamp = os.stat(index).st_mtime_ns
        except OSError:
            return serial in self._serials
        if stamp != self._stamp:
            from xcatpy.pki import CA

            self._serials = frozenset(CA(self.paths.cadir).revoked_serials())
            self._stamp = stamp
        return serial in self._serials
