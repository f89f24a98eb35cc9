"""nodels — list nodes and their attributes.

As xCAT's client does, the first argument that is not an option is the
noderange; everything else (options included) goes to the server, which
parses it.
"""

from __future__ import annotations

import click

from xcatpy.cli._common import args_of, command, main_for, send
from xcatpy.protocol import Request


@command("nodels", options_metavar="[noderange] [OPTIONS]")
@click.option("-b", "--blame", is_flag=True, help="Show which group an inherited value comes from.")
@click.option("-H", "--with-fieldname", "fieldname", is_flag=True,
              help="Print table.column before every value.")
@click.option("-S", "hidden", is_flag=True, help="Also list hidden nodes (nodelist.hidden=1).")
@click.argument("words", nargs=-1, metavar="[table.column|shortname|table ...]")
@click.pass_context
def cli(ctx: click.Context, blame: bool, fieldname: bool, hidden: bool, words: tuple[str, ...]) -> int:
    """List the nodes in a noderange (all nodes without one), with attributes.

    Attributes are table.column, a whole table, or a shortname (groups, tags,
    mgt).  table.column==value, !=, =~ and !~ select nodes.
    """
    noderange = words[0] if words else None
    args = args_of([("-b", blame), ("-H", fieldname), ("-S", hidden)]) + list(words[1:])
    return send(Request("nodels", noderange=noderange, args=args))


main = main_for(cli)
