"""xCAT's table CSV: what ``tabdump`` writes and ``tabrestore`` reads.

The format, as xCAT writes it::

    #node,groups,status,...,comments,disable
    "n01","compute,all",,...,,

* the first line is the header: ``#`` then the column names joined by commas;
* each row has one field per column: a NULL is an empty field, any other value
  (the empty string included) is written between double quotes with inner
  quotes doubled; newlines and commas inside quotes are part of the value.

The reader is strict where a mistake would silently change data and lenient
where xCAT is, so files edited by hand or exported from a spreadsheet load:

* the header may lack the leading ``#`` and may quote its names (quotes are
  dropped, as xCAT does);
* an unquoted non-empty field is taken as written (xCAT accepts those too);
* whitespace after the last field of a line (a CRLF line end, trailing
  blanks) is ignored, as are blank lines and ``#`` comment lines between
  records (a data row never starts with ``#``: values are quoted);
* anything else that is not a well-formed record is a
  :class:`~xcatpy.errors.CSVFormatError` naming the 1-based line where the
  record starts: a wrong number of fields, a quote left open, text after a
  closing quote, a quote inside an unquoted field, a NUL character, or bytes
  that are not UTF-8.

A one-column row holding NULL would be an empty line, which the reader
skips; no xCAT table has a single column, so the case cannot arise in a dump.

Stdlib only, so a command-line front end may use :func:`decode` without
pulling in the database layer.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from xcatpy.errors import CSVFormatError, UnknownColumnError

Value = str | None

# A quoted field, unrolled so that long values do not backtrack: "..."" ..."
_QUOTED = re.compile(r'"([^"]*(?:""[^"]*)*)"')
_UNQUOTED = re.compile(r'[^,\n"]*')
_TRAILING_WS = re.compile(r"[ \t\r]*")
_BLANK_LINE = re.compile(r"[ \t\r]*(?:\n|\Z)")
_SURROGATE = re.compile("[\ud800-\udfff]")


class HeaderColumnError(UnknownColumnError):
    """The header names columns the table does not have (``columns``, in order)."""

    def __init__(self, table: str, columns: Sequence[str], line: int = 1) -> None:
        super().__init__(table, columns[0])
        self.columns = list(columns)
        self.line = line
        names = ", ".join(self.columns)
        noun = "column" if len(self.columns) == 1 else "columns"
        self.message = f"line {line}: {noun} {names} not in table {table}"
        self.args = (self.message,)


@dataclass
class CSVTable:
    """A parsed CSV file.

    ``columns`` are the header's columns that were kept, ``rows`` hold one
    value per kept column, ``lines`` the 1-based line where each row starts,
    ``dropped`` the header columns left out because the table lacks them
    (only with ``ignore_unknown``).
    """

    columns: list[str]
    rows: list[list[Value]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def records(self) -> Iterator[tuple[int, dict[str, Value]]]:
        """(line, {column: value}) for each row."""
        for line, row in zip(self.lines, self.rows, strict=True):
            yield line, dict(zip(self.columns, row, strict=True))


# -- writing ---------------------------------------------------------------


def quote(value: Value) -> str:
    """One field: empty for NULL, else the value quoted with inner quotes doubled."""
    if value is None:
        return ""
    return '"' + value.replace('"', '""') + '"'


def header_line(columns: Iterable[str]) -> str:
    return "#" + ",".join(columns)


def row_line(values: Iterable[Value]) -> str:
    return ",".join(quote(v) for v in values)


def dump_lines(
    columns: Sequence[str], rows: Iterable[Sequence[Value] | Mapping[str, Value]]
) -> Iterator[str]:
    """The header, then one text per row (a row may span lines); no newlines added."""
    yield header_line(columns)
    for row in rows:
        if isinstance(row, Mapping):
            yield row_line(row.get(c) for c in columns)
        else:
            yield row_line(row)


def dumps(columns: Sequence[str], rows: Iterable[Sequence[Value] | Mapping[str, Value]]) -> str:
    """A whole file: every line of :func:`dump_lines` ended by a newline."""
    return "".join(line + "\n" for line in dump_lines(columns, rows))


# -- reading ---------------------------------------------------------------


def decode(data: bytes) -> str:
    """``data`` as UTF-8 text, strictly; CSVFormatError names the line of a bad byte.

    A leading byte-order mark (spreadsheets write one) is dropped.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise CSVFormatError(
            f"not valid UTF-8 (byte 0x{bad} at column {col})", line
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


class _Lines:
    """Offset → 1-based line number, by bisecting the newline offsets once."""

    def __init__(self, text: str) -> None:
        self._breaks = [m.start() for m in re.finditer("\n", text)]

    def at(self, offset: int) -> int:
        return bisect.bisect_left(self._breaks, offset) + 1


def _check_characters(text: str, lines: _Lines) -> None:
    nul = text.find("\x00")
    if nul >= 0:
        raise CSVFormatError("NUL character in the data", lines.at(nul))
    m = _SURROGATE.search(text)
    if m:
        raise CSVFormatError("not valid UTF-8", lines.at(m.start()))


def _header(text: str) -> tuple[list[str], int]:
    """Columns named by the first line, and the offset just past it."""
    end = text.find("\n")
    end = len(text) if end < 0 else end
    line = text[:end].replace('"', "").rstrip(" \t\r")
    if line.startswith("#"):
        line = line[1:]
    if not line.strip():
        raise CSVFormatError("missing header line (#column1,column2,...)", 1)
    columns = line.split(",")
    for col in columns:
        if not col or col != col.strip():
            raise CSVFormatError(f"invalid header: bad column name {col!r}", 1)
    seen: set[str] = set()
    for col in columns:
        if col in seen:
            raise CSVFormatError(f"invalid header: column {col} appears twice", 1)
        seen.add(col)
    return columns, min(end + 1, len(text))


def _record(text: str, pos: int, lines: _Lines) -> tuple[list[Value], int]:
    """The fields of the record starting at ``pos`` and the offset past its line end."""
    values: list[Value] = []
    n = len(text)
    while True:
        if pos < n and text[pos] == '"':
            m = _QUOTED.match(text, pos)
            if m is None:
                raise CSVFormatError("unbalanced quotes: a quoted field is never closed",
                                     lines.at(pos))
            values.append(m.group(1).replace('""', '"'))
            pos = m.end()
            if pos < n and text[pos] not in ",\n":
                # only blanks before the end of the line, as xCAT strips them
                ws = _TRAILING_WS.match(text, pos)
                assert ws is not None
                if ws.end() < n and text[ws.end()] != "\n":
                    after = text[pos : pos + 20].partition("\n")[0]
                    raise CSVFormatError(f"text after a closing quote: {after!r}", lines.at(pos))
                pos = ws.end()
        else:
            m = _UNQUOTED.match(text, pos)
            assert m is not None  # the pattern matches the empty string
            raw = m.group(0)
            pos = m.end()
            if pos < n and text[pos] == '"':
                raise CSVFormatError(
                    "quote inside an unquoted field (quote the whole value and double "
                    "inner quotes)",
                    lines.at(pos),
                )
            if pos >= n or text[pos] == "\n":
                raw = raw.rstrip(" \t\r")
            values.append(raw if raw else None)
        if pos >= n:
            return values, pos
        if text[pos] == "\n":
            return values, pos + 1
        pos += 1  # the comma


def parse(
    data: str | bytes,
    known_columns: Sequence[str] | None = None,
    *,
    table: str = "table",
    ignore_unknown: bool = False,
) -> CSVTable:
    """Parse a tabdump file.

    ``known_columns`` (the table's columns) makes header names outside it an
    error — :class:`HeaderColumnError`, an ``UnknownColumnError`` naming all of
    them — or, with ``ignore_unknown``, drops them (listed in ``dropped``).
    Raises :class:`CSVFormatError` for malformed input.
    """
    text = decode(data) if isinstance(data, bytes) else data
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = _Lines(text)
    _check_characters(text, lines)
    columns, pos = _header(text)
    keep = list(range(len(columns)))
    dropped: list[str] = []
    if known_columns is not None:
        known = set(known_columns)
        unknown = [c for c in columns if c not in known]
        if unknown and not ignore_unknown:
            raise HeaderColumnError(table, unknown)
        dropped = unknown
        keep = [i for i, c in enumerate(columns) if c in known]
    out = CSVTable([columns[i] for i in keep], dropped=dropped)
    width = len(columns)
    n = len(text)
    while pos < n:
        blank = _BLANK_LINE.match(text, pos)
        if blank is not None:
            pos = blank.end()
            continue
        if text[pos] == "#":
            end = text.find("\n", pos)
            pos = n if end < 0 else end + 1
            continue
        start = lines.at(pos)
        values, pos = _record(text, pos, lines)
        if len(values) != width:
            raise CSVFormatError(
                f"wrong number of fields: expected {width}, found {len(values)}", start
            )
        out.rows.append(values if len(keep) == width else [values[i] for i in keep])
        out.lines.append(start)
    return out


def read_csv(
    data: str | bytes, known_columns: Sequence[str] | None = None, *, table: str = "table"
) -> tuple[list[str], list[list[Value]]]:
    """(columns, rows) of a tabdump file; see :func:`parse` for the errors."""
    parsed = parse(data, known_columns, table=table)
    return parsed.columns, parsed.rows
