"""tabch — add, change or delete one row of any table (xCAT's other name for chtab)."""

from __future__ import annotations

from xcatpy.cli._common import main_for
from xcatpy.cli.chtab import change_command

cli = change_command("tabch")
main = main_for(cli)
