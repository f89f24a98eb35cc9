"""lsxcatd — what the management node runs (version, database)."""

from __future__ import annotations

import click

from xcatpy.cli._common import args_of, command, main_for, send
from xcatpy.protocol import Request


@command("lsxcatd")
@click.option("-d", "--database", is_flag=True, help="Show the database in use.")
@click.option("-t", "--nodetype", is_flag=True, help="Show what kind of node this is.")
@click.option("-a", "--all", "everything", is_flag=True, help="Show everything.")
def cli(database: bool, nodetype: bool, everything: bool) -> int:
    """Show the daemon's version and configuration (-v prints the version)."""
    if not (database or nodetype or everything):
        raise click.UsageError("specify -a, -d or -t (-v for the version)")
    args = args_of([("-d", database), ("-t", nodetype), ("-a", everything)])
    return send(Request("lsxcatd", args=args))


main = main_for(cli)
