"""rinstall — install nodes: nodeset, then boot them from the network."""

from __future__ import annotations

import click

from xcatpy.cli._common import args_of, command, main_for, send
from xcatpy.protocol import Request


@command("rinstall", options_metavar="[OPTIONS]")
@click.option("-u", "uefi", is_flag=True, help="Ask for a UEFI network boot (rsetboot net -u).")
@click.option("-V", "--verbose", "verbose", is_flag=True,
              help="Also print what nodeset, rsetboot and rpower printed.")
@click.argument("words", nargs=-1,
                metavar="<noderange> [osimage[=IMAGE]|boot|shell|runcmd=CMD|runimage=URL]")
def cli(uefi: bool, verbose: bool, words: tuple[str, ...]) -> int:
    """Provision nodes: nodeset, rsetboot net, then rpower boot.

    Without an action the nodes install the osimage named by
    nodetype.provmethod.
    """
    if not words:
        raise click.UsageError("rinstall: a noderange is required")
    args = list(words[1:]) + args_of([("-u", uefi), ("-V", verbose)])
    return send(Request("rinstall", noderange=words[0], args=args))


main = main_for(cli)
