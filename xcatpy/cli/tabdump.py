"""tabdump — print a table as CSV, list the tables, or describe them."""

from __future__ import annotations

import os
from collections.abc import Iterable

import click

from xcatpy.cli._common import args_of, collect, command, main_for, send
from xcatpy.protocol import Request, Response


def with_environment(request: Request) -> Request:
    """``request`` carrying the caller's XCAT_* variables, as ``send`` passes them."""
    request.environment.update({k: v for k, v in os.environ.items() if k.startswith("XCAT_")})
    return request


def write_data(responses: Iterable[Response], path: str) -> None:
    """Write the data lines of ``responses`` to ``path`` (raises OSError)."""
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for resp in responses:
            if resp.kind == "data":
                fh.write(resp.text + "\n")


@command("tabdump")
@click.option("-d", "describe", is_flag=True,
              help="Describe the tables, or the columns of TABLE, instead of dumping.")
@click.option("-f", "filename", metavar="FILE", help="Write the CSV to FILE.")
@click.option("-n", "--lines", "lines", type=int, metavar="N",
              help="Only the N most recent records of auditlog or eventlog.")
@click.option("-w", "where", multiple=True, metavar="ATTR<op>VALUE",
              help="Only rows that match (==, !=, <, <=, >, >=, =~, !~); repeatable.")
@click.argument("table", required=False)
def cli(describe: bool, filename: str | None, lines: int | None, where: tuple[str, ...],
        table: str | None) -> int:
    """Print TABLE in CSV form; with no TABLE, list the tables."""
    args = args_of([("-d", describe), ("-n", lines), ("-w", where)])
    if table is not None:
        args.append(table)
    if filename is None:
        return send(Request("tabdump", args=args))
    if lines is not None:
        click.echo("Error: You  cannot use the -n and -f flag together.", err=True)
        return 1
    if table is None:
        click.echo("Error: table name missing from the command input.", err=True)
        return 1
    from xcatpy.cli.render import render

    responses, code = collect(with_environment(Request("tabdump", args=args)))
    render(r for r in responses if r.kind != "data")
    if code:
        return code
    try:
        write_data(responses, filename)
    except OSError as exc:
        click.echo(f"Error: Error on tabdump of {table} to {filename}: {exc.strerror}", err=True)
        return 1
    return 0


main = main_for(cli)
