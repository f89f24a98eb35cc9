"""restorexCATdb — load every DIR/<table>.csv in one transaction."""

from __future__ import annotations

import os

import click

from xcatpy.cli._common import command, main_for, send
from xcatpy.cli.tabrestore import multi_request, read_text, table_of
from xcatpy.errors import CSVFormatError

LOG_PREFIXES = ("auditlog", "eventlog")


@command("restorexCATdb")
@click.option("-a", "--all", "all_", is_flag=True, help="Also restore auditlog and eventlog.")
@click.option("-b", "--binary", is_flag=True, help="Not supported: restores read CSV files.")
@click.option("-V", "--verbose", is_flag=True, help="Name each table as it is loaded.")
@click.option("-p", "--path", "path", metavar="DIR", help="Directory holding the .csv files.")
def cli(all_: bool, binary: bool, verbose: bool, path: str | None) -> int:
    """Replace each table that has a DIR/<table>.csv file with that file's rows.

    Every file is checked before anything is written, and all tables are
    loaded in one transaction.  Files from a real xCAT node load too: tables
    and columns this schema lacks are skipped with a warning.
    """
    if binary:
        click.echo("Error: binary restores (-b) are not supported; restore from the CSV "
                   "files of dumpxCATdb.", err=True)
        return 1
    if not path:
        click.echo("Error: -p with path to database files is required", err=True)
        return 1
    if not os.path.isdir(path):
        click.echo("Error: Input path must exist", err=True)
        return 1
    sections: list[tuple[str, str]] = []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if not name.endswith(".csv") or not os.path.isfile(full):
            continue
        if not all_ and name.startswith(LOG_PREFIXES):
            if verbose:
                click.echo(f"Skipping {name}")
            continue
        try:
            sections.append((table_of(name), read_text(full)))
        except OSError as exc:
            click.echo(f"Error: Unable to open {full} for reading: {exc.strerror}", err=True)
            return 1
        except CSVFormatError as exc:
            click.echo(f"Error: {name}: {exc}", err=True)
            return 1
    if not sections:
        click.echo(f"Error: no table files (*.csv) in {path}", err=True)
        return 1
    request = multi_request(sections, ignore_unknown=True, skiptables=True, verbose=verbose)
    code = send(request)
    if code:
        return code
    click.echo("Restore of Database Complete.")
    return 0


main = main_for(cli)
