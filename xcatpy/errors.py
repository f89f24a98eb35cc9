"""The one exception hierarchy of xcatpy (stdlib only).

Every error a user can cause is an :class:`XcatError` with a message that names
what was wrong and an exit code.  Library code raises these; only the command
line layer turns them into ``Error: ...`` lines and exit codes.  Anything that
is not an :class:`XcatError` is a bug and keeps its traceback.
"""

from __future__ import annotations


class XcatError(Exception):
    """Base of all user-facing errors."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(XcatError):
    """Bad options or arguments to a command."""


class NoderangeError(XcatError):
    """A noderange that cannot be parsed; ``part`` is the offending fragment."""

    def __init__(self, message: str, part: str = "") -> None:
        super().__init__(message)
        self.part = part


class UnknownNodesError(XcatError):
    """Names in a noderange that are neither nodes nor groups."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = list(missing)
        super().__init__(
            "Invalid nodes and/or groups in noderange: " + ",".join(self.missing)
        )


class RegexValueError(XcatError):
    """A table value in regex form (``/p/r/`` or ``|p|r|``) that cannot be used."""


class StoreError(XcatError):
    """A problem with the database or with data written to it."""


class NotInitialisedError(StoreError):
    """The management node's database has not been created yet."""


class UnknownTableError(StoreError):
    def __init__(self, table: str) -> None:
        self.table = table
        super().__init__(f"{table} is not a valid table name")


class UnknownColumnError(StoreError):
    def __init__(self, table: str, column: str) -> None:
        self.table = table
        self.column = column
        super().__init__(f"{column} is not a valid column of table {table}")


class CSVFormatError(StoreError):
    """Malformed tabdump/tabrestore CSV; ``line`` is 1-based."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        where = f"line {line}: " if line is not None else ""
        super().__init__(where + message)


class DuplicateKeyError(StoreError):
    """Two rows with the same key where the key must be unique."""


class ObjectError(XcatError):
    """A definition (lsdef/mkdef/chdef/rmdef) that cannot be applied."""
