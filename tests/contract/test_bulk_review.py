"""Bulk review answers on every store: join, split and new-person questions answered with all,
none or a subset of their faces; one decision per face; the same answer twice; undo; and no
later batch or cleanup undoing an answer. Questions are put in the store directly (the faces
they show are chosen here, so the expected result is known); the engine's own proposals are
answered in tests/contract/test_engine_contract.py."""

from __future__ import annotations

import numpy as np
import pytest

from graphcluster import GraphCluster, InvalidInput
from graphcluster.models import Membership, ReviewItem

from tests.contract.test_engine_contract import Opener, _faces_of, _identities, _more


def _setup(gc: GraphCluster) -> tuple[list[str], list[str], str, np.ndarray, list[str]]:
    vecs, ids, _ = _identities(3, 8)
    gc.add_faces(vecs, ids=ids)
    p0, p1 = _faces_of(ids, "p0"), _faces_of(ids, "p1")
    cluster = gc.assignments()[p0[0]]
    assert cluster is not None and all(gc.assignments()[f] == cluster for f in p0)
    return p0, p1, cluster, vecs, ids


def _place(gc: GraphCluster, faces: list[str], cluster: str | None) -> None:
    """Put faces where a mistaken clustering would have them (the store, as a batch writes it)."""
    gc.store.apply_clustering([Membership(face_id=f, cluster_id=cluster, status="auto" if cluster else "unassigned",
                                          confidence=0.7 if cluster else 0.0) for f in faces])


def _by(gc: GraphCluster, who: str) -> list[tuple[str, str, str | None]]:
    return sorted((d.kind, d.a, d.b) for d in gc.decisions() if d.by == who and not d.undone)


def _later(gc: GraphCluster, vecs: np.ndarray, ids: list[str]) -> None:
    gc.add_faces(*_more(vecs, ids))
    gc.cleanup()


@pytest.mark.parametrize("how", ["all", "none", "some"])
def test_join_answered_with_all_none_or_some_of_its_faces(open_gc: Opener, how: str) -> None:
    with open_gc() as gc:
        p0, p1, c0, vecs, ids = _setup(gc)
        asked = [p0[0], p0[1], p1[0]]
        _place(gc, asked, None)
        gc.store.put_reviews([ReviewItem(id="q-join", kind="join", priority=5.0, faces_a=asked,
                                         faces_b=[p0[5], p0[5], p0[5]], cluster_b=c0)])
        assert "q-join" in [i.id for i in gc.review_queue(limit=20)]
        if how == "all":
            gc.answer("q-join", "yes", by="ann")
            yes, no = asked, []
        elif how == "none":
            gc.answer("q-join", "no", by="ann")
            yes, no = [], asked
        else:
            gc.answer("q-join", "yes", faces=[p0[0], p0[1]], by="ann")
            yes, no = [p0[0], p0[1]], [p1[0]]
        assert _by(gc, "ann") == sorted([("assign", f, c0) for f in yes] + [("remove", f, c0) for f in no])
        for state in ("now", "after a batch and a cleanup"):
            where = gc.assignments(detail=True)
            assert all(where[f].cluster_id == c0 and where[f].status == "manual" for f in yes), state
            assert all(where[f].cluster_id != c0 for f in no), state
            if state == "now":
                _later(gc, vecs, ids)
        assert "q-join" not in [i.id for i in gc.review_queue(limit=50)]


@pytest.mark.parametrize("how", ["all", "none", "some"])
def test_split_answered_with_all_none_or_some_of_its_faces(open_gc: Opener, how: str) -> None:
    with open_gc() as gc:
        p0, p1, c0, vecs, ids = _setup(gc)
        _place(gc, p1[:2], c0)  # two of p1 wrongly in p0's cluster
        shown = [p1[0], p1[1], p0[2], p0[3]]
        gc.store.put_reviews([ReviewItem(id="q-split", kind="split", priority=5.0, faces_a=shown, cluster_a=c0)])
        if how == "all":
            gc.answer("q-split", "yes", by="ann")
            stay, out = shown, []
        elif how == "none":
            gc.answer("q-split", "no", faces=shown, by="ann")
            stay, out = [], shown
        else:
            gc.answer("q-split", "no", faces=[p1[0], p1[1]], by="ann")  # "these two do not belong"
            stay, out = [p0[2], p0[3]], [p1[0], p1[1]]
        assert _by(gc, "ann") == sorted([("assign", f, c0) for f in stay] + [("remove", f, c0) for f in out])
        for state in ("now", "after a batch and a cleanup"):
            where = gc.assignments()
            assert all(where[f] == c0 for f in stay) and all(where[f] != c0 for f in out), state
            if how == "some":  # the faces taken out are their own person again
                assert where[p1[0]] == where[p1[2]] is not None, state
            if state == "now":
                _later(gc, vecs, ids)


def test_a_split_no_naming_no_face_closes_the_question_and_decides_nothing(open_gc: Opener) -> None:
    with open_gc() as gc:
        p0, _p1, c0, _vecs, _ids = _setup(gc)
        gc.store.put_reviews([ReviewItem(id="q-split", kind="split", priority=5.0, faces_a=p0[:3], cluster_a=c0)])
        before = gc.decisions()
        with pytest.raises(InvalidInput, match="face 'nobody' was not shown in review item 'q-split'"):
            gc.answer("q-split", "no", faces=["nobody"], by="ann")
        assert gc.store.get_review("q-split").status == "open"
        assert gc.answer("q-split", "no", by="ann") is None
        assert gc.decisions() == before and gc.store.get_review("q-split").status == "answered"
        assert "q-split" not in [i.id for i in gc.review_queue(limit=50)]


@pytest.mark.parametrize("how", ["all", "none", "some"])
def test_new_person_answered_with_all_none_or_some_of_its_faces(open_gc: Opener, how: str) -> None:
    with open_gc() as gc:
        p0, p1, _c0, vecs, ids = _setup(gc)
        shown = [p0[0], p0[1], p0[2], p1[0]]
        _place(gc, shown, None)
        gc.store.put_reviews([ReviewItem(id="q-new", kind="new_identity", priority=5.0, faces_a=shown)])
        if how == "all":
            gc.answer("q-new", "yes", faces=shown, by="ann")
            group, rest = shown, []
        elif how == "none":
            gc.answer("q-new", "no", faces=shown, by="ann")
            group, rest = [], shown
        else:
            gc.answer("q-new", "yes", faces=p0[:3], name="Ann", by="ann")
            group, rest = p0[:3], [p1[0]]
        made = _by(gc, "ann")
        assert sum(k == "same_person" for k, _a, _b in made) == max(len(group) - 1, 0)
        assert sum(k == "different_person" for k, _a, _b in made) == (len(rest) if group else 0)
        for state in ("now", "after a batch and a cleanup"):
            where = gc.assignments()
            if group:
                assert len({where[f] for f in group}) == 1 and where[group[0]] is not None, state
                assert all(where[f] != where[group[0]] for f in rest), state
            if state == "now":
                if how == "some":
                    assert gc.cluster(where[group[0]] or "")["cluster"].name == "Ann"
                _later(gc, vecs, ids)
        assert gc.store.get_review("q-new").status == "answered"


def test_the_same_bulk_answer_twice_is_recorded_once_and_a_changed_one_replaces_it(open_gc: Opener) -> None:
    with open_gc() as gc:
        p0, p1, c0, _vecs, _ids = _setup(gc)
        asked = [p0[0], p1[0]]
        _place(gc, asked, None)
        gc.store.put_reviews([ReviewItem(id="q-join", kind="join", priority=5.0, faces_a=asked,
                                         faces_b=[p0[5], p0[5]], cluster_b=c0)])
        gc.answer("q-join", "yes", faces=[p0[0]], by="ann")
        first = _by(gc, "ann")
        assert gc.answer("q-join", "no", faces=[p1[0]], by="ann") is None  # the same answer, said the other way
        assert _by(gc, "ann") == first
        gc.answer("q-join", "yes", by="ann")  # changed: both are the person
        assert _by(gc, "ann") == sorted([("assign", p0[0], c0), ("assign", p1[0], c0)])
        assert gc.assignments()[p1[0]] == c0


def test_an_undone_bulk_answer_restores_the_faces_and_asks_again(open_gc: Opener) -> None:
    with open_gc() as gc:
        p0, p1, c0, vecs, ids = _setup(gc)
        _place(gc, p1[:2], c0)
        shown = [p1[0], p1[1], p0[2]]
        gc.store.put_reviews([ReviewItem(id="q-split", kind="split", priority=5.0, faces_a=shown, cluster_a=c0)])
        gc.answer("q-split", "no", faces=[p1[0], p1[1]], by="ann")
        assert all(gc.assignments()[f] != c0 for f in p1[:2])
        undone = gc.undo_answer("q-split", by="ann")
        assert sorted((d.kind, d.a) for d in undone) == sorted([("remove", p1[0]), ("remove", p1[1]), ("assign", p0[2])])
        assert all(d.undone for d in undone) and _by(gc, "ann") == []
        assert gc.store.get_review("q-split").status == "open"
        where = gc.assignments(detail=True)
        assert where[p0[2]].status != "manual"
        # nothing bans p1's faces from c0 any more: a re-clustering decides again, from the vectors
        _later(gc, vecs, ids)
        assert gc.assignments()[p1[0]] == gc.assignments()[p1[2]]
        assert gc.undo_answer("q-split") == []  # nothing left to undo


def test_an_undo_answer_cut_off_midway_is_finished_on_open(open_gc: Opener) -> None:
    # what a crash between two of an undo_answer's undos leaves: its journal note and one
    # decision of the answer still active; opening the database undoes the rest and asks again
    from graphcluster.decisions import JOURNAL

    gc = open_gc()
    p0, p1, c0, _vecs, _ids = _setup(gc)
    asked = [p0[0], p0[1], p1[0]]
    _place(gc, asked, None)
    gc.store.put_reviews([ReviewItem(id="q-join", kind="join", priority=5.0, faces_a=asked,
                                     faces_b=[p0[5], p0[5], p0[5]], cluster_b=c0)])
    gc.answer("q-join", "yes", faces=[p0[0], p0[1]], by="ann")
    made = [d for d in gc.decisions() if d.by == "ann" and not d.undone]
    assert len(made) == 3
    gc.store.set_meta({JOURNAL: [{"op": "undo_answer", "review": "q-join", "by": "ann"}]})
    gc.undo(made[-1].id, by="ann")
    assert len(_by(gc, "ann")) == 2 and gc.store.get_review("q-join").status == "answered"
    gc.close()
    with open_gc() as again:
        assert again.store.get_meta().get(JOURNAL) is None
        assert _by(again, "ann") == []
        assert again.store.get_review("q-join").status == "open"
        assert all(again.assignments(detail=True)[f].status != "manual" for f in asked)
        assert again.check().ok, again.check().problems


def test_faces_are_only_for_bulk_questions(open_gc: Opener) -> None:
    with open_gc() as gc:
        p0, _p1, c0, _vecs, _ids = _setup(gc)
        gc.store.put_reviews([ReviewItem(id="q-face", kind="face", priority=1.0, faces_a=[p0[0]], faces_b=[p0[1]],
                                         cluster_b=c0)])
        with pytest.raises(InvalidInput, match="'q-face' is a face question"):
            gc.answer("q-face", "yes", faces=[p0[0]])
