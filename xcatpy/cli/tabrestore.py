"""tabrestore — replace (or add to) a table's rows from a CSV file."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence

import click

from xcatpy.cli._common import command, main_for, send
from xcatpy.protocol import Request

USAGE = (
    "Usage: tabrestore <tablename>.csv\n"
    "       tabrestore -a <tablename>.csv\n"
    "       tabrestore [-?|-h|--help]\n"
    "       tabrestore [-v|--version]"
)


def table_of(path: str) -> str:
    """The table a file restores into: its base name up to the first dot."""
    return os.path.basename(path).split(".", 1)[0]


def read_text(path: str) -> str:
    """The file as text, strictly UTF-8.

    Raises OSError, or CSVFormatError naming the line of a byte that is not
    UTF-8 (so the daemon never receives undecodable text).
    """
    from xcatpy.store.csvio import decode  # stdlib only; loads no database code

    with open(path, "rb") as fh:
        return decode(fh.read())


def multi_request(sections: Sequence[tuple[str, str]], *, append: bool = False,
                  ignore_unknown: bool = False, skiptables: bool = False,
                  verbose: bool = False) -> Request:
    """One tabrestore request restoring every (table, csv text) in one transaction.

    The encoding is described in :mod:`xcatpy.commands.tables`.
    """
    boundary = uuid.uuid4().hex
    while any(boundary in text for _, text in sections):
        boundary = uuid.uuid4().hex
    args = ["-a"] if append else []
    args += ["-u"] if ignore_unknown else []
    args += ["-s"] if skiptables else []
    args += ["-V"] if verbose else []
    args += ["--boundary", boundary]
    parts: list[str] = []
    for table, text in sections:
        args += ["-t", table]
        parts.append(f"--{boundary}\n{text}")
        if text and not text.endswith("\n"):
            parts.append("\n")
    return Request("tabrestore", args=args, stdin="".join(parts))


@command("tabrestore")
@click.option("-a", "--addrows", is_flag=True, help="Add the rows instead of replacing the table.")
@click.argument("file", required=False)
def cli(addrows: bool, file: str | None) -> int:
    """Load FILE (TABLE.csv, as tabdump writes it) into TABLE."""
    if not file:
        click.echo(USAGE)
        return 2
    from xcatpy.errors import CSVFormatError

    try:
        text = read_text(file)
    except OSError:
        click.echo(f"Error: Unable to open {file} for reading.", err=True)
        return 3
    except CSVFormatError as exc:
        click.echo(f"Error: {file}: {exc}", err=True)
        return 1
    args = (["-a"] if addrows else []) + [table_of(file)]
    return send(Request("tabrestore", args=args, stdin=text))


main = main_for(cli)
