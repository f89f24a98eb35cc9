"""rsetboot — set or show the device nodes boot from next."""

from __future__ import annotations

from xcatpy.cli._hardware import hardware_command

cli, main = hardware_command(
    "rsetboot",
    """Set or show the device nodes boot from next.

    net, hd, cd, setup (firmware setup) or def (no override); stat shows the
    current choice.
    """,
    "{net|hd|cd|def|setup|stat}",
    flags=(
        ('-u', 'Boot in UEFI mode.'),
        ('-p', 'Keep the choice for every boot, not only the next.'),
    ),
)
