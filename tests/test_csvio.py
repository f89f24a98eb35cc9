"""xCAT's tabdump CSV: exact output, strict reading, errors that name the line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xcatpy.errors import CSVFormatError, UnknownColumnError
from xcatpy.store import csvio

COLS = ["node", "groups", "comments", "disable"]


def test_writer_quotes_values_and_leaves_null_empty() -> None:
    text = csvio.dumps(COLS, [["n1", 'say "hi"', "", None], {"node": "n2", "groups": "a,b"}])
    assert text == (
        "#node,groups,comments,disable\n"
        '"n1","say ""hi""","",\n'
        '"n2","a,b",,\n'
    )


def test_writer_keeps_newlines_inside_quotes() -> None:
    assert csvio.row_line(["a\nb", None]) == '"a\nb",'


def test_reader_null_versus_empty_string() -> None:
    cols, rows = csvio.read_csv('#node,groups,comments,disable\n"n1",,"",\n', COLS)
    assert cols == COLS
    assert rows == [["n1", None, "", None]]


def test_reader_multiline_and_commas_and_quotes() -> None:
    text = '#node,groups,comments,disable\n"n1","a,b","line1\nline2, ""x""",\n'
    parsed = csvio.parse(text, COLS)
    assert parsed.rows == [["n1", "a,b", 'line1\nline2, "x"', None]]
    assert parsed.lines == [2]


def test_reader_lenient_where_xcat_is() -> None:
    text = (
        '"node","groups"\r\n'          # quoted header names, no '#', CRLF
        "n1,compute  \r\n"              # unquoted values, trailing blanks
        "\n"                            # blank line
        "# a comment line\n"
        '"n2","all"   \n'
    )
    parsed = csvio.parse(text, COLS)
    assert parsed.columns == ["node", "groups"]
    assert parsed.rows == [["n1", "compute"], ["n2", "all"]]
    assert parsed.lines == [2, 5]


def test_reader_accepts_bytes_and_a_bom() -> None:
    data = '\ufeff#node,groups\n"nœud","x"\n'.encode()
    assert csvio.read_csv(data, COLS)[1] == [["nœud", "x"]]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 1, "missing header"),
        ("\n\"n1\",\n", 1, "missing header"),
        ("#node,,groups\n", 1, "bad column name"),
        ("#node,node\n", 1, "appears twice"),
        ('#node,groups\n"n1","a"\n"n2"\n', 3, "expected 2, found 1"),
        ('#node,groups\n"n1","a","b"\n', 2, "expected 2, found 3"),
        ('#node,groups\n"n1","a\n\n"n2","b"\n', 4, "text after a closing quote"),
        ('#node,groups\n"n1","never closed\n', 2, "unbalanced quotes"),
        ('#node,groups\n"n1"x,"a"\n', 2, "text after a closing quote"),
        ('#node,groups\nn"1,"a"\n', 2, "quote inside an unquoted field"),
        ('#node,groups\n"n1","a"\n"n\x002","b"\n', 3, "NUL"),
        ('#node,groups\n"n1","\ud800"\n', 2, "not valid UTF-8"),
    ],
)
def test_reader_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(CSVFormatError) as info:
        csvio.parse(text, COLS)
    assert info.value.line == line
    assert words in str(info.value)
    assert str(info.value).startswith(f"line {line}: ")


def test_invalid_utf8_bytes_name_line_and_byte() -> None:
    data = b'#node,groups\n"n1","ok"\n"n2","\xff"\n'
    with pytest.raises(CSVFormatError) as info:
        csvio.parse(data, COLS)
    assert str(info.value) == "line 3: not valid UTF-8 (byte 0xff at column 7)"


def test_unknown_columns_are_named_all_at_once() -> None:
    with pytest.raises(UnknownColumnError) as info:
        csvio.parse("#node,foo,bar\n", COLS, table="nodelist")
    assert str(info.value) == "line 1: columns foo, bar not in table nodelist"


def test_unknown_columns_dropped_when_asked() -> None:
    parsed = csvio.parse('#node,foo,groups\n"n1","x","g"\n', COLS, ignore_unknown=True)
    assert parsed.columns == ["node", "groups"]
    assert parsed.dropped == ["foo"]
    assert parsed.rows == [["n1", "g"]]


# Any text the database can hold: no NUL, no lone surrogates.
values = st.one_of(
    st.none(),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=30,
    ),
    st.sampled_from(['"', '""', ",", "\n", '","', "\r\n", " ", "#x", "a\nb,c\"d"]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=2, max_value=5).flatmap(
        lambda width: st.lists(st.lists(values, min_size=width, max_size=width), max_size=8)
    )
)
def test_round_trip(table: list[list[str | None]]) -> None:
    width = len(table[0]) if table else 3
    cols = [f"c{i}" for i in range(width)]
    text = csvio.dumps(cols, table)
    assert csvio.read_csv(text, cols) == (cols, table)
    assert csvio.read_csv(text.encode("utf-8"), cols) == (cols, table)
