"""chdef — change object definitions; the command line goes to the server as is."""

from __future__ import annotations

from typing import Any

import click

from xcatpy.cli._common import main_for
from xcatpy.cli.lsdef import def_command, def_options, forward


@def_command("chdef")
@def_options("chdef")
@click.argument("args", nargs=-1)
def cli(**_options: Any) -> int:
    """Change object definitions: [noderange] attr=value ...

    Definitions that do not exist are created.  With -t TYPE and -h, list the
    attributes of the type instead.
    """
    return forward("chdef", stanza_stdin=True)


main = main_for(cli)
