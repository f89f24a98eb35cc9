"""The policy table: who may run which command on which nodes (stdlib only, pure).

The daemon loads the ``policy`` rows once per request (:func:`rows_from_table`)
and asks :func:`evaluate` whether the request may run.  Writers of the table
call :func:`validate_row` (through ``xcatpy.store.validate``) so that a value
this module cannot act on is refused when it is written.  ``man/man5/policy.5``
is the user's description of these rules; the two must agree.

Nothing here touches a database, a socket or the clock: the caller passes the
rows, the request, a function that expands a noderange and the current time.

Where this differs from xCAT's ``xcatd.pm`` ``validate`` on purpose:

* ``rule`` is compared whole and case-insensitively (xCAT matched substrings,
  so ``disallow`` allowed); an empty or unknown rule refuses.
* ``time`` is enforced; ``name`` may be ``@group``; ``host`` and ``commands``
  entries are trimmed of spaces.
* ``remote_clients`` count only when the peer holds a trusted row (xCAT let
  any client name the host it claims to speak for).
* A value this module cannot use (an unparseable ``time`` or ``parameters``
  left from old data, a ``noderange`` that does not expand) never lets a
  request through: such a row is skipped when it would allow, and applies as
  if that column were empty when it would refuse.
"""

from __future__ import annotations

import getopt
import grp
import os
import pwd
import re
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from types import EllipsisType

from xcatpy.errors import StoreError, XcatError

__all__ = [
    "Decision",
    "PolicyRow",
    "PolicyValueError",
    "TimeSpec",
    "Window",
    "default_unix_groups",
    "evaluate",
    "object_command_noderange",
    "parse_time",
    "rows_from_table",
    "validate_row",
]

RULES = ("allow", "accept", "trusted", "deny")
_ALLOWING = frozenset({"allow", "accept", "trusted"})
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_PARAMETERS = 500
"""Longest ``parameters`` pattern accepted, in characters."""
_NO_RULE = "Request matched no policy rule"


class PolicyValueError(StoreError):
    """A policy column value that cannot be used; names the column and the value."""

    def __init__(self, column: str, value: str | None, reason: str,
                 priority: str | None = None) -> None:
        self.column = column
        self.value = value
        self.reason = reason
        where = f" (priority {priority})" if priority else ""
        super().__init__(f"policy.{column}={value!r}{where}: {reason}")


# --------------------------------------------------------------------------- #
# rows


@dataclass(frozen=True)
class PolicyRow:
    """One row of the ``policy`` table, values as stored (None = NULL)."""

    priority: str
    name: str | None
    host: str | None
    commands: str | None
    noderange: str | None
    parameters: str | None
    time: str | None
    rule: str | None
    disable: str | None = None

    @property
    def active(self) -> bool:
        """Not disabled: ``disable`` is NULL, empty, ``0`` or ``no`` in any case."""
        value = (self.disable or "").strip()
        return value == "" or value == "0" or value.lower() == "no"


def _priority_number(text: str | None) -> Decimal | None:
    value = (text or "").strip()
    if not re.fullmatch(r"-?\d+(?:\.\d+)?", value):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        return None


def _order(row: PolicyRow) -> tuple[int, Decimal, str]:
    number = _priority_number(row.priority)
    if number is None:
        return (1, Decimal(0), row.priority)
    return (0, number, row.priority)


def _ordered(rows: Iterable[PolicyRow]) -> list[PolicyRow]:
    return sorted((r for r in rows if r.active), key=_order)


def rows_from_table(records: Iterable[Mapping[str, str | None]]) -> list[PolicyRow]:
    """The active rows of ``records`` (dicts of policy columns), in evaluation order.

    Disabled rows are dropped.  Rows are sorted by priority as numbers, lowest
    first; equal numbers (``1`` and ``1.0``) keep string order; a priority that
    is not a number sorts after all the others (:func:`validate_row` refuses
    such a value when it is written).
    """
    out = []
    for rec in records:
        def get(col: str, rec: Mapping[str, str | None] = rec) -> str | None:
            value = rec.get(col)
            return None if value is None else str(value)

        out.append(PolicyRow(
            priority=get("priority") or "", name=get("name"), host=get("host"),
            commands=get("commands"), noderange=get("noderange"),
            parameters=get("parameters"), time=get("time"), rule=get("rule"),
            disable=get("disable"),
        ))
    return _ordered(out)


# --------------------------------------------------------------------------- #
# time windows


@dataclass(frozen=True)
class Window:
    """Days (0 = Monday) and a span of minutes after midnight, ``start`` included.

    ``end`` is up to 1440 (24:00).  When ``end < start`` the window runs past
    midnight: the part after midnight belongs to the day after each listed day.
    """

    days: frozenset[int]
    start: int
    end: int

    def contains(self, when: datetime) -> bool:
        seconds = when.hour * 3600 + when.minute * 60 + when.second
        start, end = self.start * 60, self.end * 60
        day = when.weekday()
        if start < end:
            return day in self.days and start <= seconds < end
        return (day in self.days and seconds >= start) or (
            (day - 1) % 7 in self.days and seconds < end
        )


@dataclass(frozen=True)
class TimeSpec:
    """The windows of a ``time`` value; the row applies inside any of them."""

    windows: tuple[Window, ...]

    def contains(self, when: datetime) -> bool:
        """Whether ``when`` (its wall-clock fields, as given) is inside a window."""
        return any(w.contains(when) for w in self.windows)


_WINDOW = re.compile(
    r"(?:(?P<days>.*\S)\s+)?(?P<h1>\d{1,2}):(?P<m1>\d{2})\s*-\s*(?P<h2>\d{1,2}):(?P<m2>\d{2})"
)
_ALL_DAYS = frozenset(range(7))


def _minutes(hour: str, minute: str, text: str, *, end: bool) -> int:
    h, m = int(hour), int(minute)
    if m > 59 or h > 24 or (h == 24 and (m or not end)):
        raise PolicyValueError(
            "time", text, f"{hour}:{minute} is not a time of day (00:00 to 23:59"
            + (", or 24:00 as an end)" if end else ")"))
    return h * 60 + m


def _day(name: str, text: str) -> int:
    try:
        return _DAYS.index(name.strip().lower())
    except ValueError:
        raise PolicyValueError(
            "time", text, f"{name.strip()!r} is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)"
        ) from None


def _days(part: str, text: str) -> frozenset[int]:
    days: set[int] = set()
    for item in part.split(","):
        if not item.strip():
            raise PolicyValueError("time", text, "empty item in a list of days")
        first, dash, last = item.partition("-")
        lo = _day(first, text)
        hi = _day(last, text) if dash else lo
        days.update((lo + i) % 7 for i in range((hi - lo) % 7 + 1))
    return frozenset(days)


def _window(piece: str, text: str) -> Window:
    m = _WINDOW.fullmatch(piece)
    if m is None:
        raise PolicyValueError(
            "time", text, f"{piece!r} is not a window such as Mon-Fri 08:00-18:00 or "
            "08:00-18:00 (for whole days write 00:00-24:00)")
    start = _minutes(m["h1"], m["m1"], text, end=False)
    end = _minutes(m["h2"], m["m2"], text, end=True)
    if start == end:
        raise PolicyValueError("time", text, f"the span {m['h1']}:{m['m1']}-{m['h2']}:{m['m2']} "
                                             "is empty")
    days = _days(m["days"], text) if m["days"] else _ALL_DAYS
    return Window(days, start, end)


def parse_time(text: str) -> TimeSpec:
    """Parse a ``time`` column value; raises :class:`PolicyValueError` naming the fault.

    Syntax: windows separated by ``;``.  A window is an optional list of days
    and a span of hours: ``Mon-Fri 08:00-18:00``, ``Sat,Sun 00:00-24:00``,
    ``08:00-18:00`` (every day).  Days are ``Mon`` … ``Sun`` in any case, listed
    with commas or as a range with a dash (``Fri-Mon`` wraps over the weekend).
    Hours are ``HH:MM``, the start included and the end excluded; ``24:00``
    ends a day.  An end before the start runs past midnight into the next day,
    so ``Fri 22:00-06:00`` is Friday night until Saturday 06:00.
    """
    pieces = [p.strip() for p in text.split(";")]
    if not any(pieces):
        raise PolicyValueError("time", text, "no time window given")
    return TimeSpec(tuple(_window(p, text) for p in pieces if p))


# --------------------------------------------------------------------------- #
# parameters


_BRACES = re.compile(r"\{(\d*)(,?)(\d*)\}")


def _quantifier(pattern: str, at: int) -> tuple[int, int]:
    """The backtracking quantifier at ``at`` and the index after it.

    The first value is 0 (none, at most once, or possessive), 1 (repeats a
    bounded number of times) or 2 (repeats without bound).
    """
    n = len(pattern)
    if at >= n:
        return 0, at
    c = pattern[at]
    if c in "*+":
        kind, at = 2, at + 1
    elif c == "?":
        kind, at = 0, at + 1
    elif c == "{" and (m := _BRACES.match(pattern, at)) and (m[1] or m[3]):
        most = None if m[2] and not m[3] else int(m[3] or m[1])
        kind, at = (2 if most is None else 1 if most > 1 else 0), m.end()
    else:
        return 0, at
    if at < n and pattern[at] == "+":  # possessive: gives nothing back
        return 0, at + 1
    if at < n and pattern[at] == "?":  # lazy: backtracks all the same
        at += 1
    return kind, at


def _nested_repeat(pattern: str) -> bool:
    """Whether a repeated group holds a repeat without bound, as ``(a+)+`` does.

    That shape (also ``(\\w+\\s*)*``, ``(a*){2,9}``) makes a backtracking engine
    take exponential or high polynomial time on some inputs.  Repeats that
    never give back what they matched, possessive (``a++``) or inside an
    atomic group (``(?>...)``), do not count.  ``pattern`` must compile.
    """
    stack: list[list[bool]] = [[False, False]]  # per group: holds an unbounded repeat, atomic
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "(":
            stack.append([False, pattern.startswith("(?>", i)])
            i += 2 if pattern.startswith("(?", i) else 1
            continue
        if c == ")" and len(stack) > 1:
            inner, atomic = stack.pop()
            inner = inner and not atomic
            kind, i = _quantifier(pattern, i + 1)
            if inner and kind:
                return True
            stack[-1][0] = stack[-1][0] or inner or kind == 2
            continue
        if c == "\\":
            i += 1
        elif c == "[":
            i += 2 if pattern.startswith("[^", i) else 1
            i += 1 if i < n and pattern[i] == "]" else 0
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        kind, i = _quantifier(pattern, i + 1)
        stack[-1][0] = stack[-1][0] or kind == 2
    return False


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str] | PolicyValueError:
    if len(pattern) > MAX_PARAMETERS:
        return PolicyValueError("parameters", pattern,
                                f"longer than {MAX_PARAMETERS} characters")
    try:
        # Python warns about constructs whose meaning may change ("[[", "--" in
        # a class); a policy row is compiled as written, so the warning would
        # only reach the daemon's log once per pattern as noise.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return PolicyValueError("parameters", pattern,
                                f"not a valid regular expression: {exc}")
    if _nested_repeat(pattern):
        return PolicyValueError(
            "parameters", pattern,
            "a repeated group holds an unbounded repeat, as (a+)+ does, which can take "
            "exponential time; make the inner repeat possessive (a++) or the group "
            "atomic ((?>a+)+)")
    return compiled


@lru_cache(maxsize=256)
def _time_spec(text: str) -> TimeSpec | PolicyValueError:
    try:
        return parse_time(text)
    except PolicyValueError as exc:
        return exc


# --------------------------------------------------------------------------- #
# validation


def _blank(value: str | None) -> bool:
    return value is None or value.strip() == ""


def _any(value: str | None) -> bool:
    return _blank(value) or (value or "").strip() == "*"


def validate_row(row: Mapping[str, str | None]) -> None:
    """Check the policy columns present in ``row`` (a whole row or a partial update).

    ``priority`` must be a number (``1``, ``4.5``, ``-2``); ``rule`` empty or one
    of allow, accept, trusted, deny in any case; ``time`` empty, ``*`` or valid
    for :func:`parse_time`; ``parameters`` empty, ``*`` or a regular expression
    of at most 500 characters without a group that repeats an unbounded repeat.
    Raises :class:`PolicyValueError` (a ``StoreError``) naming column and value.
    """
    def text(col: str) -> str | None:
        value = row.get(col)
        return None if value is None else str(value)

    priority = text("priority")
    if "priority" in row and _priority_number(priority) is None:
        raise PolicyValueError("priority", priority,
                               "must be a number such as 1, 4.5 or 12")
    rule = text("rule")
    if not _blank(rule) and (rule or "").strip().lower() not in RULES:
        raise PolicyValueError("rule", rule, "must be allow, accept, trusted or deny",
                               priority)
    timeval = text("time")
    if not _any(timeval):
        spec = _time_spec(timeval or "")
        if isinstance(spec, PolicyValueError):
            raise PolicyValueError("time", timeval, spec.reason, priority)
    params = text("parameters")
    if not _any(params):
        compiled = _compiled(params or "")
        if isinstance(compiled, PolicyValueError):
            raise PolicyValueError("parameters", params, compiled.reason, priority)


# --------------------------------------------------------------------------- #
# evaluation


@dataclass(frozen=True)
class Decision:
    """The answer for one request."""

    allowed: bool
    row: PolicyRow | None
    """The deciding row; None when no row matched."""
    reason: str
    trusted: bool
    """The user holds a ``trusted`` row by exact name: it may act for another user."""


def default_unix_groups(user: str) -> frozenset[str]:
    """Names of the Unix groups of ``user`` on this machine (primary and supplementary).

    Empty when the user is unknown here.
    """
    try:
        entry = pwd.getpwnam(user)
    except (KeyError, ValueError):
        return frozenset()
    try:
        gids = os.getgrouplist(user, entry.pw_gid)
    except OSError:
        gids = [entry.pw_gid]
    names = set()
    for gid in gids:
        try:
            names.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            continue
    return frozenset(names)


def _items(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


class _Request:
    """One request's facts, with the lookups a walk may need done once."""

    def __init__(self, user: str | None, hosts: list[str], command: str, args: str,
                 noderange: str | None, nodes: Collection[str] | None,
                 expand: Callable[[str], Collection[str]],
                 unix_groups: Callable[[str], Collection[str]], now: datetime) -> None:
        self.user, self.hosts, self.command, self.args = user, hosts, command, args
        self.noderange, self.given_nodes, self.expand = noderange, nodes, expand
        self.unix_groups, self.now = unix_groups, now
        self._groups: Collection[str] | None = None
        self._nodes: list[str] | None = None
        self._expanded: dict[str, frozenset[str] | None] = {}

    def groups(self) -> Collection[str]:
        if self._groups is None:
            self._groups = frozenset(self.unix_groups(self.user)) if self.user else frozenset()
        return self._groups

    def nodes(self) -> list[str]:
        """The request's nodes; empty when it names none (or they do not expand)."""
        if self._nodes is None:
            found: Collection[str] = ()
            if self.given_nodes is not None:
                found = self.given_nodes
            elif not _blank(self.noderange):
                found = self.row_nodes(self.noderange or "") or ()
            self._nodes = list(dict.fromkeys(found))
        return self._nodes

    def row_nodes(self, text: str) -> frozenset[str] | None:
        """The expansion of ``text``; None when it cannot be expanded."""
        if text not in self._expanded:
            try:
                self._expanded[text] = frozenset(self.expand(text))
            except XcatError:
                self._expanded[text] = None
        return self._expanded[text]


def _name_matches(name: str | None, req: _Request) -> bool:
    if _blank(name):
        return True
    value = (name or "").strip()
    if req.user is None:
        return False
    if value == "*":
        return True
    if value.startswith("@") and len(value) > 1:
        return value[1:] in req.groups()
    return value == req.user


def _list_matches(column: str | None, candidates: Sequence[str]) -> bool:
    if _any(column):
        return True
    entries = _items(column or "")
    return "*" in entries or any(c in entries for c in candidates)


def _params_match(row: PolicyRow, req: _Request, refusing: bool) -> bool:
    if _any(row.parameters):
        return True
    compiled = _compiled((row.parameters or "").strip())
    if isinstance(compiled, PolicyValueError):
        return refusing
    return compiled.search(req.args) is not None


def _time_match(row: PolicyRow, req: _Request, refusing: bool) -> bool:
    if _any(row.time):
        return True
    spec = _time_spec((row.time or "").strip())
    if isinstance(spec, PolicyValueError):
        return refusing
    return spec.contains(req.now)


def _rule(row: PolicyRow) -> str:
    return (row.rule or "").strip().lower()


def _decide(row: PolicyRow, also: list[PolicyRow], trusted: bool) -> Decision:
    rule = _rule(row)
    if rule in _ALLOWING:
        reason = f"matched policy row {row.priority} ({rule})"
        if also:
            reason += "; its other nodes are covered by policy row" + (
                "s " if len(also) > 1 else " ") + ", ".join(r.priority for r in also)
        return Decision(True, row, reason, trusted)
    if rule == "deny":
        return Decision(False, row, f"matched policy row {row.priority} (deny)", trusted)
    shown = f"rule {row.rule!r}" if rule else "no rule"
    return Decision(False, row, f"matched policy row {row.priority}, which has {shown}: "
                                "refused", trusted)


def _names(nodes: Sequence[str], limit: int = 10) -> str:
    shown = ",".join(nodes[:limit])
    return shown + (f" and {len(nodes) - limit} more" if len(nodes) > limit else "")


def evaluate(
    rows: Sequence[PolicyRow],
    *,
    user: str | None,
    host: str | None,
    command: str,
    args: Sequence[str],
    noderange: str | None,
    nodes: Collection[str] | None,
    expand: Callable[[str], Collection[str]],
    now: datetime,
    unix_groups: Callable[[str], Collection[str]] = default_unix_groups,
    remote_clients: Sequence[str] = (),
) -> Decision:
    """Decide whether ``user`` (the certificate's name; None: anonymous) may run a request.

    ``host`` is the client's short host name; ``nodes`` the request's expanded
    nodes, or None to expand ``noderange`` with ``expand`` when a row needs it.
    ``expand`` expands a row's noderange (raising an ``XcatError`` if it
    cannot).  ``now`` is compared by its wall-clock fields.  ``remote_clients``
    (the hosts a forwarded request came from) replace ``host`` only when the
    user holds a trusted row.  Inactive rows are ignored and rows are walked
    in priority order whatever order they are given in.

    Never raises for rows that :func:`validate_row` accepts, nor for rows from
    older data: a value that cannot be used never lets a request through.
    """
    ordered = _ordered(rows)
    who = user or None
    trusted = who is not None and any(
        (r.name or "").strip() == who and _rule(r) == "trusted" for r in ordered
    )
    forwarded = [h.strip() for h in remote_clients if h and h.strip()] if trusted else []
    hosts = forwarded or ([host] if host else [])
    req = _Request(who, hosts, command, " ".join(args), noderange, nodes, expand,
                   unix_groups, now)
    left: list[str] | None = None  # nodes no allowing row has covered yet
    covering: list[PolicyRow] = []
    outside: PolicyRow | None = None
    for row in ordered:
        refusing = _rule(row) not in _ALLOWING
        if not (_name_matches(row.name, req) and _list_matches(row.host, req.hosts)
                and _list_matches(row.commands, [command])
                and _params_match(row, req, refusing)):
            continue
        if not _time_match(row, req, refusing):
            outside = outside or row
            continue
        if _any(row.noderange):
            return _decide(row, covering, trusted)
        covered = req.row_nodes((row.noderange or "").strip())
        if covered is None:  # the row's noderange does not expand
            if refusing:
                return _decide(row, covering, trusted)
            continue
        if left is None:
            left = req.nodes()
        if not left:
            continue
        hit = [n for n in left if n in covered]
        if not hit:
            continue
        if len(hit) < len(left) and not refusing:
            left = [n for n in left if n not in covered]
            covering.append(row)
            continue
        return _decide(row, covering, trusted)
    if left:
        return Decision(False, None, f"{_NO_RULE} for {_names(left)}", trusted)
    if outside is not None:
        return Decision(False, None, f"outside the time window of policy row "
                                     f"{outside.priority}", trusted)
    return Decision(False, None, _NO_RULE, trusted)


# --------------------------------------------------------------------------- #
# object commands

OBJECT_COMMANDS = frozenset({"lsdef", "mkdef", "chdef", "rmdef"})
# The options of xcatpy.commands.objects (kept in step by a test).
_OBJECT_SHORT = "acdfi:hlsmn:o:pt:Vvw:xzSuC"
_OBJECT_LONG = [
    "all", "compress", "dynamic", "force", "help", "long", "short", "minus", "plus",
    "verbose", "version", "xml", "stanza", "nocache", "osimage", "nics", "cleanup",
]


def object_command_noderange(command: str, args: Sequence[str], *,
                             stdin: str | None | EllipsisType = ...) -> str | None:
    """The nodes an object command acts on, as a noderange, or None.

    For lsdef, mkdef, chdef and rmdef, whose clients send object names only
    among ``args`` (a client that sends a noderange apart should have it put
    in front of ``args`` first): the names after ``-o``, else the first
    argument that is neither an option nor ``attr=value``, when the object
    type is ``node`` (``-t node`` or no ``-t``).  With ``chdef -n NEW`` the new
    name is added, so a rule must cover both names.

    None — the request names no nodes, so rows with a noderange do not match
    it — for other commands, other or several types, ``-a``, ``-z``,
    ``--template``, no names, or options that do not parse.  ``stdin`` is the
    request's piped input: mkdef and chdef also define every object of a
    stanza found there, so for them a non-empty ``stdin``, or none passed at
    all, gives None too.  Returning None is never less strict than the names
    would be, since a request that names no nodes can only be allowed by a
    row without a noderange.
    """
    if command not in OBJECT_COMMANDS:
        return None
    if command in ("mkdef", "chdef") and (stdin is ... or stdin):
        return None
    words: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            words.extend(args[i:])
            break
        if arg == "--template" or arg.startswith("--template="):
            return None
        words.append("-h" if arg == "-?" else arg)
    try:
        pairs, rest = getopt.gnu_getopt(words, _OBJECT_SHORT, _OBJECT_LONG)
    except getopt.GetoptError:
        return None
    given: dict[str, str] = {}
    for name, value in pairs:
        given[name] = value
    if {"-a", "--all", "-z", "--stanza"} & set(given):
        return None
    types = {t for t in given.get("-t", "node").split(",") if t}
    if types != {"node"}:
        return None
    names = given.get("-o") or next((w for w in rest if w and "=" not in w), None)
    if not names:
        return None
    if command == "chdef" and given.get("-n"):
        names = f"{names},{given['-n']}"
    return names
