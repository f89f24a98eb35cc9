"""The manual: a page for every command and every table, current and clean.

* every console script has ``man/man1/<name>.1`` and every table of the
  schema ``man/man5/<table>.5``;
* the generated table pages match the schema (``tools/genman.py --check``);
* each command page documents exactly the options its command accepts;
* every page formats without a single warning, with ``man --warnings`` and
  ``groff -ww`` (the Debian packages ``man-db`` and ``groff-base``); the
  check is skipped, saying so, where neither is installed.
"""

from __future__ import annotations

import configparser
import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from xcatpy.store.schema import TABLES

ROOT = Path(__file__).resolve().parents[1]
MAN1 = ROOT / "man" / "man1"
MAN5 = ROOT / "man" / "man5"
GENMAN = ROOT / "tools" / "genman.py"


def console_scripts() -> dict[str, str]:
    """name -> "module:function" from setup.cfg."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    out = {}
    for line in cfg["options.entry_points"]["console_scripts"].strip().splitlines():
        name, _, target = line.partition("=")
        out[name.strip()] = target.strip()
    return out


SCRIPTS = console_scripts()
PAGES = sorted(MAN1.glob("*.1")) + sorted(MAN5.glob("*.5"))


def section(text: str, title: str) -> str:
    """The body of ``.SH title`` up to the next ``.SH``."""
    m = re.search(rf"^\.SH {re.escape(title)}\n(.*?)(?=^\.SH |\Z)", text, re.M | re.S)
    return m.group(1) if m else ""


# -- every command and table has its page --------------------------------------


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_command_has_a_page(name: str) -> None:
    assert (MAN1 / f"{name}.1").is_file(), f"man/man1/{name}.1 is missing"


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_table_has_a_page(table: str) -> None:
    assert (MAN5 / f"{table}.5").is_file(), (
        f"man/man5/{table}.5 is missing: run python tools/genman.py"
    )


def test_generated_pages_are_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(GENMAN), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr


def test_policy_page_lists_every_column() -> None:
    """policy.5 is written by hand, so nothing else keeps its columns in step."""
    body = section((MAN5 / "policy.5").read_text(), "COLUMNS")
    documented = re.findall(r"^\.TP\n\.BR? (\S+)", body, re.M)
    assert documented == list(TABLES["policy"].columns)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_header_names_the_page(page: Path) -> None:
    text = page.read_text()
    name, _, sec = page.name.rpartition(".")
    first = text.splitlines()[0]
    assert first.startswith(f".TH {name.upper()} {sec} "), first
    assert section(text, "NAME").startswith(f"{name} \\- ")


# -- the pages agree with the commands ---------------------------------------

_OPTION = re.compile(r"(?<![\w\\-])((?:\\-){1,2}[A-Za-z?](?:[A-Za-z0-9]|\\-)*)")


def command_of(name: str) -> click.Command:
    module = SCRIPTS[name].partition(":")[0]
    cmd = importlib.import_module(module).cli
    assert isinstance(cmd, click.Command)
    return cmd


def command_options(cmd: click.Command) -> tuple[set[str], set[str]]:
    """(options shown in --help, every option accepted), help options included.

    A hidden option (xCAT's ``-?``, or an option that only exists so that the
    server can say the command does not take it) may be documented, but need
    not be.
    """
    shown = set((cmd.context_settings or {}).get("help_option_names", ["--help"]))
    hidden: set[str] = set()
    for param in cmd.params:
        if isinstance(param, click.Option):
            (hidden if param.hidden else shown).update([*param.opts, *param.secondary_opts])
    return shown, shown | hidden


def documented_options(text: str) -> set[str]:
    """Options named in the tags (the line after ``.TP``) of OPTIONS."""
    tags = re.findall(r"^\.TP\n(.*)$", section(text, "OPTIONS"), re.M)
    return {m.replace("\\-", "-") for tag in tags for m in _OPTION.findall(tag)}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_page_documents_the_options_of_its_command(name: str) -> None:
    page = MAN1 / f"{name}.1"
    if not page.is_file():
        pytest.skip(f"no page for {name} (reported by test_every_command_has_a_page)")
    shown, accepted = command_options(command_of(name))
    documented = documented_options(page.read_text())
    assert sorted(shown - documented) == [], f"{page.name} does not document them"
    assert sorted(documented - accepted) == [], f"{name} does not accept them"


# -- the pages format cleanly --------------------------------------------------


def formatters() -> list[tuple[str, list[str]]]:
    out = []
    if shutil.which("man"):
        out.append(("man", ["man", "--warnings", "-l"]))
    if shutil.which("groff"):
        out.append(("groff", ["groff", "-man", "-Tutf8", "-ww", "-z"]))
    return out


FORMATTERS = formatters()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_formats_without_warnings(page: Path) -> None:
    if not FORMATTERS:
        pytest.skip("neither man nor groff is installed (apt-get install man-db groff-base)")
    # LC_ALL=C: always present, so man never warns that it cannot set the locale
    env = {**os.environ, "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80", "LC_ALL": "C"}
    for label, argv in FORMATTERS:
        proc = subprocess.run([*argv, str(page)], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, f"{label}: {proc.stderr}"
        assert proc.stderr == "", f"{label} warns about {page.name}:\n{proc.stderr}"
        if label == "man":
            assert "NAME" in proc.stdout
