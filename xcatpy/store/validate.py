"""Checks on values before they are written, whichever command writes them.

:func:`check_rows` runs at the start of every bulk write in
``xcatpy.store.rows`` (``upsert`` and ``insert_rows``), before anything
reaches the database, so chtab, tabch, tabrestore, tabedit, restorexCATdb and
the object commands all refuse the same bad values with the same message.
Each table with checks has one entry in :data:`VALIDATORS`; a validator gets
the columns being written (a whole row, or only the columns a partial update
sets) and raises a ``StoreError`` naming column and value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from xcatpy import policy

Validator = Callable[[Mapping[str, str | None]], None]

VALIDATORS: dict[str, Validator] = {
    "policy": policy.validate_row,
}
"""Table name -> the check for one row of it."""


def check_rows(table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Raise a ``StoreError`` for the first row of ``rows`` that ``table`` refuses.

    Values are compared as the text they will be stored as (None stays NULL).
    Tables without a validator accept anything.
    """
    check = VALIDATORS.get(table)
    if check is None:
        return
    for row in rows:
        check({col: None if value is None else str(value) for col, value in row.items()})
