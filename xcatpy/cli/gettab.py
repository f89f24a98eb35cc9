"""gettab — print columns of the rows that match key=value pairs."""

from __future__ import annotations

import click

from xcatpy.cli._common import args_of, command, main_for, send
from xcatpy.protocol import Request


@command("gettab")
@click.option("-H", "--with-fieldname", "fieldname", is_flag=True,
              help="Always print table.column: before the value.")
@click.argument("args", nargs=-1)
def cli(fieldname: bool, args: tuple[str, ...]) -> int:
    """Print table.column of the row matching key=value[,key=value...].

    \b
    gettab [-H] key=value[,key=value...] table.column [table.column ...]
    """
    return send(Request("gettab", args=args_of([("-H", fieldname)]) + list(args)))


main = main_for(cli)
