"""rpower — control and query the power of nodes."""

from __future__ import annotations

from xcatpy.cli._hardware import hardware_command

cli, main = hardware_command(
    "rpower",
    """Control and query the power of nodes.

    Turn nodes on, off (hard or soft), reset, cycle or boot them, send an NMI,
    suspend or wake virtual machines, or report the power state (stat, state,
    status).
    """,
    "{on|off|softoff|reset|boot|cycle|stat|nmi|suspend|wake}",
)
