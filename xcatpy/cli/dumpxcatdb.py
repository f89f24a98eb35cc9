"""dumpxCATdb — write every table to DIR/<table>.csv."""

from __future__ import annotations

import os

import click

from xcatpy.cli._common import collect, command, main_for
from xcatpy.cli.render import render
from xcatpy.cli.tabdump import with_environment
from xcatpy.protocol import Request


@command("dumpxCATdb")
@click.option("-a", "--all", "all_", is_flag=True, help="Include auditlog and eventlog.")
@click.option("-b", "--binary", is_flag=True, help="Not supported: the dump is always CSV.")
@click.option("-V", "--verbose", is_flag=True, help="Name each table as it is written.")
@click.option("-p", "--path", "path", metavar="DIR", help="Directory for the files (created).")
def cli(all_: bool, binary: bool, verbose: bool, path: str | None) -> int:
    """Dump every table, as tabdump would, into DIR/<table>.csv."""
    if binary:
        click.echo("Error: binary dumps (-b) are not supported; the CSV dump restores "
                   "into any database engine.", err=True)
        return 1
    if not path:
        click.echo("Error: Requires -p with path to directory to hold db files.", err=True)
        return 1
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        click.echo(f"Error: cannot create {path}: {exc.strerror}", err=True)
        return 1
    args = ["--dump-all"] + (["--with-logs"] if all_ else []) + (["-V"] if verbose else [])
    responses, code = collect(with_environment(Request("tabdump", args=args)))
    render(r for r in responses if r.kind != "data")
    if code:
        return code
    for resp in responses:
        if resp.kind != "data" or not resp.desc:
            continue
        target = os.path.join(path, f"{resp.desc}.csv")
        try:
            with open(target, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(resp.text + "\n")
        except OSError as exc:
            click.echo(f"Error: cannot write {target}: {exc.strerror}", err=True)
            return 1
        if verbose:
            click.echo(f"Dumping {resp.desc}")
    click.echo("Backup Complete.")
    return 0


main = main_for(cli)
