"""chtab — add, change or delete one row of any table."""

from __future__ import annotations

import click

from xcatpy.cli._common import args_of, command, main_for, send
from xcatpy.protocol import Request

_HELP = """Set table.column=value (or +=value) on the row key=value[,key=value];
    with -d, delete that row from each TABLE.

    \b
    {name} key=value[,key=value...] table.column=value [table.column+=value ...]
    {name} -d key=value[,key=value...] table [table ...]
    """


def change_command(name: str) -> click.Command:
    """The chtab command line under ``name``: xCAT also calls it tabch."""

    @command(name, help=_HELP.format(name=name))
    @click.option("-d", "--delete", is_flag=True, help="Delete the rows from the named tables.")
    @click.argument("args", nargs=-1)
    def cli(delete: bool, args: tuple[str, ...]) -> int:
        return send(Request(name, args=args_of([("-d", delete)]) + list(args)))

    return cli


cli = change_command("chtab")
main = main_for(cli)
