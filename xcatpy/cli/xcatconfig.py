"""xcatconfig — initialise a management node and issue users' credentials."""

from __future__ import annotations

import click

from xcatpy.cli._common import args_of, command, main_for
from xcatpy.cli.render import render
from xcatpy.client import run_local
from xcatpy.protocol import Request


@command("xcatconfig")
@click.option("-i", "--initinstall", is_flag=True,
              help="Initialise the management node: database, site defaults, policy, "
                   "certificate authority, server and root credentials (idempotent).")
@click.option("-d", "--database", is_flag=True, help="Create or update the database tables only.")
@click.option("--client", "client", metavar="USER",
              help="Issue a client certificate with CN=USER into the user's ~/.xcat.")
@click.option("--home", "home", metavar="DIR",
              help="With --client: write the credentials into DIR/.xcat instead.")
@click.option("--revoke", "revoke", metavar="USER",
              help="Revoke every certificate of USER; xcatd refuses them at once.")
@click.option("-V", "--verbose", is_flag=True, help="Verbose output.")
def cli(initinstall: bool, database: bool, client: str | None, home: str | None,
        revoke: str | None, verbose: bool) -> int:
    """Set up the xcatpy management node and its users' credentials."""
    if not (initinstall or database or client or revoke):
        raise click.UsageError("specify -i, -d, --client USER or --revoke USER")
    if home and not client:
        raise click.UsageError("--home goes with --client")
    args = args_of([("-i", initinstall), ("-d", database), ("--client", client),
                    ("--home", home), ("--revoke", revoke)])
    # Always in-process: this creates what the daemon itself needs.
    return render(run_local(Request("xcatconfig", args=args)))


main = main_for(cli)
