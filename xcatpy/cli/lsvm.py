"""lsvm — list a hypervisor's virtual machines, or show a virtual machine."""

from __future__ import annotations

import click

from xcatpy.cli._common import command, main_for, send
from xcatpy.protocol import Request


@command("lsvm", options_metavar="[OPTIONS]")
@click.argument("noderange", required=False)
def cli(noderange: str | None) -> int:
    """For a hypervisor, list its virtual machines and their states; for a
    virtual machine, show its configuration."""
    if not noderange:
        raise click.UsageError("lsvm: a noderange is required")
    return send(Request("lsvm", noderange=noderange, args=[]))


main = main_for(cli)

if __name__ == "__main__":
    main()
