"""Send a request and yield its responses.

Commands call :func:`submit`.  With ``XCATBYPASS=YES`` (as in xCAT) the
request is handled in this process, against the database, by the same
handler the daemon would run; otherwise it goes to ``xcatd``.  Only stdlib
imports at module level: handlers, the store and SQLAlchemy load lazily,
and only on the in-process path.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator

from xcatpy.protocol import Request, Response

BYPASS_VALUES = frozenset({"1", "yes", "y", "true"})


def bypass_requested(env: dict[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("XCATBYPASS", "").strip().lower() in BYPASS_VALUES


def submit(request: Request) -> Iterator[Response]:
    """Run ``request`` and yield each response as soon as it exists."""
    # The daemon transport arrives with xcatd; until then every command runs
    # in-process, which is exactly what XCATBYPASS=YES selects.
    yield from run_local(request)


def run_local(request: Request) -> Iterator[Response]:
    from xcatpy.dispatch import run_request
    from xcatpy.paths import Paths

    if request.username is None:
        request.username = getpass.getuser()
    yield from run_request(request, Paths.from_env())
