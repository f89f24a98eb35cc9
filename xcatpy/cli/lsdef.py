"""lsdef — list object definitions (nodes, groups, osimages, networks, site, ...).

xCAT's object commands (lsdef, mkdef, chdef, rmdef) send the user's whole
command line to the server as arguments, noderange included, and the server
parses it; so do these.  click only documents the options for ``--help`` and
rejects what no *def command accepts.  :func:`def_command` is the shared piece
the four modules build on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from xcatpy.cli._common import command, main_for, piped_stdin, send
from xcatpy.protocol import Request

_HELP = ("-h", "--help")


class DefCommand(click.Command):
    """A click command that keeps the raw argument list for the server.

    ``-h`` together with ``-t`` is not a request for this usage text but for
    the attribute list of the object types, which the server knows: the flag
    is then passed through instead of being handled by click.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        raw = list(args)
        ctx.meta["xcat_argv"] = raw
        if any(a in _HELP for a in raw) and _has_type(raw):
            ctx.meta["xcat_type_help"] = True
            args = [a for a in raw if a not in _HELP]
        return super().parse_args(ctx, args)


def _has_type(argv: Sequence[str]) -> bool:
    for a in argv:
        if a == "--":
            return False
        if a.startswith("-t") and not a.startswith("--"):
            return True
    return False


def _has_short_flag(argv: Sequence[str], flag: str, long: str) -> bool:
    """True when ``-<flag>`` (alone or bundled) or ``--<long>`` is on the command line."""
    value_opts = set("itonw")  # options whose argument may follow in the same word
    for a in argv:
        if a == "--":
            return False
        if a == f"--{long}":
            return True
        if a.startswith("-") and not a.startswith("--"):
            for ch in a[1:]:
                if ch == flag:
                    return True
                if ch in value_opts:
                    break
    return False


def def_command(name: str) -> Callable[[Callable[..., Any]], click.Command]:
    """``command(name)`` for an object command: raw argv kept, -h with -t passed on."""
    return command(name, cls=DefCommand)


def forward(name: str, *, stanza_stdin: bool = False) -> int:
    """Send the current command line to the server; stdin too when ``-z`` asks for it."""
    ctx = click.get_current_context()
    argv = list(ctx.meta.get("xcat_argv", []))
    stdin = None
    if stanza_stdin and _has_short_flag(argv, "z", "stanza"):
        stdin = piped_stdin()
    return send(Request(name, args=argv, stdin=stdin))


def template_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--template",
        "template",
        is_flag=False,
        flag_value="",
        default=None,
        metavar="[NAME]",
        help="Use the object definition templates (all of the type when no name is given).",
    )(func)


@def_command("lsdef")
@click.option("-t", "types", metavar="TYPES", help="Comma-separated object types (default node).")
@click.option("-o", "objects", metavar="NAMES", help="Comma-separated object names.")
@click.option("-l", "--long", is_flag=True, help="List complete definitions.")
@click.option("-s", "--short", is_flag=True, help="List only object names.")
@click.option("-a", "--all", "all_", is_flag=True, help="All definitions of every type.")
@click.option("-z", "--stanza", is_flag=True, help="Output in stanza format.")
@click.option("-i", "attrs", metavar="ATTRS", help="Comma-separated attributes to show.")
@click.option("-c", "--compress", is_flag=True, help="'name: attr=value' lines (with -i).")
@click.option("-w", "where", multiple=True, metavar="ATTR<op>VAL",
              help="Select objects: ==, !=, =~, !~ (repeatable).")
@click.option("-S", "hidden", is_flag=True, help="Include hidden nodes.")
@click.option("--osimage", is_flag=True, help="Show each node's osimage attributes.")
@click.option("--nics", is_flag=True, help="Show each node's nic attributes.")
@click.option("--nocache", is_flag=True, help="Accepted for compatibility.")
@click.option("-V", "--verbose", is_flag=True, help="Show the table each value comes from.")
@template_option
@click.argument("noderange", nargs=-1)
def cli(**_options: Any) -> int:
    """List xCAT object definitions.

    With -t TYPE and -h, list the attributes of the type instead.
    """
    return forward("lsdef")


main = main_for(cli)
