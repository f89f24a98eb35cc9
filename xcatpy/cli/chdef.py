"""chdef — change object definitions; the command line goes to the server as is."""

from __future__ import annotations

from typing import Any

import click

from xcatpy.cli._common import main_for
from xcatpy.cli.lsdef import def_command, forward


@def_command("chdef")
@click.option("-t", "types", metavar="TYPE", help="Object type (default node).")
@click.option("-o", "objects", metavar="NAMES", help="Comma-separated object names.")
@click.option("-n", "newname", metavar="NAME", help="Rename the one object given.")
@click.option("-z", "--stanza", is_flag=True, help="Read stanza definitions from stdin.")
@click.option("-d", "--dynamic", is_flag=True, help="Change a dynamic group (with -w).")
@click.option("-p", "--plus", is_flag=True, help="Add the values to list attributes.")
@click.option("-m", "--minus", is_flag=True, help="Remove the values from list attributes.")
@click.option("-w", "where", multiple=True, metavar="ATTR<op>VAL",
              help="Selection for a group: ==, !=, =~, !~ (repeatable).")
@click.option("-u", "fill", is_flag=True, help="Fill in osimage attributes.")
@click.option("-V", "--verbose", is_flag=True, help="Verbose output.")
@click.argument("args", nargs=-1)
def cli(**_options: Any) -> int:
    """Change xCAT object definitions: [noderange] attr=value ...

    Definitions that do not exist are created.  With -t TYPE and -h, list the
    attributes of the type instead.
    """
    return forward("chdef", stanza_stdin=True)


main = main_for(cli)
