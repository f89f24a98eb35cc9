"""makehosts — write the nodes' lines of the hosts file from the hosts table."""

from __future__ import annotations

import click

from xcatpy.cli._common import args_of, command, main_for, send
from xcatpy.protocol import Request


@command("makehosts", options_metavar="[OPTIONS] [noderange]")
@click.option("-n", "new", is_flag=True,
              help="Replace the whole file: localhost lines and the nodes' lines only.")
@click.option("-d", "delete", is_flag=True, help="Delete the nodes' lines.")
@click.option("-l", "long_first", is_flag=True, help="Put the long (domain) name first.")
@click.option("-f", "--hostsfile", metavar="FILE",
              help="Write FILE instead of site.hostsfile or XCATPY_ROOT/etc/hosts.")
@click.argument("noderange", required=False)
def cli(new: bool, delete: bool, long_first: bool, hostsfile: str | None,
        noderange: str | None) -> int:
    """Add or replace the hosts-file lines of the nodes in noderange (all nodes without one)
    from hosts.ip, hosts.hostnames and hosts.otherinterfaces."""
    args = args_of([("-n", new), ("-d", delete), ("-l", long_first), ("-f", hostsfile)])
    return send(Request("makehosts", noderange=noderange, args=args))


main = main_for(cli)
