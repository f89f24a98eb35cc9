"""reventlog — show or clear the nodes' hardware event logs."""

from __future__ import annotations

from xcatpy.cli._hardware import hardware_command

cli, main = hardware_command(
    "reventlog",
    """Show or clear the nodes' hardware event logs.

    N shows the N most recent entries, all every entry, clear empties the log.
    """,
    "{N|all|clear}",
    flags=(
        ('-s', 'Show the newest entries first.'),
    ),
)
