"""nodeadd — add nodes to the database.

The noderange names nodes that need not exist yet, so, as xCAT's client does
for this command, it travels as the first argument, not as a noderange.
"""

from __future__ import annotations

import click

from xcatpy.cli._common import command, main_for, send
from xcatpy.protocol import Request


@command("nodeadd", options_metavar="[OPTIONS]")
@click.argument("noderange", metavar="noderange")
@click.argument("changes", nargs=-1, required=True, metavar="groups=g1[,g2] [table.column=value ...]")
@click.pass_context
def cli(ctx: click.Context, noderange: str, changes: tuple[str, ...]) -> int:
    """Add the nodes in noderange, in at least one group, with attributes."""
    return send(Request("nodeadd", args=[noderange, *changes]))


main = main_for(cli)
