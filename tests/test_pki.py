"""Certificates: CA, server and client credentials, revocation, checked with openssl."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from xcatpy import pki


@pytest.fixture
def ca(tmp_path: Path) -> pki.CA:
    return pki.create_ca(tmp_path / "ca")


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_ca_is_idempotent_and_private(ca: pki.CA) -> None:
    before = ca.cert_path.read_bytes()
    again = pki.create_ca(ca.cadir)
    assert again.cert_path.read_bytes() == before
    assert _mode(ca.key_path) == 0o600
    assert _mode(ca.cadir) == 0o700


def test_client_credential_layout(ca: pki.CA, tmp_path: Path) -> None:
    xdir = pki.issue_client(ca, "foobar", tmp_path / "home")
    assert sorted(p.name for p in xdir.iterdir()) == [
        "ca.pem", "client-cert.pem", "client-cred.pem", "client-key.pem"]
    assert _mode(xdir) == 0o755
    assert _mode(xdir / "client-key.pem") == 0o600
    assert _mode(xdir / "client-cred.pem") == 0o600
    assert _mode(xdir / "ca.pem") == 0o644
    cert = x509.load_pem_x509_certificate((xdir / "client-cert.pem").read_bytes())
    assert pki.cert_cn(cert) == "foobar"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_openssl_verifies_issued_certs(ca: pki.CA, tmp_path: Path) -> None:
    pki.issue_server(ca, tmp_path / "cert", "mn1", ["127.0.0.1"])
    xdir = pki.issue_client(ca, "root", tmp_path / "home")
    for cert in (tmp_path / "cert/server-cert.pem", xdir / "client-cert.pem"):
        p = subprocess.run(["openssl", "verify", "-CAfile", str(ca.cert_path), str(cert)],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_revocation_reaches_the_crl(ca: pki.CA, tmp_path: Path) -> None:
    first = pki.issue_client(ca, "foobar", tmp_path / "a")
    first_cert = (first / "client-cert.pem").read_bytes()
    # Issuing again revokes the earlier certificate of the same user.
    pki.issue_client(ca, "foobar", tmp_path / "b")
    serial = x509.load_pem_x509_certificate(first_cert).serial_number
    assert serial in ca.revoked_serials()
    (tmp_path / "old.pem").write_bytes(first_cert)
    p = subprocess.run(
        ["openssl", "verify", "-crl_check", "-CAfile", str(ca.cert_path),
         "-CRLfile", str(ca.crl_path), str(tmp_path / "old.pem")],
        capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "revoked" in (p.stdout + p.stderr)
    assert pki.revoke(ca, "foobar") == 1
    assert pki.revoke(ca, "foobar") == 0


@pytest.mark.parametrize("bad", ["", "a/b", "x,CN=root", "new\nline"])
def test_bad_user_names_are_refused(ca: pki.CA, tmp_path: Path, bad: str) -> None:
    with pytest.raises(pki.PKIError):
        pki.issue_client(ca, bad, tmp_path)


def test_signed_by(ca: pki.CA, tmp_path: Path) -> None:
    xdir = pki.issue_client(ca, "carol", tmp_path / "h")
    assert pki.signed_by(ca, xdir / "client-cert.pem")
    other = pki.create_ca(tmp_path / "other")
    assert not pki.signed_by(other, xdir / "client-cert.pem")
    assert not pki.signed_by(ca, tmp_path / "missing.pem")
    pki.revoke(ca, "carol")
    assert not pki.signed_by(ca, xdir / "client-cert.pem")


def test_init_replaces_a_credential_from_another_ca(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cert = mn.home / ".xcat" / "client-cert.pem"
    pki.issue_client(pki.create_ca(tmp_path / "stale"), "root", mn.home, revoke_previous=False)
    ca = pki.CA(mn.root / "etc/xcatpy/ca")
    assert not pki.signed_by(ca, cert)
    mn.ok("xcatconfig", "-i")
    assert pki.signed_by(ca, cert)
