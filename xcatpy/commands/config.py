"""xcatconfig: set up the management node, its certificates and users' credentials."""

from __future__ import annotations

import os
import pwd
import socket
from collections.abc import Iterator
from pathlib import Path

from xcatpy.commands._util import has, parse_opts, value
from xcatpy.commands.context import Context
from xcatpy.errors import UsageError
from xcatpy.protocol import Request, Response, info

USAGE = (
    "Usage: xcatconfig -i | -d | --client USER [--home DIR] | --revoke USER"
)


def xcatconfig(req: Request, ctx: Context) -> Iterator[Response]:
    opts, rest = parse_opts(
        req.args, "idV", ["initinstall", "database", "verbose", "client=", "home=", "revoke="],
        USAGE,
    )
    if rest:
        raise UsageError(USAGE)
    if has(opts, "-i", "--initinstall", "-d", "--database"):
        from xcatpy.store.init import initialise

        for line in initialise(ctx.paths):
            yield info(line)
        if has(opts, "-i", "--initinstall"):
            yield from _credentials(ctx)
    client = value(opts, "--client")
    if client is not None:
        home = value(opts, "--home")
        yield from _client(ctx, client, Path(home) if home else None)
    revoke = value(opts, "--revoke")
    if revoke is not None:
        from xcatpy import pki

        count = pki.revoke(pki.CA(ctx.paths.cadir), revoke)
        yield info(f"Revoked {count} certificate(s) of {revoke}")
    if not (has(opts, "-i", "--initinstall", "-d", "--database") or client or revoke):
        raise UsageError(USAGE)


def _credentials(ctx: Context) -> Iterator[Response]:
    """The CA, the daemon's credential and root's client credential, where missing."""
    from xcatpy import pki

    paths = ctx.paths
    ca_existed = pki.CA(paths.cadir).exists()
    ca = pki.create_ca(paths.cadir)
    if not ca_existed:
        yield info(f"Created the certificate authority in {paths.cadir}")
    if not (paths.certdir / "server-cred.pem").exists():
        hostname = socket.gethostname().split(".")[0]
        pki.issue_server(ca, paths.certdir, hostname, pki.host_names())
        yield info(f"Created the server credential for {hostname} in {paths.certdir}")
    me = pwd.getpwuid(os.getuid()).pw_name
    home = Path(os.environ.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir)
    # A credential from another CA (an earlier installation) would lock the
    # caller out of the new daemon: replace it.
    if not pki.signed_by(ca, home / ".xcat" / "client-cert.pem"):
        pki.issue_client(ca, me, home)
        yield info(f"Created the client credential of {me} in {home / '.xcat'}")


def _client(ctx: Context, user: str, home: Path | None) -> Iterator[Response]:
    from xcatpy import pki

    owner = None
    if home is None:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise UsageError(
                f"{user} is not a user on this machine: give --home DIR for the credentials"
            ) from None
        home, owner = Path(entry.pw_dir), entry
    else:
        try:
            owner = pwd.getpwnam(user)
        except KeyError:
            owner = None
    xdir = pki.issue_client(pki.CA(ctx.paths.cadir), user, home)
    if owner is not None and os.geteuid() == 0:
        for path in (xdir, *xdir.iterdir()):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    yield info(f"Created the client credential of {user} in {xdir}")
