"""mkvm — create virtual machines from the vm table."""

from __future__ import annotations

import click

from xcatpy.cli._common import args_of, command, main_for, send
from xcatpy.protocol import Request


@command("mkvm", options_metavar="[OPTIONS]")
@click.argument("noderange", required=False)
@click.option("-s", "size", metavar="SIZE[,SIZE...]",
              help="Create the disks named by vm.storage with these sizes (e.g. 20G).")
@click.option("--mem", metavar="SIZE", help="Memory, overriding vm.memory (e.g. 2048 or 4G).")
@click.option("--cpus", metavar="N", help="Virtual CPUs, overriding vm.cpus.")
@click.option("-f", "force", is_flag=True, help="Replace a VM that already exists.")
def cli(noderange: str | None, size: str | None, mem: str | None, cpus: str | None,
        force: bool) -> int:
    """Define virtual machines on their hypervisors (vm.host) from the vm, mac and
    nodetype tables, and keep the domain XML in kvm_nodedata."""
    if not noderange:
        raise click.UsageError("mkvm: a noderange is required")
    args = args_of([("-s", size), ("--mem", mem), ("--cpus", cpus), ("-f", force)])
    return send(Request("mkvm", noderange=noderange, args=args))


main = main_for(cli)

if __name__ == "__main__":
    main()
