#!/usr/bin/env python3
"""Write the section 5 man pages of the database tables from the schema.

One page per table, ``man/man5/<table>.5``, from
:data:`xcatpy.store.schema.TABLES` (description, columns and their docs, key
columns; for ``site`` also :data:`~xcatpy.store.schema.SITE_KEY_DOCS`), and
an overview page, ``man/man5/xcatdb.5``, listing every table.

Pages named in :data:`HANDWRITTEN` are kept by hand and never written here:
``policy.5``, because the policy table's semantics need more than its column
list, and ``noderange.5``, which is not a table.

Usage::

    python tools/genman.py           # rewrite the generated pages
    python tools/genman.py --check   # exit 1 if a page on disk is stale

Output depends only on the schema (no dates, no version), so ``--check`` in
CI fails exactly when someone changed the schema and forgot to regenerate.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xcatpy.store.schema import (  # noqa: E402
    AUTOINCREMENT_TABLES,
    SITE_DEFAULTS,
    SITE_KEY_DOCS,
    TABLES,
    TableSpec,
)

MAN5 = ROOT / "man" / "man5"

HANDWRITTEN: frozenset[str] = frozenset({"policy.5", "noderange.5"})
"""Pages in man/man5 that are written by hand."""

SKIP_TABLES: frozenset[str] = frozenset({"policy"})
"""Tables whose page is hand-written (see HANDWRITTEN)."""

TITLE_SOURCE = '"" "xcatpy" "xcatpy Tables"'

# Commands worth pointing to from particular tables, beyond the common ones.
EXTRA_SEE_ALSO: Mapping[str, tuple[str, ...]] = {
    "nodelist": ("nodeadd(1)", "noderm(1)", "nodech(1)", "noderange(5)"),
    "nodegroup": ("mkdef(1)", "chdef(1)", "noderange(5)"),
    "site": ("gettab(1)", "xcatconfig(1)", "noderange(5)"),
    "auditlog": ("tabprune(1)", "policy(5)"),
    "eventlog": ("tabprune(1)",),
    "osimage": ("lsdef(1)", "linuximage(5)"),
    "linuximage": ("lsdef(1)", "osimage(5)"),
    "passwd": ("ipmi(5)",),
    "ipmi": ("nodehm(5)", "passwd(5)"),
    "nodehm": ("ipmi(5)",),
}
COMMON_SEE_ALSO = ("tabdump(1)", "chtab(1)", "nodels(1)")


# -- roff helpers -------------------------------------------------------------

_OPTION_DASH = re.compile(r"(?<![\w\\])-")


def text(s: str) -> str:
    """Plain text as a roff text line: backslashes, leading controls, option dashes."""
    s = s.replace("\\", "\\e")
    s = _OPTION_DASH.sub(r"\\-", s)
    if s.startswith((".", "'")):
        s = "\\&" + s
    return s


def word(s: str) -> str:
    """A name for use inside a font escape (table and column names)."""
    return s.replace("\\", "\\e").replace("-", "\\-")


def see_also(refs: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for ref in refs:
        if ref not in seen:
            seen.append(ref)
    out = [".SH SEE ALSO"]
    for i, ref in enumerate(seen):
        name, _, sec = ref.partition("(")
        sep = "," if i < len(seen) - 1 else ""
        out.append(f".BR {word(name)} ({sec}{sep}")
    return out


def wrap(words: list[str], width: int = 72) -> list[str]:
    """Join words into source lines no longer than ``width`` where possible."""
    lines: list[str] = []
    cur = ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    if cur:
        lines.append(cur)
    return [("\\&" + ln if ln.startswith((".", "'")) else ln) for ln in lines]


def short_description(spec: TableSpec) -> str:
    return spec.description.strip().rstrip(".")


# -- one table ----------------------------------------------------------------


def synopsis(spec: TableSpec) -> list[str]:
    cols = []
    for i, col in enumerate(spec.columns):
        name = f"\\fB{word(col)}\\fR" if col in spec.keys else word(col)
        if i == 0:
            name = "(" + name
        name += "," if i < len(spec.columns) - 1 else ")"
        cols.append(name)
    out = [".SH SYNOPSIS", f".B {word(spec.name)}", *wrap(cols), ".PP"]
    keys = [f"\\fB{word(k)}\\fR" for k in spec.keys]
    if len(keys) == 1:
        out.append(f"The key is {keys[0]}: no two rows share its value.")
    else:
        joined = ", ".join(keys[:-1]) + " and " + keys[-1]
        out.append(f"The key is made of {joined}: no two rows share all of them.")
    return out


INHERIT = """\
.PP
The \\fBnode\\fR column may name a group instead of a node.
A node that has no row of its own in this table, or whose row leaves a
column empty, takes that column from the first of its groups (in the order
they are listed in \\fBnodelist.groups\\fR) whose row sets it.
This is decided column by column, so different columns may come from
different groups, and a node's own value always wins.
A value ending in \\fB\\%+=NEXTRECORD\\fR is continued by the value of
the next group that sets the column; columns named in
\\fBsite.hierarchicalattrs\\fR combine the values of the node and all of
its groups.
A value written as \\fB/\\fIpattern\\fB/\\fIreplacement\\fB/\\fR or
\\fB|\\fIpattern\\fB|\\fIreplacement\\fB|\\fR is computed from each node's
name when it is read; see
.BR xcatdb (5).
.PP
.BR nodels (1)
and
.BR lsdef (1)
show the values a node ends up with;
.BR tabdump (1)
shows the rows as stored."""

NODELIST_NOTE = """\
.PP
This table is the list of nodes: a node exists when it has a row here.
Unlike the other tables keyed by node, its values are never inherited from
groups; a node's \\fBgroups\\fR column is what makes it a member of the
groups whose rows the other tables inherit from."""


def site_keys() -> list[str]:
    defaults = {k: v for k, v in SITE_DEFAULTS if v}
    out = [
        ".SS Common keys",
        "Each row holds one setting.",
        "These keys are the ones most often set; any other key may be stored too.",
        "Where a value is shown, it is the one",
        ".B xcatconfig \\-i",
        "writes on a new management node.",
    ]
    for key, doc in SITE_KEY_DOCS.items():
        out.append(".TP")
        if key in defaults:
            out.append(f'.BR {word(key)} " (" "{word(defaults[key])}" )')
        else:
            out.append(f".B {word(key)}")
        out.append(text(doc))
    return out


def table_page(spec: TableSpec) -> str:
    out = [
        f".TH {word(spec.name.upper())} 5 {TITLE_SOURCE}",
        ".SH NAME",
        f"{word(spec.name)} \\- {text(short_description(spec))}",
        *synopsis(spec),
        ".SH DESCRIPTION",
        text(spec.description.strip()),
    ]
    if spec.name == "nodelist":
        out.append(NODELIST_NOTE)
    elif spec.node_keyed:
        out.append(INHERIT)
    if spec.name in AUTOINCREMENT_TABLES:
        out += [
            ".PP",
            "The database numbers the rows itself: leave \\fBrecid\\fR empty",
            "when adding one.",
            "Old rows are removed with",
            ".BR tabprune (1).",
        ]
    if spec.name == "site":
        out += site_keys()
    out.append(".SH COLUMNS")
    for col in spec.columns:
        out.append(".TP")
        if col in spec.keys:
            out.append(f'.BR {word(col)} " (key)"')
        else:
            out.append(f".B {word(col)}")
        out.append(text(spec.column_docs.get(col, "").strip() or "Not documented."))
    refs = [*COMMON_SEE_ALSO, *EXTRA_SEE_ALSO.get(spec.name, ()), "xcatdb(5)"]
    out += see_also(refs)
    return "\n".join(out) + "\n"


# -- the overview -------------------------------------------------------------

XCATDB_INTRO = """\
.TH XCATDB 5 {source}
.SH NAME
xcatdb \\- the tables of the xcatpy database
.SH DESCRIPTION
Everything xcatpy knows about a cluster is kept in the tables listed below:
the nodes and their groups, how each node's hardware and console are
reached, how it is installed and booted, the networks, the OS images, the
cluster-wide settings and who may do what.
Table names, column names and their order are the same as xCAT's, so
CSV files made by xCAT's \\fBtabdump\\fR load unchanged with
.BR tabrestore (1).
.PP
Every value is text; an unset value is shown as an empty field.
Most tables end with a \\fBcomments\\fR column for notes and a
\\fBdisable\\fR column: a row whose \\fBdisable\\fR is set (to \\fByes\\fR or
\\fB1\\fR, for instance) is ignored.
.SS Storage
By default the database is one SQLite file,
.RS 4
.B $XCATPY_ROOT/var/lib/xcatpy/xcatdb.sqlite
.RE
.PP
When the file
.B $XCATPY_ROOT/etc/xcatpy/cfgloc
exists, it names another database instead, as a URL or in xCAT's own
form:
.PP
.RS 4
.EX
postgresql://xcatadm:secret@mn1/xcatdb
mysql://xcatadm:secret@mn1/xcatdb
Pg:dbname=xcatdb;host=mn1|xcatadm|secret
.EE
.RE
.PP
Service nodes need such a shared database.
.BR xcatconfig (1)
creates the tables.
.SS Groups and inheritance
In a table keyed by node, a row may be keyed by a group name instead.
For each column, a node uses its own row's value if it has one; otherwise
the value of the first of its groups, in the order of
\\fBnodelist.groups\\fR, that sets the column.
A value ending in \\fB\\%+=NEXTRECORD\\fR is continued by the value of the
next group that sets the column, with nothing in between: write
\\fBa,+=NEXTRECORD\\fR to get a comma-separated list.
Columns listed in the \\fBsite\\fR key \\fBhierarchicalattrs\\fR
(\\fIcolumn\\fR[\\fB:\\fIdelimiter\\fR]\\fB,\\fR...) combine the values of the
node and of all its groups, without duplicates.
\\fBnodelist\\fR itself is never inherited.
.SS Values computed from the node name
In a table keyed by node, a value may be a formula worked out for each node
from its name, so that one group row serves hundreds of nodes:
.TP
\\fB/\\fIpattern\\fB/\\fIreplacement\\fB/\\fR
The first match of the regular expression \\fIpattern\\fR in the node name
is replaced by \\fIreplacement\\fR, taken literally.
With \\fBipmi.bmc\\fR set to \\fB/$/\\-bmc/\\fR on a group, node
\\fBn017\\fR gets \\fBn017\\-bmc\\fR.
.TP
\\fB|\\fIpattern\\fB|\\fIreplacement\\fB|\\fR
The same, except that each part of the replacement in parentheses is
integer arithmetic on \\fB$1\\fR, \\fB$2\\fR, ..., the groups captured by
the pattern.
With \\fBhosts.ip\\fR set to \\fB|n(\\ed+)|10.1.0.($1+0)|\\fR, node
\\fBn017\\fR gets \\fB10.1.0.17\\fR; with \\fBipmi.bmc\\fR set to
\\fB|rack(\\ed+)n(\\ed+)|10.($1+100).0.($2+0)|\\fR, node
\\fBrack3n07\\fR gets \\fB10.103.0.7\\fR.
Besides \\fB+ \\- * / %\\fR (whole numbers only), expressions may call
\\fBsprintf\\fR, \\fBipadd\\fR, \\fBa2idx\\fR, \\fBa2zidx\\fR,
\\fBdim2idx\\fR, \\fBskip\\fR, \\fBmknum\\fR, \\fBord\\fR, \\fBint\\fR,
\\fBabs\\fR, \\fBlc\\fR and \\fBuc\\fR, as in xCAT.
.TP
\\fB|\\fIreplacement\\fB|\\fR
The short form: \\fB$1\\fR is the first number in the node name,
\\fB$2\\fR the second, and so on, and the whole name is replaced.
\\fB|10.1.($1+0).($2+0)|\\fR gives node \\fBr3n07\\fR the address
\\fB10.1.3.7\\fR.
.PP
The pattern syntax is Perl's, as in xCAT.
A formula whose pattern does not match a node's name, or whose arithmetic
fails, is reported as an error for that node; xCAT would silently use the
node name as the value.
Formulas are worked out when a node's attributes are read
.RB ( nodels (1),
.BR lsdef (1)
and every command acting on nodes), never by
.BR tabdump (1),
which shows what is stored.
.SS Working with the tables
.BR nodels (1),
.BR nodeadd (1),
.BR nodech (1),
.BR noderm (1)
and
.BR nodegrpch (1)
work on nodes;
.BR lsdef (1),
.BR mkdef (1),
.BR chdef (1)
and
.BR rmdef (1)
on objects whose attributes span several tables;
.BR tabdump (1),
.BR tabedit (1),
.BR tabrestore (1),
.BR chtab (1),
.BR gettab (1)
and
.BR tabprune (1)
on tables directly;
.BR dumpxCATdb (1)
and
.BR restorexCATdb (1)
on the whole database.
Table descriptions are also available from
.BR "tabdump \\-d" .
.SH TABLES
Each table has its own page in section 5."""


def xcatdb_page() -> str:
    out = [XCATDB_INTRO.format(source=TITLE_SOURCE)]
    for name in sorted(TABLES):
        spec = TABLES[name]
        out += [".TP", f".BR {word(name)} (5)", text(spec.description.strip())]
    out += see_also(["nodels(1)", "lsdef(1)", "tabdump(1)", "chtab(1)", "noderange(5)",
                     "policy(5)", "site(5)"])
    return "\n".join(out) + "\n"


# -- driver -------------------------------------------------------------------


def pages() -> dict[str, str]:
    """File name in man/man5 -> contents, for every generated page."""
    out = {f"{name}.5": table_page(spec) for name, spec in TABLES.items()
           if name not in SKIP_TABLES}
    out["xcatdb.5"] = xcatdb_page()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="report stale or unexpected pages and exit 1 if there are any")
    args = parser.parse_args(argv)
    wanted = pages()
    problems: list[str] = []
    for fname, content in sorted(wanted.items()):
        path = MAN5 / fname
        current = path.read_text() if path.exists() else None
        if current == content:
            continue
        if args.check:
            problems.append(f"{path.relative_to(ROOT)} is {'stale' if current else 'missing'}")
        else:
            MAN5.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            print(f"wrote {path.relative_to(ROOT)}")
    for name in HANDWRITTEN:
        if not (MAN5 / name).exists():
            problems.append(f"man/man5/{name} (written by hand) is missing")
    if MAN5.exists():
        for path in sorted(MAN5.glob("*.5")):
            if path.name not in wanted and path.name not in HANDWRITTEN:
                problems.append(
                    f"{path.relative_to(ROOT)} is not a table page: remove it, "
                    "or add it to HANDWRITTEN in tools/genman.py"
                )
    for p in problems:
        print(p, file=sys.stderr)
    if problems and args.check:
        print("run: python tools/genman.py", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
