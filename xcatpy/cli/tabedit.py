"""tabedit — edit a table in $TABEDITOR / $EDITOR / vi, then load it back."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import click

from xcatpy.cli._common import collect, command, main_for
from xcatpy.cli.render import render
from xcatpy.cli.tabdump import with_environment, write_data
from xcatpy.cli.tabrestore import read_text
from xcatpy.errors import CSVFormatError
from xcatpy.protocol import Request

LOG_TABLES = ("auditlog", "eventlog")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _kept(path: Path) -> None:
    click.echo(f"The table was not changed; your edited file is kept at {path}", err=True)


@command("tabedit")
@click.argument("table", required=False)
def cli(table: str | None) -> int:
    """Edit TABLE as CSV in an editor and save it back if it changed."""
    if not table:
        click.echo("Usage: tabedit <tablename>\n       tabedit [-? | -h | --help]", err=True)
        return 1
    if table in LOG_TABLES:
        click.echo("Error: The auditlog and eventlog tables may not be edited. Editing will "
                   "cause index regeneration. Use the tabprune command.", err=True)
        return 1
    responses, code = collect(with_environment(Request("tabdump", args=[table])))
    if code:
        render(r for r in responses if r.kind != "data")
        return code
    workdir = Path(tempfile.mkdtemp(prefix="tabedit."))
    path = workdir / f"{table}.csv"
    write_data(responses, str(path))
    before = _digest(path)
    editor = os.environ.get("TABEDITOR") or os.environ.get("EDITOR") or "vi"
    try:
        status = subprocess.call([*shlex.split(editor), path.name], cwd=workdir)
    except (OSError, ValueError) as exc:
        click.echo(f"Error: cannot run the editor {editor!r}: {exc}", err=True)
        shutil.rmtree(workdir, ignore_errors=True)
        return 1
    if status != 0:
        click.echo(f"Error: the editor {editor!r} exited with status {status}.", err=True)
        _kept(path)
        return 1
    if _digest(path) == before:
        click.echo("No file modifications detected, not restoring.")
        shutil.rmtree(workdir, ignore_errors=True)
        return 0
    try:
        text = read_text(str(path))
    except CSVFormatError as exc:
        click.echo(f"Error: {exc}", err=True)
        _kept(path)
        return 1
    responses, code = collect(with_environment(Request("tabrestore", args=[table], stdin=text)))
    render(responses)
    if code:
        _kept(path)
        return code
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


main = main_for(cli)
