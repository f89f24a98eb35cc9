"""mkdef — create object definitions; the command line goes to the server as is."""

from __future__ import annotations

from typing import Any

import click

from xcatpy.cli._common import main_for
from xcatpy.cli.lsdef import def_command, forward, template_option


@def_command("mkdef")
@click.option("-t", "types", metavar="TYPE", help="Object type (default node).")
@click.option("-o", "objects", metavar="NAMES", help="Comma-separated object names.")
@click.option("-z", "--stanza", is_flag=True, help="Read stanza definitions from stdin.")
@click.option("-d", "--dynamic", is_flag=True, help="Create a dynamic group (with -w).")
@click.option("-f", "--force", is_flag=True, help="Replace definitions that exist.")
@click.option("-w", "where", multiple=True, metavar="ATTR<op>VAL",
              help="Selection for a dynamic group: ==, !=, =~, !~ (repeatable).")
@click.option("-u", "fill", is_flag=True, help="Fill in osimage attributes.")
@click.option("-V", "--verbose", is_flag=True, help="Verbose output.")
@template_option
@click.argument("args", nargs=-1)
def cli(**_options: Any) -> int:
    """Create xCAT object definitions: [noderange] attr=value ...

    With -t TYPE and -h, list the attributes of the type instead.
    """
    return forward("mkdef", stanza_stdin=True)


main = main_for(cli)
