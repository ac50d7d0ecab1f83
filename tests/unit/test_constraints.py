"""ConstraintSet: union-find must-link groups, cannot-links across groups, conflicts named."""

from __future__ import annotations

import pytest

from graphcluster.clustering import ConstraintSet
from graphcluster.errors import ConstraintConflict


def test_must_link_is_transitive() -> None:
    cs = ConstraintSet([("a", "b", "d1"), ("b", "c", "d2"), ("x", "y", "d3")])
    assert cs.group("a") == {"a", "b", "c"}
    assert cs.group("c") == {"a", "b", "c"}
    assert cs.group("lonely") == {"lonely"}
    assert {frozenset(g) for g in cs.groups()} == {frozenset("abc"), frozenset("xy")}
    assert cs.find("c") == "a"  # the smallest id represents the group


def test_cannot_link_holds_between_whole_groups() -> None:
    cs = ConstraintSet([("a", "b", "m1")], [("b", "z", "c1")])
    assert cs.cannot_partners("a") == {"z"}
    assert cs.conflicts_between(["a"], ["z"]) == ["c1"]


def test_must_link_across_cannot_link_names_both_decisions() -> None:
    cs = ConstraintSet([("a", "b", "m1")], [("b", "z", "c1")])
    with pytest.raises(ConstraintConflict) as err:
        cs.check_must_link("a", "z")
    assert err.value.conflicts[0] == "c1"
    assert "m1" in err.value.conflicts
    assert "'a'" in str(err.value) and "'z'" in str(err.value)


def test_cannot_link_inside_group_names_the_path() -> None:
    cs = ConstraintSet([("a", "b", "m1"), ("b", "c", "m2"), ("c", "d", "m3"), ("a", "q", "m9")])
    with pytest.raises(ConstraintConflict) as err:
        cs.check_cannot_link("a", "d")
    assert err.value.conflicts == ["m1", "m2", "m3"]


def test_consistent_decisions_pass() -> None:
    cs = ConstraintSet([("a", "b", "m1")], [("a", "z", "c1")])
    cs.check_must_link("a", "b")  # already the same group
    cs.check_must_link("a", "new")
    cs.check_cannot_link("b", "other")
    with pytest.raises(ConstraintConflict):
        cs.check_cannot_link("a", "a")
