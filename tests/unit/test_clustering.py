"""Hand-built graphs: the clusters, constraints, stable ids, statuses and review questions."""

from __future__ import annotations

import itertools
import math
import random

import networkx as nx
import pytest

from graphcluster.clustering import fragments
from graphcluster.clustering import (
    DEFAULT_TUNING,
    MemoryGraph,
    RegionResult,
    Thresholds,
    Tuning,
    build_region,
    chinese_whispers,
    recluster,
)
from graphcluster.clustering.constraints import ConstraintSet
from graphcluster.clustering.region import Region

T = Thresholds.from_link(0.4, source="settings")


def ids() -> itertools.count[int]:
    return itertools.count()


def run(g: MemoryGraph, seeds: list[str] | None = None, *, counter: itertools.count[int] | None = None,
        limit: int = 300, seed: int = 0, thresholds: Thresholds = T) -> RegionResult:
    counter = counter or ids()
    region = build_region(g, seeds if seeds is not None else g.faces(), thresholds, region_limit=limit)
    result = recluster(region, thresholds, seed=seed, new_id=lambda: f"c{next(counter)}")
    g.apply(result)
    return result


def clique(prefix: str, n: int, d: float = 0.2) -> list[tuple[str, str, float]]:
    return [(f"{prefix}{i}", f"{prefix}{j}", d) for i in range(n) for j in range(i + 1, n)]


def partition(g: MemoryGraph) -> set[frozenset[str]]:
    return {frozenset(m) for m in g.clusters().values()}


def test_two_people_joined_by_one_look_alike_stay_apart() -> None:
    g = MemoryGraph()
    g.add_edges(clique("a", 6) + clique("b", 6) + [("a0", "b0", 0.35)])
    run(g)
    assert partition(g) == {frozenset(f"a{i}" for i in range(6)), frozenset(f"b{i}" for i in range(6))}


def test_faces_without_a_close_neighbour_are_unassigned() -> None:
    g = MemoryGraph()
    g.add_edges(clique("a", 4) + [("a0", "x", 0.45), ("y", "z", 0.5)])
    result = run(g)
    assert partition(g) == {frozenset({"a0", "a1", "a2", "a3"})}
    assert g.labels(["x"])["x"] == (None, "unassigned")
    assert result.labels["y"] is None


def test_cannot_link_stops_a_middle_man() -> None:
    g = MemoryGraph()
    g.add_edges([("a", "m", 0.2), ("m", "b", 0.2)])
    g.cannot_link("a", "b", "c1")
    run(g)
    clusters = partition(g)
    assert not any({"a", "b"} <= c for c in clusters)


def test_must_link_joins_far_faces() -> None:
    g = MemoryGraph()
    g.add_edges(clique("a", 3) + clique("b", 3))
    g.must_link("a0", "b0", "m1")
    run(g)
    assert partition(g) == {frozenset({"a0", "a1", "a2", "b0", "b1", "b2"})}


def test_cannot_link_inside_a_cluster_splits_it_by_closeness() -> None:
    g = MemoryGraph()
    edges = clique("a", 4, 0.2) + clique("b", 4, 0.2) + [("a0", "b0", 0.3), ("a1", "b1", 0.3),
                                                          ("a2", "b2", 0.3), ("a3", "b3", 0.3)]
    g.add_edges(edges)
    counter = ids()
    run(g, counter=counter)
    assert len(partition(g)) == 1  # one cluster while no human has spoken
    before = g.labels(["a0"])["a0"][0]
    g.cannot_link("a3", "b3", "c1")
    result = run(g, counter=counter)
    assert partition(g) == {frozenset(f"a{i}" for i in range(4)), frozenset(f"b{i}" for i in range(4))}
    assert g.labels(["a0"])["a0"][0] == before  # the larger overlap keeps the id
    assert len(result.new_clusters) == 1


def test_locked_clusters_never_merge_and_a_merge_question_is_asked() -> None:
    g = MemoryGraph()
    g.add_edges(clique("a", 3) + clique("b", 3))
    for f in ("a0", "a1", "a2"):
        g.set_label(f, "A")
    for f in ("b0", "b1", "b2"):
        g.set_label(f, "B")
    g.lock("A")
    g.lock("B")
    g.add_edges([(f"a{i}", f"b{j}", 0.22) for i in range(3) for j in range(3)])
    result = run(g)
    assert g.clusters() == {"A": ["a0", "a1", "a2"], "B": ["b0", "b1", "b2"]}
    assert any(r[0] == "merge" and {r[3], r[4]} == {"A", "B"} for r in result.reviews)


def test_locked_cluster_grows_but_keeps_its_id() -> None:
    g = MemoryGraph()
    g.add_edges(clique("a", 3))
    for f in ("a0", "a1", "a2"):
        g.set_label(f, "A")
    g.lock("A")
    g.add_edges([("new", "a0", 0.2), ("new", "a1", 0.2), ("new", "a2", 0.25)])
    result = run(g, ["new"])
    assert g.clusters() == {"A": ["a0", "a1", "a2", "new"]}
    assert result.memberships == {"new": ("A", result.memberships["new"][1], result.memberships["new"][2])}


def test_pinned_and_forbidden_faces() -> None:
    g = MemoryGraph()
    g.add_edges(clique("a", 4) + [("p", "a0", 0.2), ("p", "a1", 0.2), ("q", "a0", 0.2), ("q", "a1", 0.2)])
    run(g)
    cid = g.labels(["a0"])["a0"][0]
    assert cid is not None
    g.pin("p", "ELSEWHERE")
    g.forbid("q", cid)
    run(g)
    assert g.labels(["p"])["p"] == ("ELSEWHERE", "manual")
    assert g.labels(["q"])["q"][0] != cid


def test_new_identity_question_for_a_large_new_group() -> None:
    g = MemoryGraph()
    g.add_edges(clique("n", 5))
    result = run(g)
    kinds = [r[0] for r in result.reviews]
    assert kinds.count("new_identity") == 1
    review = next(r for r in result.reviews if r[0] == "new_identity")
    assert set(review[1]) == {f"n{i}" for i in range(5)}


def test_edge_face_is_assigned_for_review() -> None:
    g = MemoryGraph()
    g.add_edges(clique("a", 5, 0.1) + clique("b", 5, 0.1))
    # x: one link into a at the threshold's edge, as much pull (below link) towards b
    g.add_edges([("x", "a0", 0.38), ("x", "b0", 0.39)])
    result = run(g)
    status = g.labels(["x"])["x"][1]
    assert status == "review"
    assert any(r[0] == "face" and r[1] == ["x"] for r in result.reviews)


def test_untouched_region_changes_nothing_and_ids_are_stable() -> None:
    g = MemoryGraph()
    g.add_edges(clique("a", 5) + clique("b", 4) + [("a0", "b0", 0.39)])
    run(g)
    before = g.labels(g.faces())
    again = run(g)
    assert again.memberships == {} and again.new_clusters == [] and again.emptied_clusters == []
    assert g.labels(g.faces()) == before


def _one_person(seed: int = 5) -> MemoryGraph:
    g = MemoryGraph()
    rng = random.Random(seed)  # one person's kNN graph: each face linked to 8 others of 200
    g.add_edges((f"a{i}", f"a{j}", 0.2 + 0.1 * rng.random()) for i in range(200) for j in rng.sample(range(200), 8))
    run(g, limit=1000)
    return g


def test_a_region_leaves_out_the_faces_it_is_told_are_unseen() -> None:
    # a first import clusters its faces a chunk at a time; the faces of later chunks are stored
    # already but stay out of the region, as if they had not arrived yet
    g = MemoryGraph()
    g.add_edges([("s0", "s1", 0.1), ("s0", "later0", 0.1), ("s1", "later1", 0.2), ("later0", "later1", 0.1)])
    region = build_region(g, ["s0", "s1"], T, unseen=lambda f: f.startswith("later"))
    assert region.faces == {"s0", "s1"}
    assert [e[:2] for e in region.edges] == [("s0", "s1")]
    assert build_region(g, ["s0", "s1"], T).faces == {"s0", "s1", "later0", "later1"}


def test_large_cluster_contributes_a_bounded_neighbourhood() -> None:
    g = _one_person()
    assert len(g.clusters()) == 1
    g.add_edges([("new", "a0", 0.2), ("new", "a1", 0.2)])
    region = build_region(g, ["new"], T, region_limit=20)
    assert len(region.faces) <= 21
    assert sum(region.outside.values()) == 200 - (len(region.faces) - 1)
    counter = ids()
    result = recluster(region, T, new_id=lambda: f"n{next(counter)}")
    cid = g.labels(["a0"])["a0"][0]
    assert result.memberships["new"][0] == cid
    assert result.emptied_clusters == [] and result.new_clusters == []


@pytest.mark.parametrize("d, source, joins", [(0.30, "settings", True), (0.39, "settings", False), (0.39, "fallback", True)])
def test_a_face_joins_a_held_cluster_only_by_a_link_its_re_check_would_keep(d: float, source: str, joins: bool) -> None:
    # one link into a 200-face cluster held outside the region: close, the face joins; at
    # 0.39 (above split_join x link = 0.384, a look-alike's distance) a re-check of the whole
    # cluster would peel it off, so it does not join between re-checks either. Under a
    # fallback link the re-check does not run (it would keep the link), so the face joins
    t = Thresholds.from_link(0.4, source=source)
    g = _one_person()
    (cid,) = g.clusters()
    g.add_edges([("new", "a0", d)])
    region = build_region(g, ["new"], t, region_limit=6)
    assert region.outside[cid] > 150
    counter = ids()
    result = recluster(region, t, new_id=lambda: f"n{next(counter)}")
    placed = result.memberships.get("new", (None, "unassigned", 0.0))[0]
    assert (placed == cid) is joins, result.memberships
    assert all(c == cid for f, (c, _, _) in result.memberships.items() if f != "new")


def test_a_slice_of_a_large_cluster_is_not_cut_off_as_a_new_cluster() -> None:
    # the new face meets a few members of a 200-face cluster: the slice in the region is a
    # tree, and Chinese Whispers' ties would cut part of it (with the new face) off
    g = _one_person()
    (cid,) = g.clusters()
    g.add_edges([("new", "a0", 0.2), ("new", "a1", 0.2)])
    region = build_region(g, ["new"], T, region_limit=6)
    assert region.outside[cid] > 150
    counter = ids()
    result = recluster(region, T, new_id=lambda: f"n{next(counter)}")
    assert result.new_clusters == []
    assert {c for c, _, _ in result.memberships.values()} == {cid}


def test_a_cut_off_slice_with_a_cannot_link_into_its_cluster_does_stay_apart() -> None:
    g = _one_person()
    (cid,) = g.clusters()
    g.add_edges([("new", "a0", 0.2), ("new", "a1", 0.2)])
    g.cannot_link("new", "a150", "d1")  # a150 is held outside the region
    region = build_region(g, ["new"], T, region_limit=6)
    assert "a150" not in region.faces
    counter = ids()
    result = recluster(region, T, new_id=lambda: f"n{next(counter)}")
    assert result.labels["new"] != cid  # unassigned, or a cluster of its own


def test_a_cannot_link_partner_held_outside_the_region_still_keeps_its_cluster_closed() -> None:
    # the new face is close to six members of a 200-face cluster, but a human said it is not
    # the same person as a150, a member the region does not load
    g = _one_person()
    (cid,) = g.clusters()
    g.add_edges([("new", f"a{i}", 0.1) for i in range(6)])
    g.cannot_link("new", "a150", "d1")
    region = build_region(g, ["new"], T, region_limit=30)
    assert "a150" not in region.faces and region.outside[cid] > 100
    assert cid in region.forbidden["new"]
    counter = ids()
    result = recluster(region, T, new_id=lambda: f"n{next(counter)}")
    assert result.labels["new"] != cid


def _chain_person(n: int = 200, label: str = "H", prefix: str = "a", hops: int = 1) -> MemoryGraph:
    """One person of ``n`` faces, each linked to the next ``hops`` at 0.3, all in ``label``."""
    g = MemoryGraph()
    g.add_edges((f"{prefix}{i:03d}", f"{prefix}{j:03d}", 0.3) for i in range(n) for j in range(i + 1, min(n, i + 1 + hops)))
    for i in range(n):
        g.set_label(f"{prefix}{i:03d}", label)
    return g


def test_a_new_person_that_pulls_one_member_of_a_held_cluster_over_is_not_absorbed() -> None:
    # twenty new faces of one new person; three of them are close to a000 of a held 200-face cluster
    new = [f"n{i:02d}" for i in range(20)]
    g = _chain_person(hops=3)
    g.add_edges((a, b, 0.1) for a, b in itertools.combinations(new, 2))
    g.add_edges([(x, "a000", 0.15) for x in new[:3]])
    region = build_region(g, new, T, region_limit=10)
    assert region.outside["H"] > 150
    counter = ids()
    result = recluster(region, T, new_id=lambda: f"n{next(counter)}")
    assert {result.labels[f] for f in new} == {"n0"}


def test_the_half_a_decision_splits_off_is_not_absorbed_into_a_held_neighbour() -> None:
    a, b = [f"a{i}" for i in range(5)], [f"b{i}" for i in range(5)]
    g = _chain_person(label="K", prefix="k", hops=3)
    g.add_edges((x, y, 0.1) for half in (a, b) for x, y in itertools.combinations(half, 2))
    g.add_edges(zip(a, b, [0.35] * 5))
    for f in a + b:
        g.set_label(f, "C")
    g.add_edges([(x, "k000", 0.15) for x in b[:3]])
    g.cannot_link("a0", "b0", "d1")
    region = build_region(g, a + b, T, region_limit=11)  # the engine's limit for a decision
    assert region.outside["K"] > 150 and "C" not in region.outside
    counter = ids()
    result = recluster(region, T, new_id=lambda: f"n{next(counter)}")
    assert "K" not in {result.labels[f] for f in b}
    assert result.labels["a0"] != result.labels["b0"]


@pytest.mark.parametrize("how", ["cannot-link to a face held outside", "not this person"])
def test_a_face_never_gets_a_forbidden_cluster_through_the_id_mapping(how: str) -> None:
    # Chinese Whispers moves the cluster's slice onto x's label; the overlap would then hand
    # that label the cluster's id
    g = _chain_person()
    g.add_edges([("x", "a000", 0.05), ("x", "a001", 0.05), ("x", "a002", 0.05)])
    if how == "not this person":
        g.forbid("x", "H")
    else:
        g.cannot_link("x", "a150", "d1")
    region = build_region(g, ["x"], T, region_limit=10)
    assert "H" in region.forbidden["x"] and region.outside["H"] > 100
    result = recluster(region, T, new_id=lambda: "fresh")
    assert result.labels["x"] != "H"


def test_chinese_whispers_alone() -> None:
    g = nx.Graph()
    g.add_weighted_edges_from([(1, 2, 1.0), (2, 3, 1.0), (1, 3, 1.0), (4, 5, 1.0), (5, 6, 1.0), (4, 6, 1.0), (3, 4, 0.1)])
    lab = chinese_whispers(g, seed=3)
    groups = {frozenset(n for n in lab if lab[n] == x) for x in set(lab.values())}
    assert groups == {frozenset({1, 2, 3}), frozenset({4, 5, 6})}
    assert chinese_whispers(g, seed=3) == lab
    clamped = chinese_whispers(g, seed=1, clamped={1: "L"}, cannot={2: {1}})
    assert clamped[1] == "L" and clamped[2] != "L"


def test_a_crowd_of_look_alikes_is_split_back_into_people() -> None:
    """Three people (tight cliques) inside a crowd: every cross pair is within ``link``.

    Plain Chinese Whispers chains them into one cluster; the re-check of the cluster finds
    the tight parts and keeps them apart, because their links average well above the links
    inside each person.
    """
    g = MemoryGraph()
    people = [clique(p, 5, 0.15) for p in "xyz"]
    cross = [(f"{p}{i}", f"{q}{j}", 0.39) for p, q in (("x", "y"), ("y", "z"), ("x", "z"))
             for i in range(5) for j in range(5)]
    g.add_edges([e for pe in people for e in pe] + cross)
    run(g)
    assert partition(g) == {frozenset(f"{p}{i}" for i in range(5)) for p in "xyz"}


def test_one_person_with_a_loose_part_stays_whole() -> None:
    g = MemoryGraph()
    loose = [(f"a{i}", f"b{j}", 0.25) for i in range(6) for j in range(6)]
    g.add_edges(clique("a", 6, 0.2) + clique("b", 6, 0.22) + loose)
    run(g)
    assert partition(g) == {frozenset([f"a{i}" for i in range(6)] + [f"b{i}" for i in range(6)])}


def test_a_lone_face_joins_the_cluster_all_its_near_neighbours_agree_on() -> None:
    """x has no link closer than ``link`` (0.4) but four edges at 0.42 < ``review`` into one
    cluster and nowhere else: the neighbours vote unanimously (``attach_lone``)."""
    g = MemoryGraph()
    g.add_edges(clique("a", 6, 0.1) + [("x", f"a{i}", 0.42) for i in range(4)])
    run(g)
    assert g.labels(["x"])["x"][0] == g.labels(["a0"])["a0"][0] is not None


def test_a_lone_face_stays_alone_when_its_neighbours_disagree_or_are_too_few_and_lone_ones_abstain() -> None:
    g = MemoryGraph()
    g.add_edges(clique("a", 6, 0.1) + clique("b", 6, 0.1))
    g.add_edges([("x", f"a{i}", 0.42) for i in range(4)] + [("x", "b0", 0.42)])  # one vote elsewhere
    g.add_edges([("y", f"a{i}", 0.42) for i in range(DEFAULT_TUNING.attach_min - 1)])  # too few votes
    g.add_edges([("z", f"a{i}", 0.42) for i in range(4)] + [("z", "w", 0.42)])  # a lone face abstains
    run(g)
    assert all(g.labels([f])[f] == (None, "unassigned") for f in "xyw")
    assert g.labels(["z"])["z"][0] == g.labels(["a0"])["a0"][0] is not None


def test_under_a_fallback_link_a_hard_photo_joins_by_a_unanimous_vote_and_a_stranger_does_not() -> None:
    """A family album: no nearest-stranger mode, so ``link`` (0.3) is the same-person mode's
    upper tail and ``review`` (0.45) the lower tail of random pairs. x, a hard photo, has no
    link but four neighbours at 0.42 all in one person's cluster and joins it; y, a stranger
    between two people, has votes for both and stays alone."""
    fallback = Thresholds(link=0.3, review=0.45, source="fallback")
    g = MemoryGraph()
    g.add_edges(clique("a", 6, 0.1) + clique("b", 6, 0.1) + [("x", f"a{i}", 0.42) for i in range(4)]
                + [("y", f"a{i}", 0.42) for i in range(4)] + [("y", "b0", 0.43)])
    run(g, thresholds=fallback)
    assert g.labels(["x"])["x"][0] == g.labels(["a0"])["a0"][0] is not None
    assert g.labels(["y"])["y"] == (None, "unassigned")


def test_faces_held_by_their_neighbours_votes_stay_when_their_cluster_is_rechecked() -> None:
    """x and y belong to a cluster only through edges at 0.42 (between ``link`` and ``review``),
    three each into its core, and are each other's neighbour. The re-check of the cluster
    (``split_weak``, ten nodes) peels both off at once; each counts the other's vote for the
    cluster it was in (four votes, ``attach_min``), or a face attached in one batch is lost in
    the next."""
    g = MemoryGraph()
    g.add_edges(clique("a", 8, 0.1) + [(f, f"a{i}", 0.42) for f in "xy" for i in range(3)] + [("x", "y", 0.42)])
    for f in [f"a{i}" for i in range(8)] + ["x", "y"]:
        g.set_label(f, "C")
    result = run(g)
    assert result.labels["x"] == result.labels["y"] == result.labels["a0"] == "C"


def test_a_lone_face_is_not_attached_against_a_decision() -> None:
    g = MemoryGraph()
    g.add_edges(clique("a", 6, 0.1) + [(f, f"a{i}", 0.42) for f in ("x", "y") for i in range(4)])
    run(g)
    cid = g.labels(["a0"])["a0"][0]
    assert cid is not None
    g.set_label("x", None, "unassigned")
    g.set_label("y", None, "unassigned")
    g.cannot_link("x", "a5", "d1")
    g.forbid("y", cid)
    run(g, ["x", "y"])
    assert g.labels(["x"])["x"][0] is None and g.labels(["y"])["y"][0] is None


def _two_part_cluster(cross: float, size: int = 6) -> nx.Graph:
    """Two tight cliques of ``size`` nodes (links at 0.1) joined by links at ``cross``."""
    graph = nx.Graph()
    for p in "pq":
        for i, j in itertools.combinations(range(size), 2):
            graph.add_edge(f"{p}{i}", f"{p}{j}", weight=1.0, n=1, dsum=0.1)
    for i in range(size):
        for j in range(size):
            graph.add_edge(f"p{i}", f"q{j}", weight=1.0, n=1, dsum=cross)
    return graph


def test_split_weak_tightens_the_join_in_a_dense_neighbourhood() -> None:
    """Parts joined at 0.9 x link stay one cluster where the surroundings sit at the usual
    impostor distance, and fall apart where every member's nearest outsider is at 0.8 x the
    nearest-impostor mode (a dense crowd: the join limit shrinks to 0.96 x 0.8 x link)."""
    link, mode = 0.4, 0.5

    def labels_after(outside: float | None) -> set[fragments.Label]:
        graph = _two_part_cluster(0.9 * link)
        label: dict[str, fragments.Label] = {u: ("c", "A") for u in graph.nodes}
        fragments.split_weak(graph, label, {}, {}, link, 0, lambda _u, _lab: outside, mode)
        return set(label.values())

    assert labels_after(None) == {("c", "A")}
    assert labels_after(1.2 * mode) == {("c", "A")}
    assert len(labels_after(0.8 * mode)) == 2


def test_split_weak_doubts_a_small_cluster_instead_of_splitting_it() -> None:
    """Six nodes in two tight parts, in a dense neighbourhood: a cluster of twelve like that is
    split (above), one of six keeps its label and its nodes are returned as doubtful; with
    ``doubt_min=0`` nothing is returned, and with the usual surroundings nothing is doubted."""
    link, mode = 0.4, 0.5
    graph = _two_part_cluster(0.9 * link, size=3)

    def doubted(outside: float, tuning: Tuning = DEFAULT_TUNING) -> tuple[set[fragments.Label], set[fragments.Label]]:
        label: dict[str, fragments.Label] = {u: ("c", "A") for u in graph.nodes}
        out = fragments.split_weak(graph, label, {}, {}, link, 0, lambda _u, _lab: outside, mode, tuning)
        return out, set(label.values())

    assert doubted(0.8 * mode) == ({("c", "A")}, {("c", "A")})
    assert doubted(1.2 * mode) == (set(), {("c", "A")})
    assert doubted(0.8 * mode, Tuning(doubt_min=0)) == (set(), {("c", "A")})
    assert doubted(0.8 * mode, Tuning(split_min=0)) == (set(), {("c", "A")})  # no re-check at all


def test_faces_of_a_doubted_small_cluster_are_assigned_for_review_not_auto() -> None:
    """Two tight triples linked at 0.3 (under link 0.4) form one cluster; its members' nearest
    outsiders (0.42-0.43) are far closer than the nearest-impostor mode (0.7), so the re-check's
    join limit shrinks below 0.3: the six stay together, assigned as 'review', and so is z, a
    lone face the neighbours' vote attaches to them. Where the surroundings are about as far as
    the impostor mode (0.43 against 0.5: the limit stays above 0.3) the six are 'auto' and z
    joins them with the status of its own confidence."""
    def statuses(outsider_at: float, mode: float) -> tuple[set[tuple[str | None, str]], tuple[str | None, str]]:
        g = MemoryGraph()
        g.add_edges(clique("p", 3, 0.1) + clique("q", 3, 0.1)
                    + [(f"p{i}", f"q{j}", 0.3) for i in range(3) for j in range(3)]
                    + [(f"{p}{i}", f"o{p}{i}", outsider_at) for p in "pq" for i in range(3)]
                    + [("z", f, 0.43) for f in ("p0", "p1", "q0", "q1")])
        t = Thresholds(link=0.4, review=0.45, source="calibrated", stats={"impostor_mode": mode})
        run(g, thresholds=t)
        return {g.labels([f])[f][:2] for f in [f"{p}{i}" for p in "pq" for i in range(3)]}, g.labels(["z"])["z"][:2]

    doubted, z = statuses(0.42, 0.7)
    assert len(doubted) == 1 and next(iter(doubted))[1] == "review"
    cid = next(iter(doubted))[0]
    assert cid is not None and z == (cid, "review")
    settled, z = statuses(0.7, 0.5)
    assert len(settled) == 1 and next(iter(settled))[1] == "auto"
    assert z[0] == next(iter(settled))[0]


def test_a_cannot_link_inside_a_held_cluster_is_kept() -> None:
    """m is split off k0 inside a held cluster by a decision; the group m forms with two new
    faces has little support into the cluster, which must not send m back next to k0."""
    g = MemoryGraph()
    k = [f"k{i}" for i in range(40)]
    g.add_edges([(a, b, 0.2) for a, b in itertools.combinations(k[:6], 2)]
                + [(f"k{i}", f"k{i + j}", 0.2) for j in (1, 2) for i in range(5, 40 - j)]
                + [("m", x, 0.3) for x in k[1:6]] + [("x", "y", 0.1), ("x", "m", 0.3), ("y", "m", 0.42)])
    for f in k + ["m"]:
        g.set_label(f, "C")
    g.cannot_link("k0", "m", "d1")
    region = build_region(g, ["k0", "m"], T, region_limit=10)
    assert region.outside["C"] > 0
    counter = ids()
    g.apply(recluster(region, T, new_id=lambda: f"n{next(counter)}"))
    lab = g.labels(["k0", "m"])
    assert lab["k0"][0] != lab["m"][0]


def test_new_faces_between_two_held_clusters_do_not_merge_them() -> None:
    g = _chain_person(label="A", prefix="a", hops=3)
    other = _chain_person(label="B", prefix="b", hops=3)
    g.add_edges(other.edges(other.faces()))
    for f in other.faces():
        g.set_label(f, "B")
    g.add_edges([("x", "y", 0.1), ("x", "a000", 0.2), ("y", "b000", 0.2)])
    region = build_region(g, ["x", "y"], T, region_limit=10)
    assert region.outside["A"] > 150 and region.outside["B"] > 150
    counter = ids()
    result = recluster(region, T, new_id=lambda: f"n{next(counter)}")
    assert result.labels["a000"] == "A" and result.labels["b000"] == "B"
    assert result.labels["x"] not in ("A", "B") and result.labels["y"] not in ("A", "B")


def _random_region(rng: random.Random) -> Region | None:
    """A small region: members of two held clusters A and B and a small one S, new faces, random
    edges, cannot-/must-links, a pin, a ban and a lock: every decision must hold after the support rule."""
    faces: list[str] = []
    labels: dict[str, tuple[str | None, str]] = {}
    for c, n in (("A", rng.randint(2, 5)), ("B", rng.randint(1, 4)), ("S", rng.randint(0, 4))):
        for i in range(n):
            faces.append(f"{c.lower()}{i}")
            labels[faces[-1]] = (c, "auto")
    for i in range(rng.randint(1, 6)):
        faces.append(f"n{i}")
        labels[faces[-1]] = (None, "unassigned")
    edges = []
    for a, b in itertools.combinations(faces, 2):
        same = labels[a][0] is not None and labels[a][0] == labels[b][0]
        if rng.random() < (0.8 if same else 0.3):
            edges.append((a, b, round(rng.uniform(0.05, 0.39) if rng.random() < 0.7 else rng.uniform(0.4, 0.5), 3)))
    cannot = [(*rng.sample(faces, 2), f"d{i}") for i in range(rng.randint(0, 2))]
    must = [(*rng.sample(faces, 2), "m0")] if rng.random() < 0.3 else []
    pinned: dict[str, str] = {}
    forbidden: dict[str, set[str]] = {}
    if rng.random() < 0.3:
        f = rng.choice(faces)
        pinned[f] = rng.choice("ABS")
        labels[f] = (pinned[f], "manual")
    if rng.random() < 0.3:
        forbidden[rng.choice(faces)] = {rng.choice("ABS")}
    locked = {rng.choice("ABS")} if rng.random() < 0.2 else set()
    cs = ConstraintSet(must_links=must, cannot_links=cannot)
    if any(cs.find(a) == cs.find(b) for a, b, _ in cannot):
        return None

    def fixed(f: str) -> set[str]:  # the clusters a face's must-link group is held to
        group = [g for g in faces if cs.find(g) == cs.find(f)]
        return {pinned[g] for g in group if g in pinned} | {c for g in group if (c := labels[g][0]) in locked}

    # decisions the engine refuses (ConstraintConflict) never reach recluster: a group held to two
    # clusters or to one it is banned from, a cannot-link between two faces held to one cluster
    if any(len(fixed(f)) > 1 or fixed(f) & forbidden.get(f, set()) for f in faces):
        return None
    if any(fixed(a) & fixed(b) for a, b, _ in cannot):
        return None
    # new must-links, cannot-links and bans may be unmet in the stored labels: recluster meets them
    return Region(seeds=[f for f in faces if f.startswith("n")], faces=set(faces), labels=labels, edges=edges,
                  outside={"A": 50, "B": 30}, locked=locked, constraints=cs,
                  forbidden={f: set(c) for f, c in forbidden.items()}, pinned=pinned)


def _broken(region: Region, final: dict[str, str | None]) -> list[tuple[str, ...]]:
    bad: list[tuple[str, ...]] = []
    bad += [("cannot", a, b) for a, b, _ in region.constraints.cannot_links if final[a] is not None and final[a] == final[b]]
    bad += [("must", a, b) for a, b, _ in region.constraints.must_links if final[a] != final[b]]
    bad += [("pin", f) for f, c in region.pinned.items() if final[f] != c]
    bad += [("ban", f) for f, cs in region.forbidden.items() if final[f] in cs]
    bad += [("lock", f) for f in region.faces if region.labels[f][0] in region.locked and final[f] != region.labels[f][0]]
    return bad


def test_random_regions_with_held_clusters_never_break_a_decision() -> None:
    """600 random regions (two held clusters, pins, bans, locks, new must-/cannot-links that the
    stored labels do not meet yet): after recluster every cannot-link, must-link, pin, ban and
    lock holds."""
    checked = 0
    for s in range(600):
        region = _random_region(random.Random(s))
        if region is None:
            continue
        counter = ids()
        result = recluster(region, T, new_id=lambda: f"x{next(counter)}")
        final = {f: region.labels[f][0] for f in region.faces}
        final.update({f: c for f, (c, _, _) in result.memberships.items()})
        assert _broken(region, final) == [], f"seed {s}"
        checked += 1
    assert checked > 300


@pytest.mark.parametrize("how", ["locked", "pinned"])
def test_a_must_link_to_a_locked_or_pinned_face_moves_the_other_face_too(how: str) -> None:
    """same_person(a0, b0) with a0 in a locked cluster (or pinned to it): b0 follows a0 into L
    in the stored memberships, not only in the result's labels."""
    g = MemoryGraph()
    g.add_edges(clique("a", 4) + clique("b", 4) + [("a0", "b0", 0.45)])
    for i in range(4):
        g.set_label(f"a{i}", "L")
        g.set_label(f"b{i}", "B")
    if how == "locked":
        g.lock("L")
    else:
        g.pin("a0", "L")
    g.must_link("a0", "b0", "m1")
    counter = ids()
    g.apply(recluster(build_region(g, ["a0", "b0"], T), T, new_id=lambda: f"x{next(counter)}"))
    assert g.labels(["b0"])["b0"][0] == g.labels(["a0"])["a0"][0] == "L"


@pytest.mark.parametrize("pinned", ["s1", "a0"])
def test_a_cannot_link_split_leaves_the_pinned_end_in_its_cluster(pinned: str) -> None:
    g = MemoryGraph()
    g.add_edges(clique("a", 4)[3:] + [("a0", "a1", 0.45), ("s1", "a2", 0.3), ("s1", "a3", 0.3)])
    for f in ["a0", "a1", "a2", "a3", "s1"]:
        g.set_label(f, "A")
    g.pin(pinned, "A")
    g.cannot_link("a0", "s1", "d1")
    counter = ids()
    g.apply(recluster(build_region(g, ["a0", "a1", "a2", "a3", "s1"], T), T, new_id=lambda: f"x{next(counter)}"))
    labels = g.labels(["a0", "s1"])
    other = "a0" if pinned == "s1" else "s1"
    assert labels[pinned][0] == "A" and labels[other][0] != "A"


def test_a_must_link_group_only_partly_in_the_region_is_reclustered() -> None:
    """A must-link partner that is not in the region (here: a face without a stored label, as
    after a removal) can be its group's representative (the smallest id); recluster must not
    look up that representative as a face (a KeyError in answer() otherwise)."""
    g = MemoryGraph()
    g.add_edges(clique("b", 5) + [("b0", "c0", 0.42)])
    g.must_link("a-gone", "b0", "m1")
    region = build_region(g, ["b0"], T)
    assert "a-gone" not in region.faces and region.constraints.find("b0") == "a-gone"
    counter = ids()
    result = recluster(region, T, new_id=lambda: f"x{next(counter)}")
    assert result.labels["b0"] == result.labels["b1"] is not None


def test_recheck_levels_grow_geometrically_from_the_minimum() -> None:
    """A cluster is re-checked when it crosses recheck_min x recheck_growth**j: a crossing
    is due once per growth by the factor, never below the minimum, never when the minimum is 0."""
    from graphcluster.regions import recheck_level

    for tuning in (DEFAULT_TUNING, Tuning(recheck_min=30, recheck_growth=1.5)):
        m, g = tuning.recheck_min, tuning.recheck_growth
        assert recheck_level(m - 1, tuning) == -1
        assert recheck_level(m, tuning) == 0
        levels = [recheck_level(n, tuning) for n in range(m, 2000)]
        assert levels == sorted(levels)
        crossings = sum(b > a for a, b in zip(levels, levels[1:]))
        assert crossings == int(math.log(1999 / m) / math.log(g))
        assert recheck_level(int(m * g ** 3) + 1, tuning) == 3
    assert recheck_level(10_000, Tuning(recheck_min=0)) == -1
