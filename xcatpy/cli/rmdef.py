"""rmdef — remove object definitions; the command line goes to the server as is."""

from __future__ import annotations

from typing import Any

import click

from xcatpy.cli._common import main_for
from xcatpy.cli.lsdef import def_command, forward


@def_command("rmdef")
@click.option("-t", "types", metavar="TYPES", help="Comma-separated object types (default node).")
@click.option("-o", "objects", metavar="NAMES", help="Comma-separated object names.")
@click.option("-a", "--all", "all_", is_flag=True, help="Remove every definition (needs -f).")
@click.option("-f", "--force", is_flag=True, help="Confirm -a.")
@click.option("-C", "--cleanup", is_flag=True, help="Also run 'nodeset offline' on the nodes.")
@click.option("-V", "--verbose", is_flag=True, help="List the objects removed.")
@click.argument("noderange", nargs=-1)
def cli(**_options: Any) -> int:
    """Remove xCAT object definitions.

    With -t TYPE and -h, list the attributes of the type instead.
    """
    return forward("rmdef")


main = main_for(cli)
