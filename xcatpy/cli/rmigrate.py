"""rmigrate — move virtual machines to another hypervisor."""

from __future__ import annotations

import click

from xcatpy.cli._common import command, main_for, send
from xcatpy.protocol import Request


@command("rmigrate", options_metavar="[OPTIONS]")
@click.argument("noderange", required=False)
@click.argument("target", required=False, metavar="TARGET_HOST")
def cli(noderange: str | None, target: str | None) -> int:
    """Live-migrate virtual machines to TARGET_HOST and record it in vm.host."""
    if not noderange or not target:
        raise click.UsageError("rmigrate: a noderange and a target host are required")
    return send(Request("rmigrate", noderange=noderange, args=[target]))


main = main_for(cli)

if __name__ == "__main__":
    main()
