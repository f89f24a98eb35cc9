"""nodech — change or delete the nodes' attributes.

The first argument that is not an option is the noderange, as in xCAT's client.
"""

from __future__ import annotations

import click

from xcatpy.cli._common import args_of, command, main_for, send
from xcatpy.protocol import Request


@command("nodech", options_metavar="[OPTIONS]")
@click.option("-d", "--delete", is_flag=True, help="Delete the nodes' rows in the named tables.")
@click.argument("noderange", metavar="noderange")
@click.argument("changes", nargs=-1, required=True, metavar="table.column=value|table ...")
@click.pass_context
def cli(ctx: click.Context, delete: bool, noderange: str,
        changes: tuple[str, ...]) -> int:
    """Set attributes of the nodes in noderange.

    table.column=value replaces, table.column,=item prepends to a comma list
    (unless present), table.column^=item removes from it; an empty value hides
    the groups' value; =@ is an unambiguous "=".  table.column==value, !=, =~
    and !~ narrow the nodes.  With -d, delete the nodes' rows in the tables.
    """
    args = args_of([("-d", delete)]) + list(changes)
    return send(Request("nodech", noderange=noderange, args=args))


main = main_for(cli)
