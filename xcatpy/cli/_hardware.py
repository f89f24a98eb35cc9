"""One click command per hardware verb: a noderange, the action words, a few flags.

The server parses the action (so a usage error looks the same whichever way
the request arrives); the client only checks that a noderange was given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import click

from xcatpy.cli._common import args_of, command, main_for, send
from xcatpy.protocol import Request

JSON_HELP = "Print one JSON object per node, one per line (for scripts)."


def hardware_command(
    name: str,
    doc: str,
    words_metavar: str,
    flags: tuple[tuple[str, str], ...] = (),
) -> tuple[click.Command, Callable[[], NoReturn]]:
    """(click command, console entry point) for ``name``.

    ``flags`` are extra one-letter switches passed through: (flag, help).
    """

    def body(json_out: bool, words: tuple[str, ...], **switches: Any) -> int:
        if not words:
            raise click.UsageError(f"{name}: a noderange is required")
        pairs = [(f"-{k[-1]}", v) for k, v in switches.items()]
        args = list(words[1:]) + args_of(pairs) + (["--json"] if json_out else [])
        return send(Request(name, noderange=words[0], args=args))

    func: Callable[..., Any] = body
    func.__doc__ = doc
    func = click.argument("words", nargs=-1, metavar=f"<noderange> {words_metavar}")(func)
    func = click.option("--json", "json_out", is_flag=True, help=JSON_HELP)(func)
    for flag, text in flags:
        func = click.option(flag, f"switch_{flag[-1]}", is_flag=True, help=text)(func)
    cli = command(name, options_metavar="[OPTIONS]")(func)
    return cli, main_for(cli)
