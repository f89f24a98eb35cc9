"""nodeset — set what nodes boot next: an OS install, local disk, a shell, or nothing."""

from __future__ import annotations

import click

from xcatpy.cli._common import command, main_for, send
from xcatpy.protocol import Request


@command("nodeset", options_metavar="[OPTIONS]")
@click.argument("words", nargs=-1,
                metavar="<noderange> {osimage[=IMAGE]|boot|shell|runcmd=CMD|runimage=URL|"
                        "offline|stat|enact|next|iscsiboot}")
def cli(words: tuple[str, ...]) -> int:
    """Set the next boot of each node and write its boot loader entry.

    osimage[=IMAGE] prepares an OS install (the autoinstall file, the PXE,
    iPXE or GRUB entry named by noderes.netboot, bootparams and chain);
    boot boots from the local disk; shell, runcmd= and runimage= boot the
    genesis kernel; offline removes the entries; stat shows them; enact
    rewrites them from the tables; next moves to the next chain step;
    iscsiboot boots from the node's iSCSI target.
    """
    if not words:
        raise click.UsageError("nodeset: a noderange is required")
    return send(Request("nodeset", noderange=words[0], args=list(words[1:])))


main = main_for(cli)
