"""Review questions proposed from a reclustered region (pure code, hand-built regions)."""

from __future__ import annotations

from graphcluster.clustering import ConstraintSet, Region, Thresholds
from graphcluster.clustering.questions import propose_questions

T = Thresholds.from_link(0.3, source="settings")


def _region(edges: list[tuple[str, str, float]], labels: dict[str, str | None], cannot=()) -> Region:
    return Region(
        seeds=sorted(labels),
        faces=set(labels),
        labels={f: (c, "auto" if c else "unassigned") for f, c in labels.items()},
        edges=edges,
        constraints=ConstraintSet([], list(cannot)),
    )


LABELS: dict[str, str | None] = {"a1": "A", "a2": "A", "b1": "B", "b2": "B", "x": None}


def test_two_clusters_linked_near_the_threshold_make_a_merge_question() -> None:
    edges = [("a1", "a2", 0.1), ("b1", "b2", 0.1), ("a2", "b1", 0.31)]
    qs = propose_questions(_region(edges, LABELS), LABELS, T)
    assert [(q[0], q[3], q[4]) for q in qs] == [("merge", "A", "B")]
    kind, faces_a, faces_b, *_ = qs[0]
    assert faces_a == ["a2"] and faces_b == ["b1"]


def test_a_human_no_is_never_asked_again() -> None:
    edges = [("a2", "b1", 0.31)]
    qs = propose_questions(_region(edges, LABELS, cannot=[("a1", "b2", "d1")]), LABELS, T)
    assert qs == []


def test_an_unassigned_face_near_a_cluster_makes_a_face_question() -> None:
    edges = [("x", "a1", 0.32), ("x", "b1", 0.9)]
    qs = propose_questions(_region(edges, LABELS), LABELS, T)
    assert [(q[0], q[1], q[4]) for q in qs] == [("face", ["x"], "A")]


def test_far_links_ask_nothing_and_likelier_answers_rank_first() -> None:
    assert propose_questions(_region([("a1", "b1", 0.5)], LABELS), LABELS, T) == []
    edges = [("x", "a1", 0.3), ("a2", "b1", 0.36)]
    qs = propose_questions(_region(edges, LABELS), LABELS, T)
    assert qs[0][0] == "face" and all(qs[0][5] > q[5] for q in qs[1:])
