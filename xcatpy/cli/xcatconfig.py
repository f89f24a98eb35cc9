"""xcatconfig — initialise a management node under XCATPY_ROOT."""

from __future__ import annotations

import click

from xcatpy.cli._common import command, main_for
from xcatpy.cli.render import render
from xcatpy.client import run_local
from xcatpy.protocol import Request


@command("xcatconfig")
@click.option("-i", "--initinstall", is_flag=True, help="Initialise the management node (idempotent).")
@click.option("-d", "--database", is_flag=True, help="Create or update the database tables only.")
@click.option("-V", "--verbose", is_flag=True, help="Verbose output.")
def cli(initinstall: bool, database: bool, verbose: bool) -> int:
    """Set up the xcatpy management node: database, site defaults and policy."""
    if not (initinstall or database):
        raise click.UsageError("specify -i or -d")
    args = ["-i"] if initinstall else ["-d"]
    # Always in-process: this is what creates the database a daemon would use.
    return render(run_local(Request("xcatconfig", args=args)))


main = main_for(cli)
