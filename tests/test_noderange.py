"""Tests for xcatpy.noderange: expansion, selectors, files, folding, ClusterShell parity."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xcatpy.errors import NoderangeError, XcatError
from xcatpy.noderange import (
    Expansion,
    Resolver,
    expand,
    expand_names,
    fold,
    natural_key,
    parse_selector,
)

# --------------------------------------------------------------------------- #
# a small cluster behind the Resolver interface


def _names(pattern: str, lo: int, hi: int) -> list[str]:
    return [pattern.format(i) for i in range(lo, hi + 1)]


class DictResolver:
    """Resolver over plain dicts: nodes, groups, per-node attributes, excludenodes."""

    SHORT = {"mgt": "nodehm.mgt", "groups": "nodelist.groups", "tags": "nodelist.groups"}

    def __init__(
        self,
        nodes: Iterable[str],
        groups: dict[str, list[str]] | None = None,
        attrs: dict[str, dict[str, str]] | None = None,
        excludenodes: str = "",
    ) -> None:
        self.nodes = list(nodes)
        self.groups = dict(groups or {})
        self.attrs = dict(attrs or {})
        self.excludenodes = excludenodes
        self.selects: list[tuple[str, str, str]] = []
        self.all_nodes_calls = 0

    def all_nodes(self) -> Collection[str]:
        self.all_nodes_calls += 1
        return self.nodes

    def group_members(self, name: str) -> Collection[str] | None:
        return self.groups.get(name)

    def select(self, attr: str, op: str, value: str) -> Collection[str]:
        self.selects.append((attr, op, value))
        column = self.SHORT.get(attr, attr)
        if op in ("=~", "!~") and len(value) >= 2 and value[0] == value[-1] == "/":
            value = value[1:-1]
        out = []
        for node in self.nodes:
            have = self.attrs.get(node, {}).get(column, "")
            if op in ("==", "="):
                hit = have == value
            elif op == "!=":
                hit = have != value
            elif op == "=~":
                hit = re.search(value, have) is not None
            else:
                hit = re.search(value, have) is None
            if hit:
                out.append(node)
        return out

    def exclude_nodes(self) -> str:
        return self.excludenodes


N = _names("n{}", 1, 20)
GPU = _names("gpu{:02d}", 1, 4)
DASHED = _names("node{}-compute", 1, 3)
OTHER = ["node5", "node10", "node11", "node12", "svc1"]
ALL = N + GPU + DASHED + OTHER


def make_cluster(excludenodes: str = "") -> DictResolver:
    groups = {
        "all": ALL,
        "compute": N,
        "gpu": GPU + ["n1", "n2"],
        "rack1": _names("n{}", 1, 10) + ["gpu01", "gpu02"],
        "rack2": _names("n{}", 11, 20) + ["gpu03", "gpu04"],
        "grp1": ["n1"],
        "grp2": ["n2"],
        "grp3": ["n3"],
        "empty": [],
    }
    attrs: dict[str, dict[str, str]] = {}
    for node in ALL:
        groups_of = ",".join(g for g, members in groups.items() if node in members)
        mgt = "ipmi" if node.startswith("n") and node in N else ("kvm" if node in GPU else "")
        attrs[node] = {"nodehm.mgt": mgt, "nodelist.groups": groups_of, "nodehm.cons": mgt}
    return DictResolver(ALL, groups, attrs, excludenodes)


@pytest.fixture
def cluster() -> DictResolver:
    return make_cluster()


def nodes(text: str, resolver: Resolver | None = None, **kw: object) -> list[str]:
    return expand(text, resolver, **kw).nodes  # type: ignore[arg-type]


def error(text: str, resolver: Resolver | None = None, **kw: object) -> NoderangeError:
    with pytest.raises(NoderangeError) as info:
        expand(text, resolver, **kw)  # type: ignore[arg-type]
    return info.value


# --------------------------------------------------------------------------- #
# names and groups


def test_node_group_and_missing(cluster: DictResolver) -> None:
    assert nodes("n3", cluster) == ["n3"]
    assert nodes("gpu", cluster) == ["gpu01", "gpu02", "gpu03", "gpu04", "n1", "n2"]
    result = expand("n3,bogus,empty,other,bogus", cluster)
    assert result == Expansion(["n3"], ["bogus", "other"])


def test_group_result_is_natural_sorted(cluster: DictResolver) -> None:
    assert nodes("rack2", cluster) == ["gpu03", "gpu04"] + _names("n{}", 11, 20)
    assert nodes("compute", cluster) == N


def test_verify_false_keeps_unknown_names(cluster: DictResolver) -> None:
    assert expand("n3,bogus", cluster, verify=False) == Expansion(["bogus", "n3"], [])


def test_without_resolver_names_are_literal() -> None:
    assert expand("a,b,a") == Expansion(["a", "b"], [])
    assert expand_names("b, a ,c") == ["a", "b", "c"]


def test_empty_terms_quotes_and_spaces() -> None:
    assert expand_names("") == []
    assert expand_names(" , ,") == []
    assert expand_names("a,,b,") == ["a", "b"]
    assert expand_names("'n1,n2'") == ["n1", "n2"]
    assert expand_names('"n[1-2]"') == ["n1", "n2"]
    assert expand_names("'a','b'") == ["a", "b"]


def test_result_sorted_naturally_and_deduplicated() -> None:
    assert expand_names("n10,n2,n1,n2,n01") == ["n01", "n1", "n2", "n10"]


def test_missing_in_order_met_once(cluster: DictResolver) -> None:
    result = expand("zz,n1,aa,zz,-yy", cluster)
    assert result.missing == ["zz", "aa", "yy"]


# --------------------------------------------------------------------------- #
# dash, colon and + ranges


def test_dash_ranges() -> None:
    assert expand_names("node01-node03") == ["node01", "node02", "node03"]
    assert expand_names("n001-n010") == _names("n{:03d}", 1, 10)
    assert expand_names("n8-n11") == ["n8", "n9", "n10", "n11"]
    assert expand_names("n98-n101") == ["n98", "n99", "n100", "n101"]
    assert expand_names("n1-n1") == ["n1"]
    assert expand_names("r1n08-r1n10") == ["r1n08", "r1n09", "r1n10"]


def test_dash_range_with_dashed_names() -> None:
    assert expand_names("node1-compute-node3-compute") == DASHED
    assert expand_names("a-1-x-a-3-x") == ["a-1-x", "a-2-x", "a-3-x"]


@pytest.mark.parametrize(
    "atom", ["a-b-c", "n1-n2-x", "node-1", "rack1-n3", "n1r1-n2r2", "a-a", "n1-"]
)
def test_dash_atoms_that_are_not_ranges_are_names(atom: str) -> None:
    assert expand_names(atom) == [atom]


def test_dash_non_range_is_missing_when_verified(cluster: DictResolver) -> None:
    assert expand("rack1-n3", cluster) == Expansion([], ["rack1-n3"])
    assert nodes("node1-compute", cluster) == ["node1-compute"]


def test_group_range_resolves_each_name(cluster: DictResolver) -> None:
    assert nodes("grp1-grp3", cluster) == ["n1", "n2", "n3"]
    assert nodes("rack1:rack2", cluster) == sorted(set(ALL) - set(DASHED + OTHER), key=natural_key)


def test_range_names_missing_individually(cluster: DictResolver) -> None:
    assert expand("n19-n22", cluster) == Expansion(["n19", "n20"], ["n21", "n22"])


def test_colon_ranges() -> None:
    assert expand_names("node01:node03") == ["node01", "node02", "node03"]
    assert expand_names("node1-compute:node3-compute") == DASHED


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("n1:m3", "n1:m3"),
        ("n1r1:n2r2", "n1r1:n2r2"),
        ("a:b", "a:b"),
        ("n1:n2:n3", "n1:n2:n3"),
        ("n1:", "n1:"),
        ("x,n3:n1", "n3:n1"),
        ("n10-n1", "n10-n1"),
        ("n01-n1", "n01-n1"),
        ("n1-n010", "n1-n010"),
        ("n001-n10", "n001-n10"),
    ],
)
def test_bad_ranges(text: str, part: str) -> None:
    err = error(text)
    assert err.part == part
    assert err.message.startswith(f"Invalid noderange fragment {part!r}: ")


def test_padded_low_bound_may_grow() -> None:
    assert expand_names("n98-n100") == ["n98", "n99", "n100"]
    assert expand_names("n098-n100") == ["n098", "n099", "n100"]
    assert expand_names("n[08-100]")[-3:] == ["n98", "n99", "n100"]
    assert expand_names("n[08-100]")[:2] == ["n08", "n09"]


def test_increment() -> None:
    assert expand_names("node10+3") == ["node10", "node11", "node12", "node13"]
    assert expand_names("n09+2") == ["n09", "n10", "n11"]
    assert expand_names("n001+2") == ["n001", "n002", "n003"]
    assert expand_names("n1+0") == ["n1"]
    assert expand_names("r1n5+1") == ["r1n5", "r1n6"]
    assert expand_names("n7.cluster+1") == ["n7.cluster", "n8.cluster"]


@pytest.mark.parametrize("text", ["n+3", "n1+", "n1+x", "+3", "n1+2+3"])
def test_bad_increment(text: str) -> None:
    assert error(text).part == text


def test_bare_numbers_use_prefix_and_suffix() -> None:
    assert expand_names("5") == ["node5"]
    assert expand_names("10-12") == ["node10", "node11", "node12"]
    assert expand_names("10:11") == ["node10", "node11"]
    assert expand_names("10+2") == ["node10", "node11", "node12"]
    got = nodes("5,07-08,3+1", node_prefix="cn", node_suffix="-ib")
    assert got == ["cn3-ib", "cn4-ib", "cn5-ib", "cn07-ib", "cn08-ib"]


def test_bare_numbers_are_resolved(cluster: DictResolver) -> None:
    assert expand("5,10-13", cluster) == Expansion(
        ["node5", "node10", "node11", "node12"], ["node13"]
    )


def test_bare_number_that_is_a_node_name_stays() -> None:
    resolver = DictResolver(["5", "node5"])
    assert nodes("5", resolver) == ["5"]


# --------------------------------------------------------------------------- #
# brackets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("node[01-03]", ["node01", "node02", "node03"]),
        ("node[01:03]", ["node01", "node02", "node03"]),
        ("node[1,3,5]", ["node1", "node3", "node5"]),
        ("n[1-3,7,9-10]", ["n1", "n2", "n3", "n7", "n9", "n10"]),
        ("f[1-2]n[1-3]", ["f1n1", "f1n2", "f1n3", "f2n1", "f2n2", "f2n3"]),
        ("r[1-2]-ib[0]", ["r1-ib0", "r2-ib0"]),
        ("n[1,01,001]", ["n001", "n01", "n1"]),
        ("n[0-6/2]", ["n0", "n2", "n4", "n6"]),
        ("n[ 1 - 2 , 4 ]", ["n1", "n2", "n4"]),
        ("[1-3]", ["1", "2", "3"]),
        ("[007]x", ["007x"]),
        ("n[1-2]-n[3]", ["n1-n3", "n2-n3"]),
        ("n[9-11]", ["n9", "n10", "n11"]),
    ],
)
def test_brackets(text: str, expected: list[str]) -> None:
    assert expand_names(text) == expected


def test_bracket_names_are_resolved(cluster: DictResolver) -> None:
    assert nodes("grp[1-2]", cluster) == ["n1", "n2"]
    assert expand("gpu[03-05]", cluster) == Expansion(["gpu03", "gpu04"], ["gpu05"])


@pytest.mark.parametrize(
    ("text", "part", "reason"),
    [
        ("n[1-", "n[1-", "unbalanced '['"),
        ("a,n[1-", "n[1-", "unbalanced '['"),
        ("n1-2]", "n1-2]", "unbalanced ']'"),
        ("n[1-2]]", "n[1-2]]", "unbalanced ']'"),
        ("n[]", "n[]", "empty brackets"),
        ("n[ ]", "n[ ]", "empty brackets"),
        ("n[5-1]", "n[5-1]", "reversed range 5-1"),
        ("n[1,,2]", "n[1,,2]", "bad range '' in brackets"),
        ("n[a-b]", "n[a-b]", "bad range 'a-b' in brackets"),
        ("n[1-2-3]", "n[1-2-3]", "bad range '1-2-3' in brackets"),
        ("n[-1]", "n[-1]", "bad range '-1' in brackets"),
        ("n[1/2]", "n[1/2]", "bad range '1/2' in brackets"),
        ("n[1-4/0]", "n[1-4/0]", "bad step in '1-4/0'"),
        ("n[01-1]", "n[01-1]", "padding mismatch in 01-1"),
        ("n[[1]]", "n[[1]]", "unbalanced ']'"),
        ("n[[1]", "n[[1]", "nested '['"),
    ],
)
def test_bracket_errors(text: str, part: str, reason: str) -> None:
    err = error(text)
    assert err.part == part
    assert str(err) == f"Invalid noderange fragment {part!r}: {reason}"
    assert isinstance(err, XcatError)


def test_documented_error_message() -> None:
    err = error("n[1-")
    assert str(err) == "Invalid noderange fragment 'n[1-': unbalanced '['"
    assert err.part == "n[1-"


# --------------------------------------------------------------------------- #
# regular expressions


def test_regex_full_match_against_nodes(cluster: DictResolver) -> None:
    assert nodes("/n1[0-2]", cluster) == ["n10", "n11", "n12"]
    assert nodes("/gpu0[13]", cluster) == ["gpu01", "gpu03"]
    # anchored: "n1" alone must not match n10..n19
    assert nodes("/n1", cluster) == ["n1"]
    # nodes only, never group names
    assert nodes("/rack.*", cluster) == []


def test_regex_with_commas_inside_brackets_and_parens(cluster: DictResolver) -> None:
    assert nodes("/n(1|2)", cluster) == ["n1", "n2"]
    assert nodes("/n[1,3]", cluster) == ["n1", "n3"]


def test_bad_regex(cluster: DictResolver) -> None:
    err = error("/n(1", cluster)
    assert (err.part, err.message) == ("/n(1", "Invalid noderange fragment '/n(1': unbalanced '('")
    err = error("/n**", cluster)
    assert err.part == "/n**"
    assert "invalid regular expression" in err.message


def test_regex_and_selector_need_resolver() -> None:
    assert error("/n.*").part == "/n.*"
    assert error("mgt==ipmi").part == "mgt==ipmi"


def test_all_nodes_is_fetched_once(cluster: DictResolver) -> None:
    expand("n1,n2,/n1.*,n[1-5],bogus", cluster)
    assert cluster.all_nodes_calls == 1


# --------------------------------------------------------------------------- #
# files


def test_file_atom(tmp_path: Path, cluster: DictResolver) -> None:
    listing = tmp_path / "nodes.txt"
    listing.write_text(
        "# comment line\n"
        "n1\n"
        "n2 extra words\n"
        "n3:colon suffix\n"
        "n4\tafter tab\n"
        "^/etc/shadow\n"
        "\n"
        "   \n"
        "gpu01-gpu02,n20\n"
        "n5\r\n"
    )
    expected = ["gpu01", "gpu02", "n1", "n2", "n3", "n4", "n5", "n20"]
    assert nodes(f"^{listing}", cluster) == expected
    assert nodes("^nodes.txt", cluster, cwd=str(tmp_path)) == expected
    assert nodes(f"all,-^{listing}", cluster) == [
        n for n in sorted(ALL, key=natural_key) if n not in expected
    ]
    assert nodes(f"rack1@^{listing}", cluster) == ["gpu01", "gpu02", "n1", "n2", "n3", "n4", "n5"]


def test_file_without_resolver(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("a1\nb[1-2]\n")
    assert expand_names(f"^{tmp_path / 'f'}") == ["a1", "b1", "b2"]


def test_file_names_missing(tmp_path: Path, cluster: DictResolver) -> None:
    (tmp_path / "f").write_text("n1\nghost\n")
    assert expand(f"^{tmp_path / 'f'}", cluster) == Expansion(["n1"], ["ghost"])


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    err = error(f"n1,^{missing}")
    assert str(missing) in err.message
    assert err.part == f"^{missing}"
    err = error("^nope", cwd=str(tmp_path))
    assert str(missing) in err.message
    assert error("^").part == "^"


def test_self_including_file(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.write_text(f"n1,^{loop}\n")
    err = error(f"^{loop}")
    assert "includes itself" in err.message


def test_files_naming_files_are_bounded(tmp_path: Path) -> None:
    (tmp_path / "c").write_text("n1\n")
    (tmp_path / "b").write_text("".join(f"x{i},^c\n" for i in range(20)))
    (tmp_path / "a").write_text("".join(f"y{i},^b\n" for i in range(20)))
    assert nodes("^b", cwd=str(tmp_path)) == ["n1"] + [f"x{i}" for i in range(20)]
    err = error("^a", cwd=str(tmp_path))
    assert "more than 256 files read" in err.message


# --------------------------------------------------------------------------- #
# exclusion, intersection, parentheses


def test_exclusion_is_order_independent(cluster: DictResolver) -> None:
    everything_but = [n for n in sorted(ALL, key=natural_key) if n != "n5"]
    assert nodes("all,-n5", cluster) == everything_but
    assert nodes("-n5,all", cluster) == everything_but
    assert nodes("n1-n3,-n2,n2", cluster) == ["n1", "n3"]
    assert expand_names("-a,a,b") == ["b"]
    assert expand_names("-a") == []


def test_exclusion_of_every_kind(cluster: DictResolver) -> None:
    assert nodes("compute,-n3-n20", cluster) == ["n1", "n2"]
    assert nodes("compute,-rack2", cluster) == _names("n{}", 1, 10)
    assert nodes("compute,-/n1.*", cluster) == _names("n{}", 2, 9) + ["n20"]
    assert nodes("compute,-n[3-20]", cluster) == ["n1", "n2"]
    assert nodes("rack1,-(gpu,n[4-10])", cluster) == ["n3"]
    assert expand_names("a[1-5],- a[2-4]") == ["a1", "a5"]


def test_exclusion_needs_an_operand() -> None:
    assert error("a,-").part == "-"
    assert error("a, - ").part == "-"


def test_intersection(cluster: DictResolver) -> None:
    assert nodes("rack1@gpu", cluster) == ["gpu01", "gpu02", "n1", "n2"]
    assert nodes("all@rack1@gpu", cluster) == ["gpu01", "gpu02", "n1", "n2"]
    assert nodes("gpu@n2-n5", cluster) == ["n2"]
    assert nodes("rack2@gpu", cluster) == ["gpu03", "gpu04"]


def test_at_binds_tighter_than_comma(cluster: DictResolver) -> None:
    # a,b@c is a | (b & c), as NodeRange.pm evaluates it
    assert nodes("n15,rack1@gpu", cluster) == ["gpu01", "gpu02", "n1", "n2", "n15"]
    assert nodes("rack1@gpu,n15", cluster) == ["gpu01", "gpu02", "n1", "n2", "n15"]
    # the leading minus of a term covers the whole chain
    assert nodes("rack1,-rack1@gpu", cluster) == _names("n{}", 3, 10)
    assert nodes("-rack1@gpu,rack1", cluster) == _names("n{}", 3, 10)


def test_minus_inside_a_chain_is_a_difference(cluster: DictResolver) -> None:
    assert nodes("rack1@-gpu", cluster) == _names("n{}", 3, 10)
    assert nodes("rack1@compute@-n[4-10]", cluster) == ["n1", "n2", "n3"]


def test_parentheses(cluster: DictResolver) -> None:
    assert nodes("all,-(rack1@gpu)", cluster) == [
        n for n in sorted(ALL, key=natural_key) if n not in {"gpu01", "gpu02", "n1", "n2"}
    ]
    assert nodes("(n1,n2,n15)@rack1", cluster) == ["n1", "n2"]
    assert nodes("gpu@(rack2,n1)", cluster) == ["gpu03", "gpu04", "n1"]
    assert nodes("((n1-n5,-n2)@(rack1,-n4)),n20", cluster) == ["n1", "n3", "n5", "n20"]
    assert nodes("rack1@(compute@(gpu,n3))", cluster) == ["n1", "n2", "n3"]
    assert nodes("'(n1,n2)'", cluster) == ["n1", "n2"]


def test_exclusions_apply_per_level(cluster: DictResolver) -> None:
    # the inner exclusion only trims the parenthesised set
    assert nodes("(n1-n5,-n3),n3", cluster) == ["n1", "n2", "n3", "n4", "n5"]


@pytest.mark.parametrize(
    ("text", "part", "reason"),
    [
        ("(a", "(a", "unbalanced '('"),
        ("a,(b,c", "(b,c", "unbalanced '('"),
        ("a)", "a)", "unbalanced ')'"),
        ("x,a),b", "a)", "unbalanced ')'"),
        ("((a)", "((a)", "unbalanced '('"),
        ("(a)b", "(a)b", "unexpected text after ')'"),
        ("()", "()", "empty parentheses"),
        ("a(b)", "a(b)", "unexpected parenthesis"),
        ("a@", "a@", "empty operand of '@'"),
        ("@a", "@a", "empty operand of '@'"),
        ("a@@b", "a@@b", "empty operand of '@'"),
        ("a@-", "a@-", "empty operand of '@'"),
    ],
)
def test_grouping_errors(text: str, part: str, reason: str) -> None:
    err = error(text)
    assert (err.part, err.message) == (part, f"Invalid noderange fragment {part!r}: {reason}")


def test_deep_nesting_is_refused_not_crashing() -> None:
    assert expand_names("(" * 30 + "a" + ")" * 30) == ["a"]
    err = error("(" * 5000 + "a" + ")" * 5000)
    assert "nested deeper" in err.message


# --------------------------------------------------------------------------- #
# attribute selectors


@pytest.mark.parametrize(
    ("atom", "parsed"),
    [
        ("nodehm.mgt==ipmi", ("nodehm.mgt", "==", "ipmi")),
        ("nodehm.mgt=ipmi", ("nodehm.mgt", "=", "ipmi")),
        ("mgt!=kvm", ("mgt", "!=", "kvm")),
        ("groups=~^rack", ("groups", "=~", "^rack")),
        ("nodehm.cons!~hmc", ("nodehm.cons", "!~", "hmc")),
        ("groups!~/^x/", ("groups", "!~", "/^x/")),
        ("nodetype.os==rhels5.3", ("nodetype.os", "==", "rhels5.3")),
        ("mgt==", ("mgt", "==", "")),
        ("a=b=c", ("a", "=", "b=c")),
        ("tags===x", ("tags", "==", "=x")),
    ],
)
def test_parse_selector(atom: str, parsed: tuple[str, str, str]) -> None:
    assert parse_selector(atom) == parsed


@pytest.mark.parametrize(
    "atom", ["n1", "n[1-2]", "/n.*", "=x", "a.b.c==d", "mgt~x", "9x==1", "a b==c", ""]
)
def test_not_a_selector(atom: str) -> None:
    assert parse_selector(atom) is None


def test_selectors_as_atoms(cluster: DictResolver) -> None:
    assert nodes("nodehm.mgt==ipmi", cluster) == N
    assert nodes("mgt==kvm", cluster) == GPU
    assert nodes("mgt!=ipmi,-mgt==", cluster) == GPU
    assert nodes("groups=~rack2", cluster) == ["gpu03", "gpu04"] + _names("n{}", 11, 20)
    assert nodes("nodehm.cons!~/i|k/", cluster) == sorted(DASHED + OTHER, key=natural_key)
    assert cluster.selects[0] == ("nodehm.mgt", "==", "ipmi")


def test_selectors_combine_like_atoms(cluster: DictResolver) -> None:
    assert nodes("gpu@mgt==ipmi", cluster) == ["n1", "n2"]
    assert nodes("rack1,-mgt==kvm", cluster) == _names("n{}", 1, 10)
    assert nodes("all,-mgt==kvm,-mgt==ipmi", cluster) == sorted(DASHED + OTHER, key=natural_key)
    assert nodes("-mgt==kvm,rack2", cluster) == _names("n{}", 11, 20)


def test_node_name_wins_over_selector() -> None:
    resolver = DictResolver(["a=b"])
    assert nodes("a=b", resolver) == ["a=b"]
    assert resolver.selects == []


# --------------------------------------------------------------------------- #
# site.excludenodes


def test_excludenodes_always_subtracted() -> None:
    resolver = make_cluster(excludenodes="rack2,n1")
    assert nodes("compute", resolver) == _names("n{}", 2, 10)
    assert nodes("n1,n11,n5", resolver) == ["n5"]


def test_excludenodes_are_a_full_noderange() -> None:
    resolver = make_cluster(excludenodes="mgt==kvm,(compute@-n[1-18])")
    assert nodes("rack2", resolver) == _names("n{}", 11, 18)
    assert nodes("gpu", resolver) == ["n1", "n2"]
    assert nodes("n17-n20", resolver) == ["n17", "n18"]


def test_excludenodes_unknown_names_are_not_missing() -> None:
    resolver = make_cluster(excludenodes="ghost,n1")
    assert expand("n1,n2", resolver) == Expansion(["n2"], [])


def test_bad_excludenodes_names_the_setting() -> None:
    resolver = make_cluster(excludenodes="n[1-")
    err = error("n1", resolver)
    assert err.message.startswith("site.excludenodes: ")
    assert err.part == "n[1-"


# --------------------------------------------------------------------------- #
# limits and hostile input


def test_limit_on_a_single_range() -> None:
    assert len(expand_names("n[1-1000]")) == 1000
    assert len(nodes("n[1-50]", limit=50)) == 50
    for text in ("n[1-51]", "n1-n51", "n1:n51", "n1+50", "a[1-10]b[1-6]"):
        err = error(text, limit=50)
        assert err.part == text
        assert "too many nodes" in err.message


def test_limit_is_cumulative() -> None:
    err = error("a[1-30],b[1-30]", limit=50)
    assert err.part == "b[1-30]"


def test_huge_numbers_fail_fast() -> None:
    assert "too many nodes" in error("n[1-99999999999999999999999]").message
    assert "too many nodes" in error("n1+" + "9" * 40).message
    assert "too large" in error("n1-n" + "9" * 2000).message
    big = "n" + "7" * 5000
    assert expand_names(big) == [big]
    assert expand_names(f"x[{'1' * 5000}]") == ["x" + "1" * 5000]


def test_long_inputs_stay_linear() -> None:
    many = ",".join(f"n{i}" for i in range(20000))
    assert len(expand_names(many)) == 20000
    assert expand_names("a" * 50000 + "-") == ["a" * 50000 + "-"]
    assert expand_names("-" * 5001 + "x") == []
    with pytest.raises(NoderangeError):
        expand_names("[" * 10000)
    with pytest.raises(NoderangeError):
        expand_names("n1:" * 10000)


# --------------------------------------------------------------------------- #
# natural order


def test_natural_key_order() -> None:
    names = ["n10", "n2", "n1", "n01", "a", "a1", "n1a", "n1b2", "n1b10", "b", "10", "9", "n"]
    assert sorted(names, key=natural_key) == [
        "9", "10", "a", "a1", "b", "n", "n01", "n1", "n1a", "n1b2", "n1b10", "n2", "n10",
    ]  # fmt: skip


def test_natural_key_ties_and_huge_runs() -> None:
    assert natural_key("n01") < natural_key("n1")
    huge = "n" + "9" * 6000
    assert sorted([huge, "n5", "n" + "1" * 6000], key=natural_key) == ["n5", "n" + "1" * 6000, huge]


# --------------------------------------------------------------------------- #
# fold


@pytest.mark.parametrize(
    ("names", "folded"),
    [
        ([], ""),
        (["n5"], "n5"),
        (["n1", "n2", "n3"], "n[1-3]"),
        (_names("gpu{:02d}", 1, 8) + _names("n{:03d}", 1, 240), "gpu[01-08],n[001-240]"),
        (["n1", "n3", "n4", "n5", "n9"], "n[1,3-5,9]"),
        (["n01", "n1"], "n[1,01]"),
        (["n1", "n2", "n01", "n02"], "n[1-2,01-02]"),
        (["n09", "n10", "n11"], "n[09-11]"),
        (_names("n{:02d}", 1, 100), "n[01-99,100]"),
        (["n0", "n00", "n000"], "n[0,00,000]"),
        (["f1n1", "f1n2", "f2n1", "f2n2", "f3n1", "f3n2"], "f[1-3]n[1-2]"),
        (["r1u1", "r1u2", "r2u1"], "r1u[1-2],r2u1"),
        (["a", "c", "b", "a"], "a,b,c"),
        (["x", "n2", "n1"], "n[1-2],x"),
        (["5"], "[5]"),
        (["5", "6"], "[5-6]"),
        (["n1-n3"], "n1-n[3]"),
        (["n1-n1"], "n1-n[1]"),
        (["n1-ib", "n2-ib"], "n[1-2]-ib"),
        (["n1-ib"], "n1-ib"),
        (["a:1"], "a:[1]"),
        (["n1+2"], "n1+[2]"),
        (["a-a", "b-c-d"], "a-a,b-c-d"),
    ],
)
def test_fold_examples(names: list[str], folded: str) -> None:
    assert fold(names) == folded
    assert set(expand_names(folded)) == set(names)


def test_fold_grid_and_scattered() -> None:
    grid = [f"r{r}u{u:02d}" for r in range(1, 101) for u in range(1, 101)]
    assert fold(grid) == "r[1-100]u[01-99,100]"
    xnames = [
        f"x{a}c{b}s{c}b{d}"
        for a in range(2000, 2074)
        for b in range(8)
        for c in range(8)
        for d in range(2)
    ]
    assert fold(xnames) == "x[2000-2073]c[0-7]s[0-7]b[0-1]"


def test_fold_long_digit_runs_and_odd_names() -> None:
    long_name = "n" + "1" * 30
    assert fold([long_name, "n1"]) == f"n1,{long_name}"
    assert fold(["a,b"]) == "a,b"  # no faithful form: emitted as is


# --------------------------------------------------------------------------- #
# property tests

_TEXTS = st.sampled_from(["", "a", "n", "rack", "x.", "b_", "c-", "u"])
_SEPS = st.sampled_from(["a", "n", "-", ".", "r", "s-", "-ib"])


@st.composite
def _number(draw: st.DrawFn) -> str:
    value = draw(st.integers(min_value=0, max_value=1200))
    width = draw(st.sampled_from([0, 0, 2, 3, 4]))
    return str(value).zfill(width)


@st.composite
def _name(draw: st.DrawFn) -> str:
    runs = draw(st.integers(min_value=1, max_value=3))
    out = draw(_TEXTS)
    for i in range(runs):
        out += draw(_number())
        if i < runs - 1:
            out += draw(_SEPS)
    return out + draw(st.sampled_from(["", "", "x", "-e"]))


_NAME_LISTS = st.lists(_name(), min_size=0, max_size=60)


@given(_NAME_LISTS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fold_round_trips(names: list[str]) -> None:
    folded = fold(names)
    assert set(expand_names(folded)) == set(names)
    assert fold(expand_names(folded)) == folded
    assert fold(reversed(names)) == folded


@given(_NAME_LISTS)
@settings(max_examples=200, deadline=None)
def test_expand_is_sorted_and_unique(names: list[str]) -> None:
    got = expand_names(fold(names))
    assert got == sorted(set(got), key=natural_key)


@given(st.lists(_name(), min_size=1, max_size=30))
@settings(max_examples=200, deadline=None)
def test_fold_never_longer_than_plain_join(names: list[str]) -> None:
    plain = ",".join(dict.fromkeys(names))
    folded = fold(names)
    # protected singletons add two brackets each at most
    assert len(folded) <= len(plain) + 2 * len(set(names))


# --------------------------------------------------------------------------- #
# ClusterShell parity on the bracket syntax both share


@st.composite
def _bracket_item(draw: st.DrawFn) -> str:
    width = draw(st.sampled_from([0, 0, 2, 3]))
    lo = draw(st.integers(min_value=0, max_value=150))
    if draw(st.booleans()):
        return str(lo).zfill(width)
    hi = lo + draw(st.integers(min_value=0, max_value=12))
    if width and len(str(hi)) > width:
        hi = 10**width - 1
        lo = min(lo, hi)
    return f"{str(lo).zfill(width)}-{str(hi).zfill(width)}"


@st.composite
def _bracket_expr(draw: st.DrawFn) -> str:
    dims = draw(st.integers(min_value=1, max_value=3))
    out = draw(st.sampled_from(["n", "rack", "x-", "gpu"]))
    for i in range(dims):
        items = draw(st.lists(_bracket_item(), min_size=1, max_size=3))
        if len(items) == 1 and draw(st.booleans()):
            out += items[0] if "-" not in items[0] else "[" + items[0] + "]"
        else:
            out += "[" + ",".join(items) + "]"
        # ClusterShell refuses adjacent brackets, so dimensions are always separated
        out += draw(st.sampled_from(["s", "-p", "c"] if i < dims - 1 else ["", "", "-ib"]))
    return out


@given(st.lists(_bracket_expr(), min_size=1, max_size=3))
@settings(max_examples=300, deadline=None)
def test_expand_matches_clustershell(exprs: list[str]) -> None:
    nodeset = pytest.importorskip("ClusterShell.NodeSet")
    text = ",".join(exprs)
    assert set(expand_names(text)) == set(nodeset.NodeSet(text))


@given(_NAME_LISTS)
@settings(max_examples=300, deadline=None)
def test_fold_matches_clustershell(names: list[str]) -> None:
    nodeset = pytest.importorskip("ClusterShell.NodeSet")
    assert set(nodeset.NodeSet(fold(names))) == set(nodeset.NodeSet.fromlist(names))


def test_fold_output_equals_clustershell_for_simple_sets() -> None:
    nodeset = pytest.importorskip("ClusterShell.NodeSet")
    for names in (
        _names("n{}", 1, 10) + ["n12"],
        _names("n{:03d}", 5, 17),
        ["f1n1", "f1n2", "f2n1", "f2n2"],
        ["n9", "n10", "n09"],
        ["n1", "n01"],
    ):
        assert fold(names) == str(nodeset.NodeSet.fromlist(names))
