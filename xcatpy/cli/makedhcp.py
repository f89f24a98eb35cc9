"""makedhcp — write the DHCP server configuration (Kea or ISC dhcpd) from the tables."""

from __future__ import annotations

import click

from xcatpy.cli._common import args_of, command, main_for, send
from xcatpy.protocol import Request


@command("makedhcp", options_metavar="[OPTIONS] [noderange]")
@click.option("-n", "new", is_flag=True,
              help="Write a new configuration: the subnets of the networks table, "
                   "no reservation kept.")
@click.option("-a", "every", is_flag=True, help="All nodes that have a MAC address.")
@click.option("-d", "delete", is_flag=True, help="Delete the nodes' reservations.")
@click.option("-q", "query", is_flag=True, help="Show the nodes' reservations.")
@click.argument("noderange", required=False)
def cli(new: bool, every: bool, delete: bool, query: bool, noderange: str | None) -> int:
    """Add, replace, delete or show the DHCP reservations of the nodes in noderange.

    The backend is site.dhcpbackend: kea (default) or isc."""
    args = args_of([("-n", new), ("-a", every), ("-d", delete), ("-q", query)])
    return send(Request("makedhcp", noderange=noderange, args=args))


main = main_for(cli)
