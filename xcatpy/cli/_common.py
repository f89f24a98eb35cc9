"""Shared pieces of every click command: help/version flags, exit codes, sending."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import click

from xcatpy import __version__
from xcatpy.protocol import Request, Response

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


def version_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.version_option(
        __version__, "-v", "--version", message="Version " + "%(version)s"
    )(func)


def _show_help(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(ctx.get_help(), color=ctx.color)
        ctx.exit(0)


def question_help(func: Callable[..., Any]) -> Callable[..., Any]:
    """xCAT also takes ``-?`` for help; accepted, but not listed."""
    return click.option(
        "-?", "question_help", is_flag=True, expose_value=False, is_eager=True,
        hidden=True, callback=_show_help,
    )(func)


def command(name: str, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """A click command with xCAT's -h/-?/--help and -v/--version flags."""

    def wrap(func: Callable[..., Any]) -> click.Command:
        return click.command(name, context_settings=CONTEXT_SETTINGS, **kwargs)(
            question_help(version_option(func))
        )

    return wrap


def main_for(cmd: click.Command) -> Callable[[], NoReturn]:
    """The console-script entry point: usage errors exit 1, as xCAT's do."""

    def main() -> NoReturn:
        args = sys.argv[1:]
        try:
            rv = cmd.main(args=args, prog_name=cmd.name, standalone_mode=False)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
            sys.exit(1)
        except click.UsageError as exc:
            exc.show()
            sys.exit(1)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)

    return main


def _prepare(request: Request) -> Request:
    """Fill in what xCAT's client always sends: cwd and the XCAT_* environment."""
    if request.cwd is None:
        request.cwd = os.getcwd()
    for k, v in os.environ.items():
        if k.startswith("XCAT_"):
            request.environment.setdefault(k, v)
    return request


def send(request: Request) -> int:
    """Submit ``request``, render its responses, return the exit code."""
    from xcatpy.cli.render import render
    from xcatpy.client import submit
    from xcatpy.errors import XcatError

    try:
        return render(submit(_prepare(request)))
    except XcatError as exc:
        # Reaching the daemon failed (or bypass could not open the store):
        # one clear line, not a traceback.
        click.echo(f"Error: {exc.message}", err=True)
        return exc.exit_code


def collect(request: Request) -> tuple[list[Response], int]:
    """Submit ``request`` and gather its responses (for client-side tools like tabedit)."""
    from xcatpy.client import submit
    from xcatpy.errors import XcatError
    from xcatpy.protocol import error

    _prepare(request)
    code = 0
    out: list[Response] = []
    try:
        for resp in submit(request):
            out.append(resp)
            code |= resp.errorcode
    except XcatError as exc:
        out.append(error(exc.message, errorcode=exc.exit_code))
        code |= exc.exit_code
    return out, code


def piped_stdin() -> str | None:
    """Standard input when it is piped, else None (as xCAT's client does)."""
    if sys.stdin is None or sys.stdin.isatty():
        return None
    return sys.stdin.read()


def args_of(pairs: Iterable[tuple[str, Any]]) -> list[str]:
    """Rebuild an argument list from parsed options: (flag, value) pairs.

    ``value`` True → the flag alone; False/None → omitted; a string → flag
    then value; a tuple → the flag repeated for each item.
    """
    out: list[str] = []
    for flag, value in pairs:
        if value is True:
            out.append(flag)
        elif value is None or value is False:
            continue
        elif isinstance(value, (tuple, list)):
            for item in value:
                out.extend([flag, str(item)])
        else:
            out.extend([flag, str(value)])
    return out
