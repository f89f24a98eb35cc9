"""rmvm — remove virtual machines from their hypervisors."""

from __future__ import annotations

import click

from xcatpy.cli._common import args_of, command, main_for, send
from xcatpy.protocol import Request


@command("rmvm", options_metavar="[OPTIONS]")
@click.argument("noderange", required=False)
@click.option("-p", "purge", is_flag=True, help="Also delete the VM's disk volumes.")
@click.option("-f", "force", is_flag=True, help="Stop a running VM first instead of refusing.")
def cli(noderange: str | None, purge: bool, force: bool) -> int:
    """Undefine virtual machines on their hypervisors (vm.host)."""
    if not noderange:
        raise click.UsageError("rmvm: a noderange is required")
    args = args_of([("-p", purge), ("-f", force)])
    return send(Request("rmvm", noderange=noderange, args=args))


main = main_for(cli)

if __name__ == "__main__":
    main()
