"""noderm — remove nodes from every table that has a node column."""

from __future__ import annotations

import click

from xcatpy.cli._common import command, main_for, send
from xcatpy.protocol import Request


@command("noderm", options_metavar="[OPTIONS]")
@click.argument("noderange", metavar="noderange")
@click.pass_context
def cli(ctx: click.Context, noderange: str) -> int:
    """Remove the nodes in noderange from the database."""
    return send(Request("noderm", noderange=noderange))


main = main_for(cli)
