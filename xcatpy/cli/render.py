"""The one place responses become terminal lines and an exit code.

As xCAT's client: per-node data is ``node: value`` (or ``node: desc: value``)
on stdout, errors are ``Error: ...`` / ``node: Error: ...`` on stderr,
warnings ``Warning: ...`` on stderr, info and free data on stdout; the exit
code is the bitwise OR of every error code received.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO

from xcatpy.protocol import Response


def format_response(resp: Response) -> str:
    """The text line for one response (without newline)."""
    if resp.kind == "data":
        body = f"{resp.desc}: {resp.text}" if resp.desc else resp.text
        return f"{resp.node}: {body}" if resp.node else body
    if resp.kind == "error":
        return f"{resp.node}: Error: {resp.text}" if resp.node else f"Error: {resp.text}"
    if resp.kind == "warning":
        return f"{resp.node}: Warning: {resp.text}" if resp.node else f"Warning: {resp.text}"
    return resp.text


def render(
    responses: Iterable[Response], out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Write ``responses`` as they arrive; return the OR of their error codes."""
    out = out or sys.stdout
    err = err or sys.stderr
    code = 0
    for resp in responses:
        line = format_response(resp)
        if resp.kind in ("error", "warning"):
            out.flush()
            err.write(line + "\n")
            err.flush()
            code |= resp.errorcode
        else:
            out.write(line + "\n")
    out.flush()
    return code
