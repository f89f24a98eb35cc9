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

_HELP = ("-h", "-?", "--help")


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


# xCAT parses the options of all four commands with one option table and then
# says which ones a command cannot use; every command accepts them all so that
# those messages come from the server.  Options a command does not document
# are hidden from its --help.
# (names, kind, {command: help}); kind: "flag", "value", "multi" or "optional".
_OPTIONS: tuple[tuple[tuple[str, ...], str, dict[str, str]], ...] = (
    (("-t",), "value", {
        "lsdef": "Comma-separated object types (default node).",
        "mkdef": "Object type (default node).", "chdef": "Object type (default node).",
        "rmdef": "Comma-separated object types (default node)."}),
    (("-o",), "value", {c: "Comma-separated object names." for c in
                        ("lsdef", "mkdef", "chdef", "rmdef")}),
    (("-n",), "value", {"chdef": "Rename the one object given."}),
    (("-l", "--long"), "flag", {"lsdef": "List complete definitions."}),
    (("-s", "--short"), "flag", {"lsdef": "List only object names."}),
    (("-a", "--all"), "flag", {"lsdef": "All definitions of every type.",
                               "rmdef": "Remove every definition (needs -f)."}),
    (("-z", "--stanza"), "flag", {"lsdef": "Output in stanza format.",
                                  "mkdef": "Read stanza definitions from stdin.",
                                  "chdef": "Read stanza definitions from stdin."}),
    (("-i",), "value", {"lsdef": "Comma-separated attributes to show."}),
    (("-c", "--compress"), "flag", {"lsdef": "'name: attr=value' lines (with -i)."}),
    (("-w",), "multi", {
        "lsdef": "Select objects: ==, !=, =~, !~ (repeatable).",
        "mkdef": "Selection for a dynamic group: ==, !=, =~, !~ (repeatable).",
        "chdef": "Selection for a group: ==, !=, =~, !~ (repeatable)."}),
    (("-d", "--dynamic"), "flag", {"mkdef": "Create a dynamic group (with -w).",
                                   "chdef": "Change a dynamic group (with -w)."}),
    (("-f", "--force"), "flag", {"mkdef": "Replace definitions that exist.",
                                 "rmdef": "Confirm -a."}),
    (("-p", "--plus"), "flag", {"chdef": "Add the values to list attributes."}),
    (("-m", "--minus"), "flag", {"chdef": "Remove the values from list attributes."}),
    (("-S",), "flag", {"lsdef": "Include hidden nodes."}),
    (("--osimage",), "flag", {"lsdef": "Show each node's osimage attributes."}),
    (("--nics",), "flag", {"lsdef": "Show each node's nic attributes."}),
    (("-u",), "flag", {"mkdef": "Fill in osimage attributes.",
                       "chdef": "Fill in osimage attributes."}),
    (("-C", "--cleanup"), "flag", {"rmdef": "Also run 'nodeset offline' on the nodes."}),
    (("-x", "--xml"), "flag", {}),
    (("--nocache",), "flag", {}),
    (("-V", "--verbose"), "flag", {
        "lsdef": "Show the table each value comes from.", "mkdef": "Verbose output.",
        "chdef": "Verbose output.", "rmdef": "List the objects removed."}),
    (("--template",), "optional", {
        "lsdef": "List the object definition templates (all of the type without NAME).",
        "mkdef": "Take unset attributes from this template or object."}),
)


def def_options(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Every *def option, documented where command ``name`` uses it."""

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        for names, kind, helps in reversed(_OPTIONS):
            dest = "opt_" + names[-1].lstrip("-").replace("-", "_")
            text = helps.get(name)
            kw: dict[str, Any] = {"help": text, "hidden": text is None}
            if kind == "flag":
                kw["is_flag"] = True
            elif kind == "multi":
                kw.update(multiple=True, metavar="ATTR<op>VAL")
            elif kind == "optional":
                kw.update(is_flag=False, flag_value="", default=None, metavar="[NAME]")
            else:
                kw["metavar"] = {"-t": "TYPES", "-o": "NAMES", "-n": "NAME"}.get(
                    names[0], "ATTRS")
            func = click.option(*names, dest, **kw)(func)
        return func

    return wrap


@def_command("lsdef")
@def_options("lsdef")
@click.argument("noderange", nargs=-1)
def cli(**_options: Any) -> int:
    """List object definitions.

    With -t TYPE and -h, list the attributes of the type instead.
    """
    return forward("lsdef")


main = main_for(cli)
