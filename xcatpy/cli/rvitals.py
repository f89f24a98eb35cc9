"""rvitals — read sensor values from the nodes' BMCs."""

from __future__ import annotations

from xcatpy.cli._hardware import hardware_command

cli, main = hardware_command(
    "rvitals",
    """Read sensor values from the nodes' BMCs.

    Temperatures, voltages, fan speeds, power and energy, LEDs; each line is
    Sensor: value unit.  all when none is given.
    """,
    "[temp|voltage|fanspeed|power|leds|energy|all ...]",
)
