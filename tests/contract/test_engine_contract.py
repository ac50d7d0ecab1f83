"""The GraphCluster facade on every store: batches, idempotency, bad input, human decisions.

Each test runs against the embedded SQLite store and the real Neo4j server (tests/conftest.py).
The faces are synthetic, well separated identities, so the expected partition is known.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from graphcluster import ConstraintConflict, GraphCluster, InvalidInput, NotFound, Settings, StoreBusy
from graphcluster.clustering import Tuning
from graphcluster.models import ClusterRecord, Membership, ReviewItem

DIM = 32
Opener = Callable[[], GraphCluster]  # the open_gc fixture (tests/contract/conftest.py)


def _identities(n_people: int, per_person: int, *, seed: int = 1, spread: float = 0.15) -> tuple[np.ndarray, list[str], list[int]]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_people, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vecs, ids, labels = [], [], []
    for p in range(n_people):
        for j in range(per_person):
            v = centres[p] + spread * rng.standard_normal(DIM) / np.sqrt(DIM)
            vecs.append(v / np.linalg.norm(v))
            ids.append(f"p{p}_{j}")
            labels.append(p)
    order = rng.permutation(len(ids))
    return np.asarray(vecs, dtype=np.float32)[order], [ids[i] for i in order], [labels[i] for i in order]


def _partition(gc: GraphCluster) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for face, cluster in gc.assignments().items():
        groups.setdefault(cluster or f"single:{face}", set()).add(face)
    return {frozenset(g) for g in groups.values()}


def _truth(ids: list[str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for fid in ids:
        groups.setdefault(fid.split("_")[0], set()).add(fid)
    return {frozenset(g) for g in groups.values()}


def _cluster(gc: GraphCluster, face: str) -> str | None:
    return gc.assignments()[face]


def test_batches_find_the_people(open_gc: Opener) -> None:
    vecs, ids, _ = _identities(6, 10)
    with open_gc() as gc:
        for start in range(0, len(ids), 20):
            report = gc.add_faces(vecs[start : start + 20], ids=ids[start : start + 20])
            assert report.added == len(ids[start : start + 20])
            assert {f.face_id for f in report.faces} == set(ids[start : start + 20])
        assert _partition(gc) == _truth(ids)
        stats = gc.stats()
        assert stats.faces == 60 and stats.clusters == 6
        assert stats.thresholds["link"] > 0


def test_resending_a_batch_changes_nothing(open_gc: Opener) -> None:
    vecs, ids, _ = _identities(4, 8)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        before = gc.assignments(detail=True)
        report = gc.add_faces(vecs, ids=ids)
        assert report.added == 0 and sorted(report.skipped) == sorted(ids)
        assert gc.assignments(detail=True) == before


@pytest.mark.parametrize(
    "corrupt, fragment",
    [
        (lambda v, i: (np.where(np.arange(len(v))[:, None] == 3, np.nan, v), i), "3"),
        (lambda v, i: (v[:, :-1], i), "dimension"),
        (lambda v, i: (np.where(np.arange(len(v))[:, None] == 2, 0.0, v), i), "2"),
        (lambda v, i: (v, [i[0]] + i[:-1]), "duplicate"),
        (lambda v, i: (np.where(np.arange(len(v))[:, None] == 4, -np.inf, v), i), "4"),
        (lambda v, i: (v.astype(str).astype(object) + "x", i), "numeric"),
    ],
    ids=["nan-row", "wrong-dim", "zero-row", "duplicate-id", "inf-row", "strings"],
)
def test_bad_rows_refuse_the_whole_batch(open_gc: Opener, corrupt, fragment: str) -> None:
    vecs, ids, _ = _identities(3, 6)
    with open_gc() as gc:
        gc.add_faces(vecs[:6], ids=ids[:6])
        before = gc.assignments(detail=True)
        bad_v, bad_i = corrupt(vecs[6:].copy(), ids[6:])
        with pytest.raises(InvalidInput) as err:
            gc.add_faces(bad_v, ids=bad_i)
        assert fragment in str(err.value)
        assert gc.assignments(detail=True) == before
        assert gc.stats().faces == 6


def test_same_person_joins_clusters_and_survives_everything(open_gc: Opener) -> None:
    vecs, ids, _ = _identities(4, 8)
    gc = open_gc()
    gc.add_faces(vecs[:24], ids=ids[:24])
    a = next(f for f in ids[:24] if f.startswith("p0_"))
    b = next(f for f in ids[:24] if f.startswith("p1_"))
    assert _cluster(gc, a) != _cluster(gc, b)
    d = gc.same_person(a, b, by="ann", reason="same wedding")
    assert _cluster(gc, a) == _cluster(gc, b) is not None
    gc.add_faces(vecs[24:], ids=ids[24:])
    gc.cleanup()
    assert _cluster(gc, a) == _cluster(gc, b)
    gc.close()
    with open_gc() as again:
        assert _cluster(again, a) == _cluster(again, b)
        recorded = {x.id: x for x in again.decisions()}
        assert recorded[d.id].by == "ann" and recorded[d.id].reason == "same wedding"


def test_different_person_splits_at_once_and_is_remembered(open_gc: Opener) -> None:
    vecs, ids, _ = _identities(3, 10)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        members = sorted(f for f in ids if f.startswith("p2_"))
        a, b = members[0], members[1]
        cluster = _cluster(gc, a)
        assert cluster == _cluster(gc, b)
        gc.different_person(a, b)
        assert _cluster(gc, a) != _cluster(gc, b) or _cluster(gc, a) is None
        gc.cleanup()
        assert _cluster(gc, a) != _cluster(gc, b) or _cluster(gc, a) is None
        # a new face right between them never bridges them
        va, vb = gc.index.get_vectors([a, b])
        middle = (va + vb) / 2
        gc.add_faces(middle[None, :], ids=["middle"])
        ca, cb = _cluster(gc, a), _cluster(gc, b)
        assert ca is None or ca != cb


def test_contradictions_are_refused_and_change_nothing(open_gc: Opener) -> None:
    vecs, ids, _ = _identities(3, 6)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        p0 = sorted(f for f in ids if f.startswith("p0_"))
        p1 = sorted(f for f in ids if f.startswith("p1_"))
        ml = gc.same_person(p0[0], p1[0])
        cl = gc.different_person(p0[1], p1[1])
        before_decisions = [d.id for d in gc.decisions()]
        before = gc.assignments(detail=True)
        with pytest.raises(ConstraintConflict) as err:
            gc.different_person(p0[0], p1[0])
        assert ml.id in str(err.value)
        with pytest.raises(ConstraintConflict) as err:
            gc.same_person(p0[1], p1[1])
        assert cl.id in str(err.value)
        assert [d.id for d in gc.decisions()] == before_decisions
        assert gc.assignments(detail=True) == before
        with pytest.raises(NotFound):
            gc.same_person(p0[0], "no-such-face")


def test_locked_clusters_keep_members_and_never_merge_on_their_own(open_gc: Opener) -> None:
    vecs, ids, _ = _identities(3, 8)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        c0 = _cluster(gc, next(f for f in ids if f.startswith("p0_")))
        c1 = _cluster(gc, next(f for f in ids if f.startswith("p1_")))
        assert c0 and c1 and c0 != c1
        gc.lock(c0)
        gc.lock(c1)
        members0 = {f for f, c in gc.assignments().items() if c == c0}
        with pytest.raises(ConstraintConflict):
            gc.same_person(sorted(members0)[0], next(f for f, c in gc.assignments().items() if c == c1))
        gc.cleanup()
        assert {f for f, c in gc.assignments().items() if c == c0} == members0
        d = gc.merge(c0, c1)
        merged = _cluster(gc, sorted(members0)[0])
        assert merged in (c0, c1)
        assert sum(1 for c in gc.assignments().values() if c == merged) == 16
        gc.undo(d.id)
        assert {f for f, c in gc.assignments().items() if c == c0} == members0


def test_remove_is_remembered(open_gc: Opener) -> None:
    vecs, ids, _ = _identities(3, 8)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        face = sorted(f for f in ids if f.startswith("p1_"))[0]
        old = _cluster(gc, face)
        gc.remove(face)
        assert _cluster(gc, face) != old
        gc.cleanup()
        assert _cluster(gc, face) != old
        assign = gc.assign(face, old)
        assert gc.assignments(detail=True)[face].status == "manual"
        gc.cleanup()
        assert _cluster(gc, face) == old
        assert [d.id for d in gc.decisions(face_id=face) if not d.undone] == [assign.id]


def _two_people(gc: GraphCluster) -> tuple[list[str], list[str], str, str]:
    """Adds three well separated people; returns the faces of two of them and their clusters."""
    vecs, ids, _ = _identities(3, 8)
    gc.add_faces(vecs, ids=ids)
    p0 = sorted(f for f in ids if f.startswith("p0_"))
    p1 = sorted(f for f in ids if f.startswith("p1_"))
    c0, c1 = _cluster(gc, p0[0]), _cluster(gc, p1[0])
    assert c0 and c1 and c0 != c1
    return p0, p1, c0, c1


def _refused(gc: GraphCluster, call: Callable[[], object]) -> ConstraintConflict:
    """``call`` raises ConstraintConflict and changes no membership and no decision."""
    before = (gc.assignments(detail=True), gc.decisions())
    with pytest.raises(ConstraintConflict) as err:
        call()
    assert (gc.assignments(detail=True), gc.decisions()) == before
    return err.value


def test_a_face_placed_by_hand_takes_its_must_link_group_or_is_refused(open_gc: Opener) -> None:
    # two faces a human said are one person, one of them placed by hand: placing the other in
    # a different cluster would split the must-link whichever way the next pass went
    with open_gc() as gc:
        (a, b, *_), _, c0, c1 = _two_people(gc)
        gc.same_person(a, b)
        pin = gc.assign(b, c0)
        err = _refused(gc, lambda: gc.assign(a, c1))
        assert b in str(err) and pin.id in err.conflicts
        gc.assign(a, c0)  # the group's own cluster is fine
        gc.cleanup()
        assert _cluster(gc, a) == _cluster(gc, b) == c0
        assert gc.check().ok, gc.check().problems


def test_same_person_is_refused_between_a_placed_face_and_a_locked_cluster_elsewhere(open_gc: Opener) -> None:
    with open_gc() as gc:
        p0, p1, c0, c1 = _two_people(gc)
        lock = gc.lock(c0)
        pin = gc.assign(p1[0], c1)
        err = _refused(gc, lambda: gc.same_person(p0[0], p1[0]))
        assert set(err.conflicts) == {lock.id, pin.id}
        assert gc.check().ok, gc.check().problems


def test_undoing_a_merge_keeps_what_humans_decided_since(open_gc: Opener) -> None:
    # a face placed in the merged cluster after the merge stays there when the merge is undone
    # (the later placement wins); a same-person decision made across the two former clusters
    # since makes the undo refuse, naming it, instead of splitting the pair
    with open_gc() as gc:
        p0, p1, c0, c1 = _two_people(gc)
        gc.assign(p1[2], c1)  # placed before the merge: it goes back with its cluster, still placed
        merge = gc.merge(c0, c1)
        kept, gone = merge.a, merge.b
        assert gone == c1
        gc.assign(p1[0], kept)
        link = gc.same_person(p0[1], p1[1])
        err = _refused(gc, lambda: gc.undo(merge.id))
        assert link.id in err.conflicts
        gc.undo(link.id)
        gc.undo(merge.id)
        detail = gc.assignments(detail=True)
        assert detail[p1[0]].cluster_id == kept and detail[p1[0]].status == "manual"
        assert {detail[f].cluster_id for f in p1[1:]} == {gone}
        assert detail[p1[2]].status == "manual"
        assert {detail[f].status for f in [p1[1], *p1[3:]]} <= {"auto", "review"}
        gc.cleanup()
        assert _cluster(gc, p1[0]) == kept
        assert gc.check().ok, gc.check().problems


def test_undoing_the_later_of_two_merges_keeps_a_placement_made_before_both(open_gc: Opener) -> None:
    # f placed in c1; c1 merged into c0; c0 merged into a locked c2; undoing the second merge
    # restores c0 with f still placed (its placement names c1, which the first merge folded in)
    with open_gc() as gc:
        _, p1, c0, c1 = _two_people(gc)
        c2 = _cluster(gc, "p2_0")
        assert c2 and c2 not in (c0, c1)
        gc.assign(p1[0], c1)
        assert gc.merge(c0, c1).a == c0
        gc.lock(c2)
        later = gc.merge(c2, c0)
        assert (later.a, later.b) == (c2, c0)
        gc.undo(later.id)
        detail = gc.assignments(detail=True)
        assert (detail[p1[0]].cluster_id, detail[p1[0]].status) == (c0, "manual")
        assert gc.check().ok, gc.check().problems


def test_a_placement_follows_its_cluster_through_a_merge(open_gc: Opener) -> None:
    # a face assigned to a cluster that a merge then folds away follows it into the merged
    # cluster; naming the deleted cluster, the next recluster touching it would be refused
    vecs, ids, _ = _identities(3, 8)
    first = [i for i, f in enumerate(ids) if not f.endswith(("_6", "_7"))]
    later = [i for i, f in enumerate(ids) if f.endswith(("_6", "_7"))]
    with open_gc() as gc:
        gc.add_faces(vecs[first], ids=[ids[i] for i in first])
        p0 = sorted(ids[i] for i in first if ids[i].startswith("p0_"))
        p1 = sorted(ids[i] for i in first if ids[i].startswith("p1_"))
        c0, c1 = _cluster(gc, p0[0]), _cluster(gc, p1[0])
        assert c0 and c1 and c0 != c1
        gc.assign(p0[0], c0)
        gc.remove(p1[1])  # a ban from c1, which the merge may also fold away
        gc.merge(c0, c1)
        kept = _cluster(gc, p0[1])
        assert kept in (c0, c1)
        gone = c1 if kept == c0 else c0
        assert gone not in {c.id for c in gc.clusters()}
        gc.add_faces(vecs[later], ids=[ids[i] for i in later])  # reclusters around the placed face
        gc.cleanup()
        assert _cluster(gc, p0[0]) == kept
        assert gc.assignments(detail=True)[p0[0]].status == "manual"
        assert _cluster(gc, p1[1]) != kept  # banned from the person the merged cluster became


def test_undo_a_cannot_link_lets_the_faces_rejoin(open_gc: Opener) -> None:
    vecs, ids, _ = _identities(2, 10)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        a, b = sorted(f for f in ids if f.startswith("p0_"))[:2]
        d = gc.different_person(a, b)
        assert _cluster(gc, a) != _cluster(gc, b) or _cluster(gc, a) is None
        undone = gc.undo(d.id)
        assert undone.undone
        gc.cleanup()
        assert _cluster(gc, a) == _cluster(gc, b) is not None


def test_name_and_review_answers(open_gc: Opener) -> None:
    vecs, ids, _ = _identities(3, 8)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        c = _cluster(gc, ids[0])
        assert c is not None
        gc.name(c, "Alice")
        assert gc.cluster(c)["cluster"].name == "Alice"
        for item in gc.review_queue(limit=50):
            assert item.kind in ("merge", "face", "new_identity")
            assert item.faces_a
        with pytest.raises(InvalidInput):
            gc.answer("r-missing", "maybe")
        with pytest.raises(NotFound):
            gc.answer("r-missing", "yes")


def test_interrupted_batch_is_reconciled_on_open(open_gc: Opener, caplog: pytest.LogCaptureFixture) -> None:
    vecs, ids, _ = _identities(2, 6)
    gc = open_gc()
    gc.add_faces(vecs[:6], ids=ids[:6])
    gc.close()
    with caplog.at_level(logging.WARNING, logger="graphcluster.recovery"):
        open_gc().close()  # a sound database: nothing to repair, nothing logged
    assert not caplog.records
    gc = open_gc()
    # what a crash between the index write and the graph write leaves behind
    gc.store.set_meta({"pending": ids[6:]})
    gc.index.add(ids[6:], vecs[6:])
    gc.index.flush()
    gc.close()
    with caplog.at_level(logging.WARNING, logger="graphcluster.recovery"):
        again = open_gc()
    assert [r.name for r in caplog.records] == ["graphcluster.recovery"]
    assert "6 faces of an unfinished batch dropped from the index" in caplog.records[0].getMessage()
    with again:
        assert len(again.index) == 6
        assert again.add_faces(vecs[6:], ids=ids[6:]).added == 6
        assert again.stats().faces == 12


def test_a_decision_cut_off_after_it_was_recorded_is_finished_on_open(open_gc: Opener) -> None:
    # what a crash between recording a placement and applying it leaves: the decision and its
    # journal note; opening the database applies it, so a recorded decision is always in force
    from graphcluster.decisions import JOURNAL
    from graphcluster.models import Decision

    gc = open_gc()
    _, p1, c0, c1 = _two_people(gc)
    d = Decision(id="d-cut-off", kind="assign", a=p1[0], b=c0, by="someone", data={"previous": c1})
    gc.store.set_meta({JOURNAL: [{"op": "assign", "decision": d.id}]})
    gc.store.add_decision(d)
    assert _cluster(gc, p1[0]) == c1
    gc.close()
    with open_gc() as again:
        assert again.store.get_meta().get(JOURNAL) is None
        assert again.assignments(detail=True)[p1[0]].cluster_id == c0
        assert again.assignments(detail=True)[p1[0]].status == "manual"
        assert again.check().ok, again.check().problems


def test_check_names_what_a_foreign_writer_broke(open_gc: Opener) -> None:
    from graphcluster.decisions import JOURNAL
    from graphcluster.models import Membership

    with open_gc() as gc:
        p0, p1, c0, c1 = _two_people(gc)
        link = gc.same_person(p0[0], p0[1])
        gc.assign(p1[0], c1)
        assert gc.check().ok
        # behind the engine's back: split the must-link, move the placed face, mark a face
        # 'manual' that nobody placed, leave a journal note, drop a face from the index
        gc.store.apply_clustering([
            Membership(face_id=p0[1], cluster_id=c1, status="auto", confidence=1.0),
            Membership(face_id=p1[0], cluster_id=c0, status="manual", confidence=1.0),
            Membership(face_id=p1[2], cluster_id=c1, status="manual", confidence=1.0),
        ])
        gc.store.set_meta({JOURNAL: [{"op": "merge", "decision": "d-nothing"}]})
        gc.index.delete([p1[3]])
        report = gc.check()
        assert not report.ok
        text = "\n".join(report.problems)
        for expected in (f"must-links whose faces are in different clusters: {link.id!r}",
                         f"faces placed by hand that are not in their cluster as 'manual': {p1[0]!r}",
                         f"faces marked 'manual' that no placement or lock holds: {p1[2]!r}",
                         "the decision journal still holds a 'merge' call",
                         f"not indexed: {p1[3]!r}"):
            assert expected in text, text


def test_embedded_store_refuses_a_second_writer(tmp_path: Path) -> None:
    settings = Settings(index="exact")
    with GraphCluster.open(tmp_path / "db", settings=settings):
        with pytest.raises(StoreBusy):
            GraphCluster.open(tmp_path / "db", settings=settings)


def test_new_index_segments_calibrate_to_the_review_threshold(tmp_path: Path) -> None:
    """The engine tells the index its ``review`` threshold: a segment built later -- here in a
    new process, before that process calibrated anything -- records it with its search effort."""
    import json

    vecs, ids, _ = _identities(30, 10)
    settings = Settings(index="annoy", delta_size=100)
    with GraphCluster.open(tmp_path / "db", settings=settings) as gc:
        gc.add_faces(vecs[:60], ids=ids[:60])  # below delta_size: no segment yet
        review = gc.thresholds.current().review
    manifest = tmp_path / "db" / "index" / "manifest.json"
    with GraphCluster.open(tmp_path / "db", settings=settings) as gc:
        gc.add_faces(vecs[60:], ids=ids[60:])
    built = [s["built"] for s in json.loads(manifest.read_text())["segments"]]
    assert review is not None and built
    assert all(b["recall_radius"] == pytest.approx(review) for b in built)


def test_a_store_with_no_faces_opens_over_a_leftover_index(open_gc: Opener) -> None:
    """An index folder that still holds vectors (e.g. restored from a backup) beside a store
    with no faces: opening rebuilds the index from the store, i.e. empties it."""
    vecs, ids, _ = _identities(2, 6)
    gc = open_gc()
    gc.add_faces(vecs, ids=ids)
    gc.store.clear()
    gc.close()
    with open_gc() as again:
        assert len(again.index) == 0 and again.stats().faces == 0
        assert again.rebuild_index() == 0
        assert again.add_faces(vecs, ids=ids).added == 12


def test_an_index_out_of_step_is_rebuilt_from_stored_vectors(open_gc: Opener) -> None:
    vecs, ids, _ = _identities(2, 6)
    gc = open_gc()
    gc.add_faces(vecs, ids=ids)
    before = gc.assignments()
    gc.index.delete(ids[:3])  # e.g. an index directory restored from an older backup
    gc.index.flush()
    gc.close()
    with open_gc() as again:
        assert len(again.index) == 12
        assert again.assignments() == before
        nbr_ids, _ = again.index.query(vecs[:1], 1)
        assert nbr_ids[0][0] == ids[0]


def test_review_queue_reads_past_many_stale_items(open_gc: Opener) -> None:
    # the queue reads open items a page at a time; stale ones (here: merges of clusters that do
    # not exist) are marked obsolete and the useful item further down is still found
    vecs, ids, _ = _identities(2, 6)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        c0 = _cluster(gc, next(f for f in ids if f.startswith("p0_")))
        assert c0
        stale = [ReviewItem(id=f"stale{i:03d}", kind="merge", priority=100.0 + i, faces_a=[ids[0]],
                            faces_b=[ids[1]], cluster_a=f"gone{i}", cluster_b=c0) for i in range(70)]
        face = next(f for f in ids if f.startswith("p1_"))
        useful = ReviewItem(id="useful", kind="face", priority=1.0, faces_a=[face], cluster_b=c0)
        gc.store.apply_clustering([gc.store.memberships([face])[face].model_copy(
            update={"cluster_id": None, "status": "unassigned", "confidence": 0.0})])
        gc.store.put_reviews([*stale, useful])
        queue = gc.review_queue(limit=3)
        assert "useful" in [r.id for r in queue]
        assert not any(r.id.startswith("stale") for r in queue)
        assert {r.id for r in gc.store.get_reviews(status="obsolete")} >= {r.id for r in stale}


def _replay(gc: GraphCluster, vecs: np.ndarray, ids: list[str], seen: set[str]) -> dict[str, str | None]:
    """Batches, a cannot-link that splits a cluster, a must-link that empties one, more batches."""
    for start in range(0, 40, 10):
        gc.add_faces(vecs[start : start + 10], ids=ids[start : start + 10])
        seen.update(c for c in gc.assignments().values() if c)
    a, b = sorted(f for f in ids[:40] if f.startswith("p1_"))[:2]
    gc.different_person(a, b)
    seen.update(c for c in gc.assignments().values() if c)
    c, d = next(f for f in ids[:40] if f.startswith("p2_")), next(f for f in ids[:40] if f.startswith("p3_"))
    gc.same_person(c, d)
    before = set(seen)
    gc.add_faces(vecs[40:], ids=ids[40:])
    created = {x for x in gc.assignments().values() if x} - before
    assert not created & seen, f"cluster ids handed out twice: {sorted(created & seen)}"
    return gc.assignments()


def test_the_same_input_gives_the_same_cluster_ids_in_an_empty_store(open_gc: Opener, tmp_path: Path) -> None:
    # look-alike people (spread close to the distance between them) so that ties occur
    vecs, ids, _ = _identities(8, 7, seed=5, spread=0.5)
    with open_gc() as gc:
        first = _replay(gc, vecs, ids, set())
    settings = Settings(index="exact", index_dir=tmp_path / "index2", k=8, threshold=0.6)
    with GraphCluster.open(tmp_path / "again", settings=settings) as other:
        second = _replay(other, vecs, ids, set())
    assert first == second
    assert all(c is None or (c.startswith("c-") and c[2:].isdigit()) for c in first.values())


def _open_kind(kind: str, settings: Settings, request: pytest.FixtureRequest, tmp_path: Path) -> GraphCluster:
    """A GraphCluster with ``settings`` of its own on the embedded store or the test Neo4j (emptied)."""
    if kind == "sqlite":
        return GraphCluster.open(tmp_path / "db", settings=settings)
    uri, user, password = request.getfixturevalue("neo4j_uri")
    request.getfixturevalue("clean_neo4j")
    return GraphCluster.open(uri, settings=settings, auth=(user, password))


@pytest.mark.parametrize("kind", ["sqlite", "neo4j"])
def test_calibration_questions_are_durable_decisions_that_place_the_link(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Answers to "are these two faces the same person?" are ordinary decisions (listed,
    undoable) and move a link threshold that started far too low towards the answers."""
    vecs, ids, _ = _identities(8, 12, spread=0.35)
    settings = Settings(index="exact", index_dir=tmp_path / "index", k=8)  # calibrated, no threshold
    gc = _open_kind(kind, settings, request, tmp_path)
    try:
        gc.add_faces(vecs, ids=ids)
        base = gc.stats().thresholds
        assert base["confidence"]["level"] in ("high", "medium", "low") and base["confidence"]["why"]
        wrong = {"link": base["link"] * 0.6, "review": base["review"] * 0.6, "source": base["source"],
                 "stats": base["stats"]}
        gc.store.set_meta({"thresholds_base": wrong, "thresholds": wrong})
        gc.close()  # reopened, the facade reads the thresholds the test wrote
        gc = _open_kind(kind, settings, request, tmp_path)
        start = gc.stats().thresholds["link"]
        asked: set[frozenset[str]] = set()
        decisions = []
        for _ in range(12):
            (item,) = gc.calibration_questions(limit=1)
            assert item.kind == "pair"
            pair = frozenset((item.faces_a[0], item.faces_b[0]))
            assert pair not in asked  # never the same pair twice
            asked.add(pair)
            same = item.faces_a[0].split("_")[0] == item.faces_b[0].split("_")[0]
            decisions.append(gc.answer(item.id, "yes" if same else "no", by="tester"))
        after = gc.stats().thresholds
        assert after["calibration_answers"]["same"] + after["calibration_answers"]["different"] == 12
        assert after["link"] > start * 1.15, (start, after["link"])
        listed = {d.id for d in gc.decisions()}
        assert all(d is not None and d.id in listed and d.by == "tester" for d in decisions)
        gc.undo(decisions[0].id, by="tester")  # undoable like any decision ...
        assert decisions[0].id in {d.id for d in gc.decisions() if d.undone}
        in_force = gc.stats().thresholds["calibration_answers"]
        assert in_force["same"] + in_force["different"] == 11  # ... and an undone answer does not place the link
    finally:
        gc.close()


# -- review answers are never lost ------------------------------------------------------------
def _person(face: str) -> str:
    return face.split("_")[0]


def _faces_of(ids: list[str], person: str) -> list[str]:
    """The faces of ``person`` (``p0``, ``p1``, ...) among ``ids``, sorted."""
    return sorted(f for f in ids if _person(f) == person)


def _truthful(gc: GraphCluster, item: ReviewItem) -> str:
    """The answer a reviewer who knows every face's person gives (the id prefix here)."""
    def person_of(faces: list[str]) -> str:
        people = [_person(f) for f in faces]
        return max(sorted(set(people)), key=people.count)

    if item.kind == "new_identity":
        return "yes" if len({_person(f) for f in item.faces_a}) == 1 else "no"
    if item.kind in ("join", "split"):  # a bulk question: see _bulk_truth
        return "yes"
    if item.kind == "face" and not item.faces_b:
        members = [m["face_id"] for m in gc.cluster(item.cluster_b or "")["members"]]
        return "yes" if _person(item.faces_a[0]) == person_of(members) else "no"
    return "yes" if person_of(item.faces_a) == person_of(item.faces_b) else "no"


def _bulk_truth(gc: GraphCluster, item: ReviewItem) -> list[str] | None:
    """The faces of a join or split that a reviewer who knows every face's person says "yes"
    about (they are the person asked about); None for the other kinds."""
    if item.kind not in ("join", "split"):
        return None
    cid = item.cluster_b if item.kind == "join" else item.cluster_a
    members = [m["face_id"] for m in gc.cluster(cid or "")["members"]] if cid in gc.assignments().values() else []
    people = [_person(f) for f in (members or item.faces_b or item.faces_a) if f not in item.faces_a or item.kind == "split"]
    person = max(sorted(set(people)), key=people.count) if people else None
    return [f for f in item.faces_a if _person(f) == person]


def _ambiguous_page(gc: GraphCluster) -> list[ReviewItem]:
    """Eight people whose faces spread as wide as the link: a page of 20 mixed questions."""
    vecs, ids, _ = _identities(8, 10, spread=0.6, seed=3)
    for s in range(0, len(ids), 20):
        gc.add_faces(vecs[s:s + 20], ids=ids[s:s + 20])
    page = gc.review_queue(limit=20)
    assert len(page) >= 15 and {i.kind for i in page} >= {"join", "split", "new_identity"}, [i.kind for i in page]
    return page


def _assert_answers_hold(gc: GraphCluster, given: list[tuple[ReviewItem, str]]) -> None:
    """Each answer still holds as a statement about the faces its question showed. A face a bulk
    question of the page placed (join, split) is left out of the pair checks: the latest
    placement of a face wins, and the page's answers come in no fixed order."""
    where = gc.assignments()
    placed = {f for item, _reply in given if item.kind in ("join", "split") for f in item.faces_a}
    for item, reply in given:
        if item.kind == "new_identity" and reply == "yes":
            assert len({where[f] for f in item.faces_a}) == 1 and where[item.faces_a[0]] is not None
        elif item.kind in ("merge", "face") and item.faces_b and not placed & {item.faces_a[0], item.faces_b[0]}:
            a, b = item.faces_a[0], item.faces_b[0]
            together = where[a] is not None and where[a] == where[b]
            assert together == (reply == "yes"), (item, reply)


@pytest.mark.parametrize("order", ["in order", "reversed"])
def test_a_whole_page_answered_in_any_order_loses_no_answer(open_gc: Opener, order: str) -> None:
    """Answering one question re-clusters and moves faces that later questions of the same
    page show; every answer is still accepted and still holds afterwards, as a statement about
    the faces it showed."""
    with open_gc() as gc:
        page = _ambiguous_page(gc)
        if order == "reversed":
            page.reverse()
        given = [(item, _truthful(gc, item)) for item in page]
        for item, reply in given:
            gc.answer(item.id, reply, by="reviewer", faces=_bulk_truth(gc, item))
        assert all(gc.store.get_review(item.id).status == "answered" for item in page)
        _assert_answers_hold(gc, given)


def test_an_answer_to_a_question_whose_cluster_is_gone_is_kept_about_the_faces_shown(open_gc: Opener) -> None:
    vecs, ids, _ = _identities(3, 8)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        where = gc.assignments()
        p0, p1 = _faces_of(ids, "p0"), _faces_of(ids, "p1")
        c1 = where[p1[0]]
        assert c1 is not None and where[p0[0]] != c1
        no = ReviewItem(id="q-no", kind="face", faces_a=[p0[0]], faces_b=[p1[0]], cluster_b=c1)
        yes = ReviewItem(id="q-yes", kind="face", faces_a=[p0[1]], faces_b=[p1[1]], cluster_b=c1)
        gc.store.put_reviews([no, yes])
        # a human merges the cluster the questions show into a locked one: its id is gone
        other = where[next(f for f in ids if f.startswith("p2_"))]
        assert other is not None
        gc.lock(other, by="ann")
        gc.merge(c1, other, by="ann")
        assert c1 not in gc.assignments().values()
        gc.answer("q-no", "no", by="bob")
        gc.answer("q-yes", "yes", by="bob")
        where = gc.assignments()
        assert where[p0[0]] != where[p1[0]]
        assert where[p0[1]] == where[p1[1]] == other
        stated = {(d.kind, frozenset((d.a, d.b))) for d in gc.decisions() if d.by == "bob"}
        assert stated == {("different_person", frozenset((p0[0], p1[0]))), ("same_person", frozenset((p0[1], p1[1])))}
        gc.add_faces(*_more(vecs, ids))
        gc.cleanup()
        where = gc.assignments()
        assert where[p0[0]] != where[p1[0]] and where[p0[1]] == where[p1[1]]


def _more(vecs: np.ndarray, ids: list[str]) -> tuple[np.ndarray, list[str]]:
    """The same faces again, slightly moved, under new ids: a later batch."""
    rng = np.random.default_rng(7)
    moved = vecs + 0.01 * rng.standard_normal(vecs.shape).astype(np.float32)
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    return moved, [f"{f}_again" for f in ids]


def test_the_same_answer_twice_is_recorded_once_and_a_changed_answer_is_a_new_decision(open_gc: Opener) -> None:
    vecs, ids, _ = _identities(2, 8)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        where = gc.assignments()
        a0, b = _faces_of(ids, "p0")[0], _faces_of(ids, "p1")
        item = ReviewItem(id="q-twice", kind="face", faces_a=[a0], faces_b=[b[0]], cluster_b=where[b[0]])
        gc.store.put_reviews([item])
        first = gc.answer("q-twice", "no", by="ann")
        assert first is not None
        count = len(gc.decisions())
        assert gc.answer("q-twice", "no", by="ann") is None
        assert len(gc.decisions()) == count
        changed = gc.answer("q-twice", "yes", by="ann")  # ann changed her mind
        assert changed is not None and changed.id != first.id
        assert gc.assignments()[a0] == where[b[0]]
        with pytest.raises(InvalidInput, match="maybe"):
            gc.answer("q-twice", "maybe")


def test_skipping_a_question_that_no_longer_asks_anything_records_it(open_gc: Opener) -> None:
    vecs, ids, _ = _identities(2, 6)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        c0 = _cluster(gc, ids[0])
        stale = ReviewItem(id="q-stale", kind="merge", faces_a=[ids[0]], faces_b=[ids[1]], cluster_a="gone",
                           cluster_b=c0)
        gc.store.put_reviews([stale])
        assert gc.answer("q-stale", "skip") is None
        assert gc.store.get_review("q-stale").status == "answered"
        assert "q-stale" not in [r.id for r in gc.review_queue(limit=50)]


def test_a_skipped_question_is_recorded_and_not_asked_again_after_a_recluster(open_gc: Opener) -> None:
    """A skip ("I can't tell") makes no decision and is never asked again: cleanup() re-clusters
    everything and proposes the same questions anew, and the skipped one stays answered."""
    vecs, ids, _ = _identities(3, 6)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        page = gc.review_queue(limit=20)
        assert page, "three new people of six faces each raise questions"
        item = page[0]
        decisions = len(gc.decisions())
        assert gc.answer(item.id, "skip") is None
        assert len(gc.decisions()) == decisions
        gc.cleanup()
        again = gc.store.get_review(item.id)
        assert again.status == "answered" and again.answer == "skip"
        assert item.id not in [r.id for r in gc.review_queue(limit=100)]
        # a skip of a question answered already changes nothing: the answer and its decisions stay
        other = gc.review_queue(limit=1)[0]
        gc.answer(other.id, "no")
        in_force = [d.id for d in gc.decisions()]
        assert gc.answer(other.id, "skip") is None
        assert gc.store.get_review(other.id).answer == "no"
        assert [d.id for d in gc.decisions()] == in_force


def test_a_first_import_is_clustered_in_one_pass_and_later_batches_as_usual(open_gc: Opener) -> None:
    """At least ``bootstrap_min`` faces into an empty database: one pass over the whole kNN
    graph (``AddReport.first_import``), clustering each person as batches of the same faces
    do; the next batch into the now non-empty database is an ordinary increment."""
    vecs, ids, labels = _identities(6, 40)
    person = dict(zip(ids, labels))

    def people(gc: GraphCluster) -> set[frozenset[str]]:
        groups: dict[str, set[str]] = {}
        for face, cid in gc.assignments().items():
            groups.setdefault(cid or face, set()).add(face)
        return {frozenset(g) for g in groups.values()}

    truth = {frozenset(f for f in ids[:200] if person[f] == p) for p in set(labels)}
    with open_gc(bootstrap_min=200) as gc:
        first = gc.add_faces(vecs[:200], ids=ids[:200])
        assert first.first_import and first.added == 200 and len(first.faces) == 200
        assert people(gc) == truth
        assert gc.check().ok
        later = gc.add_faces(vecs[200:], ids=ids[200:])
        assert not later.first_import and later.added == 40
        assert people(gc) == {frozenset(f for f in ids if person[f] == p) for p in set(labels)}


@pytest.mark.parametrize("first_import", [0, 1000])
def test_a_bad_metadata_row_anywhere_in_a_large_call_refuses_it_before_anything_is_written(
        open_gc: Opener, first_import: int) -> None:
    """A call of 1,500 faces (two chunks, or a first import) whose row 1,200 has a bbox that is
    not four numbers: ``InvalidInput`` naming that face, and nothing stored or indexed."""
    vecs, ids, _ = _identities(30, 50)
    meta: list[dict[str, object] | None] = [None] * len(ids)
    meta[1200] = {"bbox": ["left", 2, 3, 4]}
    with open_gc(bootstrap_min=first_import) as gc:
        with pytest.raises(InvalidInput, match=ids[1200]):
            gc.add_faces(vecs, ids=ids, metadata=meta)
        assert gc.stats().faces == 0 and len(gc.index) == 0 and gc.dim is None
        meta[1200] = {"bbox": [1, 2, 3, 4]}
        assert gc.add_faces(vecs, ids=ids, metadata=meta).added == len(ids)


def test_a_kind_whose_answers_put_nothing_right_moves_down_the_queue(open_gc: Opener) -> None:
    """The queue weighs each kind's priorities by how its answers went (review.kind_weights):
    three "is this cluster one person?" questions answered "yes" (nothing to take out) lower the
    weight of split questions, and a new-person question of lower priority comes first."""
    vecs, ids, _ = _identities(3, 6)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        people = sorted({a.cluster_id for a in gc.assignments(detail=True).values() if a.cluster_id})
        assert len(people) == 3
        members = gc.store.cluster_members(people)
        a, b, c = (sorted(members[p]) for p in people)
        mine = [ReviewItem(id="s-a", kind="split", priority=4.0, faces_a=a[:2], cluster_a=people[0]),
                ReviewItem(id="n-b", kind="new_identity", priority=2.0, faces_a=b, cluster_a=people[1])]
        asked = [ReviewItem(id=f"s-c{i}", kind="split", priority=4.0, faces_a=c[2 * i:2 * i + 2], cluster_a=people[2])
                 for i in range(3)]
        gc.store.put_reviews(mine + asked)

        def order() -> list[str]:
            return [r.id for r in gc.review_queue(limit=100) if r.id in ("s-a", "n-b")]

        assert order() == ["s-a", "n-b"]  # no answers yet: the stored priorities rank them
        for item in asked:
            gc.answer(item.id, "yes")  # one person: the question put nothing right
        weights = gc.review_weights()
        assert weights["split"] == pytest.approx(10 / (10 + 12))
        assert order() == ["n-b", "s-a"]
    with open_gc() as gc:  # the tally is stored: it outlives the process
        assert gc.review_weights()["split"] == pytest.approx(10 / (10 + 12))


def test_two_clients_answering_the_same_page_at_once_lose_no_answer(neo4j_uri: tuple[str, str | None, str | None],
                                                                      clean_neo4j: object, tmp_path: Path) -> None:
    """Two reviewers on one Neo4j take the same page and answer it at the same time, one from
    the top, one from the bottom. Every answer is accepted (a second answer of the same item is
    recorded once), and afterwards, and after a cleanup, every answer holds. (The embedded
    store has one writer at a time: a second gets ``StoreBusy``, tested above.)"""
    import threading

    uri, user, password = neo4j_uri
    def client(name: str) -> GraphCluster:  # each worker machine has its own index folder
        settings = Settings(index="exact", index_dir=tmp_path / name, k=8, threshold=0.6)
        return GraphCluster.open(uri, settings=settings, auth=(user, password))

    with client("first") as first:
        page = _ambiguous_page(first)
    with client("first") as first, client("second") as second:
        given = {item.id: _truthful(first, item) for item in page}
        subsets = {item.id: _bulk_truth(first, item) for item in page}
        errors: list[BaseException] = []

        def review(gc: GraphCluster, items: list[ReviewItem]) -> None:
            try:
                for item in items:
                    gc.answer(item.id, given[item.id], by=f"reviewer-{id(gc)}", faces=subsets[item.id])
            except BaseException as exc:  # reported below, with the thread's failure
                errors.append(exc)

        threads = [threading.Thread(target=review, args=(first, page)),
                   threading.Thread(target=review, args=(second, page[::-1]))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert all(first.store.get_review(item.id).status == "answered" for item in page)
        first.cleanup()
        _assert_answers_hold(first, [(item, given[item.id]) for item in page])


def test_photos_of_two_people_are_two_faces_cannot_linked_with_crops(
    open_gc: Opener, tmp_path: Path, two_face_photo: Callable[[Path], Path]
) -> None:
    """One photo, two people: one add_faces call, a same-image cannot-link, a crop each, idempotent."""
    folder = tmp_path / "photos"
    two_face_photo(folder / "party/pair.jpg")
    gc = open_gc()
    report = gc.add_photos(folder)
    (outcome,) = report.photos
    assert outcome.outcome == "added" and outcome.faces >= 2
    ids = outcome.face_ids
    assert all(f.startswith("party/pair.jpg#") for f in ids)
    faces = gc.store.get_faces(ids)
    assert {f.image for f in faces.values()} == {"party/pair.jpg"}
    links = {frozenset((d.a, d.b)) for d in gc.decisions() if d.kind == "different_person" and d.by == "graphcluster"}
    assert {frozenset((a, b)) for i, a in enumerate(ids) for b in ids[i + 1:]} <= links
    assert all(gc.face_crop(f) is not None and gc.face_crop(f)[:2] == b"\xff\xd8" for f in ids)
    assert gc.add_photos(folder).counts == {"unchanged": 1}
    assert gc.stats().faces == len(ids)


def _crowd(people: int, per: int, *, seed: int) -> tuple[np.ndarray, list[str]]:
    """``people`` look-alikes around one direction: faces of a person lie within ~0.05 of each
    other and every two people ~0.39 apart, just inside a link of 0.4 (a crowd that Chinese
    Whispers chains together, and that the cluster re-check takes apart)."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(np.random.default_rng(99).standard_normal((64, 64)))[0]
    vecs, ids = [], []
    for k in range(people):
        centre = basis[0] + 0.2869 * basis[k + 1]
        centre /= np.linalg.norm(centre)
        for j in range(per):
            v = centre + 0.04 * rng.standard_normal(64) / 8.0
            vecs.append(v / np.linalg.norm(v))
            ids.append(f"p{k}_{j}")
    return np.asarray(vecs, dtype=np.float32), ids


def _store_as_one_cluster(gc: GraphCluster, faces: tuple[np.ndarray, list[str]], cluster: str) -> None:
    """Add ``faces`` and store them as one cluster (as batches that each saw only part of a
    crowd can leave one)."""
    vecs, ids = faces
    gc.add_faces(vecs, ids=ids)
    stale = sorted({c for c in gc.assignments().values() if c})
    gc.store.apply_clustering(
        [Membership(face_id=f, cluster_id=cluster, status="auto", confidence=0.9) for f in ids],
        [ClusterRecord(id=cluster)], stale)


@pytest.mark.parametrize("recheck", [True, False], ids=["rechecked", "without-recheck"])
@pytest.mark.parametrize("kind", ["sqlite", "neo4j"])
def test_a_crowd_that_grows_past_a_size_level_is_rechecked_whole_and_split(
    kind: str, recheck: bool, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A crowd of 12 look-alike people held in one cluster (as batches that each saw only part
    of it can leave one) is larger than the region limit, so a batch's region holds it only in
    part. When a batch makes it cross a size level it is re-clustered whole: it falls apart
    into groups of a few look-alikes and no person is split. Without the re-check (the
    ``without-recheck`` case, which shows the scenario is real) the crowd stays one cluster."""
    settings = Settings(index="exact", index_dir=tmp_path / "index", k=8, threshold=0.4, region_limit=10,
                        tuning=Tuning() if recheck else Tuning(recheck_min=0))
    gc = _open_kind(kind, settings, request, tmp_path)
    try:
        _store_as_one_cluster(gc, _crowd(12, 3, seed=0), "c-crowd")
        more, _ = _crowd(3, 1, seed=1)  # one more photo each of p0, p1, p2: 36 -> 39 faces
        gc.add_faces(more, ids=["p0_new", "p1_new", "p2_new"])
        placed = gc.assignments()
        people: dict[str | None, set[str]] = {}
        homes: dict[str, set[str | None]] = {}
        for face, cluster in placed.items():
            people.setdefault(cluster, set()).add(face.split("_")[0])
            homes.setdefault(face.split("_")[0], set()).add(cluster)
        if recheck:
            assert max(len(p) for p in people.values()) <= 6, people
            assert all(len(h) == 1 for h in homes.values()), homes
        else:
            assert len(people) == 1 and len(next(iter(people.values()))) == 12
    finally:
        gc.close()


@pytest.mark.parametrize("kind", ["sqlite", "neo4j"])
def test_the_growth_recheck_waits_while_the_link_is_a_fallback(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The re-check exists for ``split_weak``, which does not run under a fallback link: with
    the same crowd and the same growth, a fallback link re-checks nothing and writes nothing,
    while a calibrated or explicit link of the same value re-checks the crowd and splits it."""
    from graphcluster.clustering import Thresholds
    from graphcluster.regions import Reclusterer
    from graphcluster.writer import Applied

    class Fixed:
        """The thresholds in use, fixed (the part of ThresholdKeeper a Reclusterer reads)."""

        def __init__(self, source: str) -> None:
            self.value = Thresholds.from_link(0.4, source=source)  # type: ignore[arg-type]

        def current(self) -> Thresholds:
            return self.value

        def auto_confidence(self) -> float:
            return 0.6

    settings = Settings(index="exact", index_dir=tmp_path / "index", k=8, threshold=0.4, region_limit=10)
    gc = _open_kind(kind, settings, request, tmp_path)
    try:
        _store_as_one_cluster(gc, _crowd(12, 3, seed=0), "c-crowd")
        grown = Applied(grown={"c-crowd": (24, 36)})
        waiting = Reclusterer(gc.store, gc.view, Fixed("fallback"), gc.settings)  # type: ignore[arg-type]
        assert waiting.recheck_grown(grown) == 0
        assert set(gc.assignments().values()) == {"c-crowd"}
        checking = Reclusterer(gc.store, gc.view, Fixed("settings"), gc.settings)  # type: ignore[arg-type]
        assert checking.recheck_grown(grown) == 1
        assert len(set(gc.assignments().values())) > 1
    finally:
        gc.close()
