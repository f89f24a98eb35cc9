"""rbeacon — turn the locator light of nodes on, off or blinking."""

from __future__ import annotations

from xcatpy.cli._hardware import hardware_command

cli, main = hardware_command(
    "rbeacon",
    """Turn the locator light of nodes on, off or blinking.

    stat shows the current state of the identify light.
    """,
    "{on|off|blink|stat}",
)
