"""tabprune — delete old auditlog/eventlog records, or every row of a table."""

from __future__ import annotations

import os

import click

from xcatpy.cli._common import args_of, collect, command, main_for, send
from xcatpy.cli.tabdump import with_environment
from xcatpy.protocol import Request


@command("tabprune")
@click.option("-a", "all_", is_flag=True, help="Remove every record.")
@click.option("-n", "--number", type=int, metavar="N", help="Remove the N oldest records.")
@click.option("-p", "--percent", type=int, metavar="P", help="Remove the oldest P per cent.")
@click.option("-i", "--recid", metavar="RECID", help="Remove the records below RECID.")
@click.option("-d", "--days", type=int, metavar="DAYS",
              help="Remove the records DAYS days old or older.")
@click.option("-V", "verbose", is_flag=True, help="Print the removed records as CSV.")
@click.option("-f", "filename", metavar="FILE", help="Write the removed records to FILE as CSV.")
@click.argument("table", required=False)
def cli(all_: bool, number: int | None, percent: int | None, recid: str | None,
        days: int | None, verbose: bool, filename: str | None, table: str | None) -> int:
    """Delete records from auditlog or eventlog (or, with -a, from any TABLE)."""
    args = args_of([("-a", all_), ("-n", number), ("-p", percent), ("-i", recid),
                    ("-d", days)])
    if table is not None:
        args.insert(0, table)
    if filename is None:
        return send(Request("tabprune", args=args_of([("-V", verbose)]) + args))
    from xcatpy.cli.render import render

    # open the archive first: records must not be pruned when they cannot be kept
    existed = os.path.exists(filename)
    try:
        fh = open(filename, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
    except OSError as exc:
        click.echo(f"Error: cannot write {filename}: {exc.strerror}", err=True)
        return 1
    with fh:
        responses, code = collect(with_environment(Request("tabprune", args=["-V", *args])))
        for resp in responses:
            if resp.kind == "data":
                fh.write(resp.text + "\n")
    render(r for r in responses if r.kind != "data")
    if code:
        if not existed:
            os.unlink(filename)
        return code
    click.echo(f"tabprune of {table} complete.")
    return 0


main = main_for(cli)
