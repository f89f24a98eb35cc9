"""``python -m tests.bmcsim``: run a farm of simulated BMCs (see ``--help``)."""

import sys

from tests.bmcsim.server import main

sys.exit(main())
