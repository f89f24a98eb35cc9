"""nodegrpch — set attributes on groups, clearing the members' own values.

As xCAT's client does for this command, the group list travels as the first
argument.
"""

from __future__ import annotations

import click

from xcatpy.cli._common import command, main_for, send
from xcatpy.protocol import Request


@command("nodegrpch", options_metavar="[OPTIONS]")
@click.argument("groups", metavar="group1,group2,...")
@click.argument("changes", nargs=-1, required=True, metavar="table.column=value ...")
@click.pass_context
def cli(ctx: click.Context, groups: str, changes: tuple[str, ...]) -> int:
    """Set table.column=value on the group rows of the named groups.

    The members' own values of those columns are cleared so that the group's
    value applies to them.
    """
    return send(Request("nodegrpch", args=[groups, *changes]))


main = main_for(cli)
