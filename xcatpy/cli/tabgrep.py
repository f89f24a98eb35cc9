"""tabgrep — list the tables that hold a row for a node (or one of its groups)."""

from __future__ import annotations

import click

from xcatpy.cli._common import command, main_for, send
from xcatpy.protocol import Request


@command("tabgrep")
@click.argument("node", required=False)
def cli(node: str | None) -> int:
    """List the tables with a row for NODE or for one of its groups."""
    if not node:
        click.echo("Usage: tabgrep nodename\n       tabgrep [-?|-h|--help]", err=True)
        return 1
    return send(Request("tabgrep", noderange=node))


main = main_for(cli)
