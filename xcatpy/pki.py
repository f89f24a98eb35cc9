"""Certificates for the daemon and its users (``cryptography`` only).

Layout under ``etc/xcatpy/`` (``Paths.cadir`` / ``Paths.certdir``):

* ``ca/ca-key.pem`` (0600), ``ca/ca-cert.pem``: the cluster CA.
* ``ca/index.json``: every certificate issued — serial, CN, expiry, and
  the time it was revoked, if it was.  ``ca/crl.pem`` is the revocation list
  built from it, readable by OpenSSL tools too.
* ``cert/server-key.pem``, ``server-cert.pem``, ``server-cred.pem`` (cert +
  key), ``ca.pem``: the daemon's credential, with SANs for the host's names
  and addresses.

A user's identity is the CN of the client certificate, which is the Unix
user name, as in xCAT.  Keys are ECDSA P-256: a TLS handshake with them costs
a fraction of an RSA-2048 one on the daemon's side.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from xcatpy.errors import XcatError

CA_DAYS = 7300
CERT_DAYS = 7300


class PKIError(XcatError):
    """A certificate operation that cannot be done."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class CA:
    """An open CA directory."""

    cadir: Path

    @property
    def key_path(self) -> Path:
        return self.cadir / "ca-key.pem"

    @property
    def cert_path(self) -> Path:
        return self.cadir / "ca-cert.pem"

    @property
    def index_path(self) -> Path:
        return self.cadir / "index.json"

    @property
    def crl_path(self) -> Path:
        return self.cadir / "crl.pem"

    def exists(self) -> bool:
        return self.key_path.exists() and self.cert_path.exists()

    def load(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        if not self.exists():
            raise PKIError(f"no CA in {self.cadir}: run 'xcatconfig -i' first")
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PKIError(f"{self.key_path} is not an EC key")
        return key, x509.load_pem_x509_certificate(self.cert_path.read_bytes())

    # -- index ------------------------------------------------------------
    def index(self) -> list[dict[str, object]]:
        if not self.index_path.exists():
            return []
        return list(json.loads(self.index_path.read_text()))

    def _save_index(self, entries: list[dict[str, object]]) -> None:
        _write(self.index_path, json.dumps(entries, indent=1).encode(), 0o600)

    def revoked_serials(self) -> set[int]:
        return {int(str(e["serial"])) for e in self.index() if e.get("revoked")}


def create_ca(cadir: Path, cn: str = "xcatpy CA") -> CA:
    """Create the CA if it does not exist yet (idempotent)."""
    ca = CA(cadir)
    if ca.exists():
        return ca
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cadir.mkdir(parents=True, exist_ok=True)
    os.chmod(cadir, 0o700)
    _write(ca.key_path, _key_pem(key), 0o600)
    _write(ca.cert_path, _cert_pem(cert), 0o644)
    ca._save_index([])
    write_crl(ca)
    return ca


def _issue(
    ca: CA,
    cn: str,
    *,
    server: bool,
    sans: Iterable[str] = (),
    days: int = CERT_DAYS,
    not_before: dt.datetime | None = None,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_key, ca_cert = ca.load()
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or (_now() - dt.timedelta(minutes=5))
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    alt: list[x509.GeneralName] = []
    for san in sans:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(san)))
        except ValueError:
            alt.append(x509.DNSName(san))
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    entries = ca.index()
    entries.append(
        {
            "serial": str(cert.serial_number),
            "cn": cn,
            "not_after": cert.not_valid_after_utc.isoformat(),
            "revoked": None,
        }
    )
    ca._save_index(entries)
    return key, cert


def host_names() -> list[str]:
    """Names and addresses of this host, for the server certificate's SANs."""
    names = {"localhost", "127.0.0.1", "::1", socket.gethostname(), socket.getfqdn()}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            names.add(str(info[4][0]))
    except OSError:
        pass
    return sorted(n for n in names if n)


def issue_server(ca: CA, certdir: Path, hostname: str, sans: Iterable[str] = ()) -> Path:
    """Write the daemon's credential into ``certdir``; returns server-cred.pem."""
    key, cert = _issue(ca, hostname, server=True, sans=sorted({hostname, *sans}))
    certdir.mkdir(parents=True, exist_ok=True)
    _write(certdir / "server-key.pem", _key_pem(key), 0o600)
    _write(certdir / "server-cert.pem", _cert_pem(cert), 0o644)
    _write(certdir / "server-cred.pem", _cert_pem(cert) + _key_pem(key), 0o600)
    _write(certdir / "ca.pem", ca.cert_path.read_bytes(), 0o644)
    return certdir / "server-cred.pem"


def issue_client(
    ca: CA,
    user: str,
    home: Path,
    *,
    days: int = CERT_DAYS,
    not_before: dt.datetime | None = None,
    revoke_previous: bool = True,
) -> Path:
    """Issue a client credential with CN=user into ``home/.xcat``; returns that dir.

    Earlier certificates of the same user are revoked first, as xCAT's
    setup-local-client.sh does, so only the newest credential works.
    """
    if not user or any(c in user for c in "/\\\n\r\0,=+<>#;\""):
        raise PKIError(f"invalid user name for a certificate: {user!r}")
    if revoke_previous:
        revoke(ca, user)
    key, cert = _issue(ca, user, server=False, days=days, not_before=not_before)
    xdir = home / ".xcat"
    xdir.mkdir(parents=True, exist_ok=True)
    os.chmod(xdir, 0o700)
    _write(xdir / "client-key.pem", _key_pem(key), 0o600)
    _write(xdir / "client-cert.pem", _cert_pem(cert), 0o600)
    _write(xdir / "client-cred.pem", _cert_pem(cert) + _key_pem(key), 0o600)
    _write(xdir / "ca.pem", ca.cert_path.read_bytes(), 0o644)
    os.chmod(xdir, 0o755)
    return xdir


def revoke(ca: CA, user: str) -> int:
    """Revoke every unrevoked certificate with CN=user; returns how many."""
    entries = ca.index()
    count = 0
    stamp = _now().isoformat()
    for e in entries:
        if e.get("cn") == user and not e.get("revoked"):
            e["revoked"] = stamp
            count += 1
    if count:
        ca._save_index(entries)
        write_crl(ca)
    return count


def write_crl(ca: CA) -> Path:
    """Rebuild ca/crl.pem from the index."""
    ca_key, ca_cert = ca.load()
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=CA_DAYS))
    )
    for e in ca.index():
        if e.get("revoked"):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(int(str(e["serial"])))
                .revocation_date(dt.datetime.fromisoformat(str(e["revoked"])))
                .build()
            )
    crl = builder.sign(ca_key, hashes.SHA256())
    _write(ca.crl_path, crl.public_bytes(serialization.Encoding.PEM), 0o644)
    return ca.crl_path


def cert_cn(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def signed_by(ca: CA, cert_path: Path) -> bool:
    """True when the certificate at ``cert_path`` was issued by ``ca`` and is not revoked."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        _key, ca_cert = ca.load()
        cert.verify_directly_issued_by(ca_cert)
    except (OSError, ValueError, TypeError, PKIError, InvalidSignature):
        return False
    return cert.serial_number not in ca.revoked_serials()
