"""chvm — change the CPUs, memory and disks of virtual machines."""

from __future__ import annotations

import click

from xcatpy.cli._common import args_of, command, main_for, send
from xcatpy.protocol import Request


@command("chvm", options_metavar="[OPTIONS]")
@click.argument("noderange", required=False)
@click.option("--cpus", metavar="N", help="Set the number of virtual CPUs.")
@click.option("--mem", metavar="SIZE", help="Set the memory (e.g. 2048 or 4G).")
@click.option("-a", "add", metavar="SIZE[,SIZE...]",
              help="Add new disks of these sizes in vm.storage.")
@click.option("-d", "detach", metavar="DISK[,DISK...]",
              help="Remove disks (e.g. vdb) from the VM, keeping their volumes.")
@click.option("-p", "purge", metavar="DISK[,DISK...]",
              help="Remove disks from the VM and delete their volumes.")
@click.option("--resize", metavar="DISK=SIZE[,...]", help="Grow disks, e.g. vda=40G.")
def cli(noderange: str | None, cpus: str | None, mem: str | None, add: str | None,
        detach: str | None, purge: str | None, resize: str | None) -> int:
    """Change the configuration of virtual machines; the changes take effect
    the next time each VM starts."""
    if not noderange:
        raise click.UsageError("chvm: a noderange is required")
    args = args_of([("--cpus", cpus), ("--mem", mem), ("-a", add), ("-d", detach),
                    ("-p", purge), ("--resize", resize)])
    return send(Request("chvm", noderange=noderange, args=args))


main = main_for(cli)

if __name__ == "__main__":
    main()
