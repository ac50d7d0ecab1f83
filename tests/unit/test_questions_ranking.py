"""Ranking of review questions on hand-built regions: expected gain = chance of "yes" x faces joined."""

from __future__ import annotations

import math

from graphcluster.clustering import ConstraintSet, Region, Thresholds
from graphcluster.clustering.questions import askable, join_gain, propose_questions, same_person_odds


def _calibrated(scale: float = 1.0) -> Thresholds:
    """A calibrated mixture like dlib's (same mode 0.26, nearest impostors 0.37), times ``scale``."""
    stats = {"same_mode": 0.26 * scale, "same_log_sd": 0.21, "impostor_mode": 0.37 * scale,
             "impostor_log_sd": 0.064, "weights": [0.6, 0.4]}
    return Thresholds(link=0.314 * scale, review=0.33 * scale, source="calibrated", stats=stats)


T = _calibrated()


def _region(edges, labels, cannot=(), forbidden=None, outside=None) -> Region:
    return Region(
        seeds=sorted(labels),
        faces=set(labels),
        labels={f: (c, "auto" if c else "unassigned") for f, c in labels.items()},
        edges=edges,
        outside=outside or {},
        constraints=ConstraintSet([], list(cannot)),
        forbidden=forbidden or {},
    )


def _cluster(name: str, n: int) -> dict[str, str | None]:
    return {f"{name.lower()}{i}": name for i in range(n)}


def _tight(name: str, n: int, d: float = 0.2) -> list[tuple[str, str, float]]:
    return [(f"{name.lower()}{i}", f"{name.lower()}{j}", d) for i in range(n) for j in range(i + 1, n)]


def test_odds_fall_with_distance_and_rise_with_more_links() -> None:
    odds = same_person_odds(T)
    assert odds([0.30]) > odds([0.33]) > odds([0.36])
    assert odds([0.32, 0.32]) > odds([0.32])
    # beyond the impostor mode a link counts as at it (the ratio of two Gaussians is not monotone)
    assert math.isclose(odds([0.5]), odds([0.37]))


def test_ranking_is_scale_free() -> None:
    """Same geometry on another model's scale (distances x 2.7, calibrated x 2.7): same questions."""
    labels = {**_cluster("A", 6), **_cluster("B", 2), "x": None, "y": None, "z": None}
    edges = [*_tight("A", 6), *_tight("B", 2), ("x", "a0", 0.32), ("y", "b0", 0.31), ("x", "z", 0.325),
             ("a1", "b1", 0.33), ("z", "a2", 0.34)]
    qs = propose_questions(_region(edges, labels), labels, T)
    k = 2.7
    scaled = [(a, b, d * k) for a, b, d in edges]
    qk = propose_questions(_region(scaled, labels), labels, _calibrated(k))
    assert [q[:5] for q in qs] == [q[:5] for q in qk]
    for q, r in zip(qs, qk):
        assert math.isclose(q[5], r[5], rel_tol=1e-3)


def test_a_face_joins_the_larger_cluster_first_at_equal_distance() -> None:
    labels = {**_cluster("A", 8), **_cluster("B", 2), "x": None, "y": None}
    edges = [*_tight("A", 8), *_tight("B", 2), ("x", "a0", 0.32), ("y", "b0", 0.32)]
    qs = propose_questions(_region(edges, labels), labels, T)
    assert [(q[0], q[1], q[4]) for q in qs] == [("face", ["x"], "A"), ("face", ["y"], "B")]
    assert qs[0][5] > qs[1][5]


def test_a_face_between_two_clusters_is_less_likely_either() -> None:
    labels = {**_cluster("A", 3), **_cluster("B", 3), "x": None, "y": None}
    edges = [*_tight("A", 3), *_tight("B", 3), ("x", "a0", 0.32), ("x", "b0", 0.32), ("y", "a1", 0.32)]
    qs = {(q[1][0], q[4]): q[5] for q in propose_questions(_region(edges, labels), labels, T) if q[0] == "face"}
    assert qs[("y", "A")] > qs[("x", "A")] and math.isclose(qs[("x", "A")], qs[("x", "B")])


def test_two_unassigned_faces_make_a_pair_question_unless_separated() -> None:
    labels: dict[str, str | None] = {"x": None, "y": None}
    qs = propose_questions(_region([("x", "y", 0.31)], labels), labels, T)
    assert [(q[0], q[1]) for q in qs] == [("new_identity", ["x", "y"])]
    assert propose_questions(_region([("x", "y", 0.31)], labels, cannot=[("x", "y", "d1")]), labels, T) == []


def test_a_banned_face_is_not_asked_about_that_cluster() -> None:
    labels = {**_cluster("A", 3), "x": None}
    edges = [*_tight("A", 3), ("x", "a0", 0.31)]
    assert propose_questions(_region(edges, labels, forbidden={"x": {"A"}}), labels, T) == []


def test_clusters_touching_along_their_length_rank_above_a_single_look_alike_link() -> None:
    labels = {**_cluster("A", 4), **_cluster("B", 4), **_cluster("C", 4), **_cluster("D", 4)}
    touching = [(f"a{i}", f"b{i}", 0.33) for i in range(4)]
    edges = [*_tight("A", 4), *_tight("B", 4), *_tight("C", 4), *_tight("D", 4), *touching, ("c0", "d0", 0.32)]
    qs = propose_questions(_region(edges, labels), labels, T)
    merges = [(q[3], q[4]) for q in qs if q[0] == "merge"]
    assert merges[0] == ("A", "B") and ("C", "D") in merges
    by = {(q[3], q[4]): q for q in qs}
    assert len(by[("A", "B")][1]) == 3  # several faces per side are shown


def test_a_human_no_between_two_clusters_is_not_asked_again() -> None:
    labels = {**_cluster("A", 2), **_cluster("B", 2)}
    edges = [("a0", "b0", 0.31), ("a1", "b1", 0.31)]
    assert propose_questions(_region(edges, labels, cannot=[("a1", "b0", "d1")]), labels, T) == []


def test_outside_members_count_in_the_gain() -> None:
    labels = {**_cluster("A", 2), **_cluster("B", 2), "x": None, "y": None}
    edges = [("a0", "a1", 0.2), ("b0", "b1", 0.2), ("x", "a0", 0.32), ("y", "b0", 0.32)]
    qs = propose_questions(_region(edges, labels, outside={"B": 100}), labels, T)
    assert qs[0][4] == "B"
    assert math.isclose(join_gain(1, 102), 2 * 102 / 103)


def test_core_questions_on_the_same_scale() -> None:
    labels = {**_cluster("A", 5), "x": None}
    reviews = [("face", ["a0"], [], None, "A", 0.5), ("new_identity", ["a0", "a1", "a2", "a3", "a4"], [], "A", None, 5.0),
               ("merge", ["a0"], ["b0"], "A", "B", 3.0)]
    out = askable(reviews, _region([], labels), labels)
    assert [r[0] for r in out] == ["face", "new_identity"]
    face, confirm = out
    assert math.isclose(face[5], 0.5 * 2 * 4 / 5, rel_tol=1e-3)  # (1 - confidence) x what a "no" fixes
    assert confirm[5] < face[5]  # a confirmation changes no assignment: it comes after


def test_fallback_thresholds_still_rank_by_distance() -> None:
    t = Thresholds.from_link(0.3, source="settings")
    labels = {**_cluster("A", 3), "x": None, "y": None}
    edges = [*_tight("A", 3), ("x", "a0", 0.30), ("y", "a1", 0.33)]
    qs = propose_questions(_region(edges, labels), labels, t)
    assert [q[1][:2] for q in qs if q[0] == "join"] == [["x", "y"]]  # one join question, the nearer face first


def test_a_member_tied_by_a_must_link_is_not_asked_about() -> None:
    labels = {**_cluster("A", 3)}
    region = Region(seeds=sorted(labels), faces=set(labels), labels={f: ("A", "review") for f in labels}, edges=[],
                    constraints=ConstraintSet([("a0", "a1", "d1")], []))
    reviews = [("face", ["a0"], [], None, "A", 0.5), ("face", ["a2"], [], None, "A", 0.5)]
    assert [r[1] for r in askable(reviews, region, labels)] == [["a2"]]


def test_unassigned_faces_near_one_person_make_one_join_question() -> None:
    labels = {**_cluster("A", 6), "x": None, "y": None, "z": None}
    edges = [*_tight("A", 6), ("x", "a0", 0.31), ("y", "a1", 0.32), ("z", "a2", 0.33)]
    qs = propose_questions(_region(edges, labels), labels, T)
    joins = [q for q in qs if q[0] == "join"]
    assert [(q[1], q[2], q[4]) for q in joins] == [(["x", "y", "z"], ["a0", "a1", "a2"], "A")]
    assert not [q for q in qs if q[0] == "face"]  # each face is asked once, in the join
    odds = same_person_odds(T)
    expected = sum(odds([d]) / (1 + odds([d])) * join_gain(1, 6) for d in (0.31, 0.32, 0.33))
    assert math.isclose(joins[0][5], expected, rel_tol=1e-3)


def test_a_small_fragment_joins_the_person_it_touches_instead_of_a_merge_question() -> None:
    labels = {**_cluster("A", 8), **_cluster("B", 2), "x": None}
    edges = [*_tight("A", 8), *_tight("B", 2), ("b0", "a0", 0.31), ("b1", "a1", 0.31), ("x", "a2", 0.31)]
    qs = propose_questions(_region(edges, labels), labels, T)
    assert [(q[0], sorted(q[1]), q[4]) for q in qs if q[0] in ("join", "merge")] == [("join", ["b0", "b1", "x"], "A")]


def test_unassigned_faces_that_are_likely_one_person_make_one_new_person_question() -> None:
    labels: dict[str, str | None] = {"x": None, "y": None, "z": None, "w": None}
    edges = [("x", "y", 0.28), ("y", "z", 0.29), ("x", "z", 0.3), ("w", "q", 0.9)]
    qs = propose_questions(_region(edges, labels), labels, T)
    assert [(q[0], q[1]) for q in qs] == [("new_identity", ["x", "y", "z"])]
    assert qs[0][5] > propose_questions(_region([("x", "y", 0.28)], labels), labels, T)[0][5]


def test_a_cluster_with_a_loosely_tied_member_makes_a_split_question_showing_it_first() -> None:
    labels = {**_cluster("A", 6), "o": "A"}
    edges = [*_tight("A", 6), ("o", "a0", 0.32)]
    qs = propose_questions(_region(edges, labels), labels, T)
    splits = [q for q in qs if q[0] == "split"]
    assert len(splits) == 1 and splits[0][1][0] == "o" and splits[0][3] == "A"
    odds = same_person_odds(T)
    assert splits[0][5] >= 1 / (1 + odds([0.32])) * 2 * 6 / 7 * 0.999
    # a tight cluster with nothing loose in it asks nothing
    tight = _cluster("A", 6)
    assert not [q for q in propose_questions(_region(_tight("A", 6), tight), tight, T) if q[0] == "split"]
