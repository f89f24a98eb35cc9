"""chtab — add, change or delete one row of any table."""

from __future__ import annotations

import click

from xcatpy.cli._common import args_of, command, main_for, send
from xcatpy.protocol import Request


@command("chtab")
@click.option("-d", "--delete", is_flag=True, help="Delete the rows from the named tables.")
@click.argument("args", nargs=-1)
def cli(delete: bool, args: tuple[str, ...]) -> int:
    """Set table.column=value (or +=value) on the row key=value[,key=value];
    with -d, delete that row from each TABLE.

    \b
    chtab key=value[,key=value...] table.column=value [table.column+=value ...]
    chtab -d key=value[,key=value...] table [table ...]
    """
    return send(Request("chtab", args=args_of([("-d", delete)]) + list(args)))


main = main_for(cli)
