"""The Store contract (graphcluster/store/base.py), run against every store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from graphcluster.errors import InvalidInput, NotFound
from graphcluster.models import ClusterRecord, Decision, FaceRecord, Membership, ReviewItem, SimilarEdge
from graphcluster.store.base import Store

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)


def face(i: int, **kw: object) -> FaceRecord:
    return FaceRecord(id=f"f{i:03d}", dim=4, created_at=T0 + timedelta(seconds=i), **kw)  # type: ignore[arg-type]


def edge(a: int, b: int, d: float = 0.3) -> SimilarEdge:
    return SimilarEdge(a=f"f{a:03d}", b=f"f{b:03d}", distance=d, weight=1 - d)


def faces(n: int) -> list[FaceRecord]:
    return [face(i) for i in range(n)]


def cluster(cid: str, **kw: object) -> ClusterRecord:
    return ClusterRecord(id=cid, created_at=T0, updated_at=T0, **kw)  # type: ignore[arg-type]


def member(f: int, c: str | None, status: str = "auto", conf: float = 0.9) -> Membership:
    return Membership(face_id=f"f{f:03d}", cluster_id=c, status=status, confidence=conf)  # type: ignore[arg-type]


def snapshot(s: Store) -> tuple[object, ...]:
    """Everything a reader can see, for 'nothing changed' checks."""
    ids = s.face_ids()
    return (
        ids,
        sorted((e.a, e.b, e.distance) for e in s.similar_edges(ids)),
        s.memberships(),
        {k: (c.size, c.locked, c.name) for k, c in s.get_clusters().items()},
        s.get_decisions(),
        s.get_reviews(status=None),
        s.get_meta(),
    )


# -- faces -----------------------------------------------------------------------------------
def test_face_round_trip_with_metadata_and_embedding(store: Store) -> None:
    f = FaceRecord(
        id="a", dim=4, source="cam1", image="img/1.jpg", bbox=[1.0, 2.5, 30.0, 40.0], quality=0.75, batch="b1",
        created_at=T0, metadata={"taken": "2024-01-01", "tags": ["x", "y"], "n": 3},
        embedding=[0.5, -0.5, 0.25, 0.125],
    )
    store.add_faces([f, FaceRecord(id="b", dim=4)], [])
    got = store.get_faces(["a", "b", "zz"], with_embedding=True)
    assert set(got) == {"a", "b"}
    assert got["a"] == f
    assert got["a"].created_at.tzinfo is not None
    assert got["b"].embedding is None and got["b"].metadata == {} and got["b"].image is None
    assert store.get_faces(["a"])["a"].embedding is None
    assert store.count_faces() == 2
    assert sorted(store.face_ids()) == ["a", "b"]
    assert store.existing_face_ids(["a", "zz", "b"]) == {"a", "b"}
    assert store.existing_face_ids([]) == set()


def test_naive_datetime_is_read_back_as_utc(store: Store) -> None:
    store.add_faces([FaceRecord(id="a", dim=4, created_at=datetime(2024, 1, 2, 3, 4, 5))], [])
    assert store.get_faces(["a"])["a"].created_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_add_faces_is_idempotent(store: Store) -> None:
    store.add_faces(faces(3), [edge(0, 1), edge(1, 2)])
    before = snapshot(store)
    store.add_faces(faces(3), [edge(0, 1), edge(1, 2)])
    store.add_faces([face(0, source="changed")], [edge(1, 0, 0.9)])
    assert snapshot(store) == before
    assert store.get_faces(["f000"])["f000"].source is None


def test_edges_are_canonical_and_deduplicated(store: Store) -> None:
    store.add_faces(faces(4), [edge(1, 0, 0.2), edge(0, 1, 0.2), edge(2, 3, 0.4)])
    store.add_faces([face(4)], [edge(4, 0, 0.5), edge(0, 4, 0.5), edge(3, 4, 0.1)])
    got = sorted((e.a, e.b, round(e.distance, 6), round(e.weight, 6)) for e in store.similar_edges(["f000"]))
    assert got == [("f000", "f001", 0.2, 0.8), ("f000", "f004", 0.5, 0.5)]
    both = store.similar_edges(["f003", "f004"])
    assert sorted((e.a, e.b) for e in both) == [("f000", "f004"), ("f002", "f003"), ("f003", "f004")]
    assert store.similar_edges([]) == [] and store.similar_edges(["nope"]) == []
    assert sorted(store.similar_pairs(["f003", "f004"])) == sorted((e.a, e.b, e.distance) for e in both)
    assert store.similar_pairs([]) == [] and store.similar_pairs(["nope"]) == []


def test_faces_linked_between_a_band_of_distances(store: Store) -> None:
    store.add_faces(faces(6), [edge(0, 1, 0.20), edge(1, 2, 0.30), edge(2, 3, 0.35), edge(4, 5, 0.50)])
    assert store.faces_linked_between(0.25, 0.40, 100) == ["f001", "f002", "f003"]
    assert store.faces_linked_between(0.20, 0.2001, 100) == ["f000", "f001"]  # lo is inside, hi outside
    assert store.faces_linked_between(0.35, 0.35, 100) == []
    assert store.faces_linked_between(0.6, 0.9, 100) == []
    assert len(store.faces_linked_between(0.0, 1.0, 1)) == 2  # the limit counts edges


def test_edge_to_unknown_face_or_self_is_refused_whole(store: Store) -> None:
    store.add_faces(faces(2), [])
    before = snapshot(store)
    with pytest.raises(InvalidInput, match="ghost"):
        store.add_faces([face(5)], [edge(5, 0), SimilarEdge(a="f005", b="ghost", distance=0.1, weight=0.9)])
    with pytest.raises(InvalidInput, match="itself"):
        store.add_faces([face(5)], [edge(5, 5)])
    assert snapshot(store) == before


def test_faces_and_the_decisions_made_with_them_are_one_transaction(store: Store) -> None:
    store.add_faces(faces(2), [])
    ban = Decision(id="d-img", kind="different_person", a="f005", b="f000", by="graphcluster", at=T0)
    before = snapshot(store)
    with pytest.raises(InvalidInput, match="ghost"):  # a bad edge: neither the face nor its cannot-link
        store.add_faces([face(5)], [SimilarEdge(a="f005", b="ghost", distance=0.1, weight=0.9)], [ban])
    with pytest.raises(NotFound, match="f009"):  # a cannot-link to an unknown face: not the face either
        store.add_faces([face(5)], [edge(5, 0)], [ban.model_copy(update={"b": "f009"})])
    with pytest.raises(InvalidInput):
        store.add_faces([face(5)], [], [ban.model_copy(update={"b": "f005"})])
    assert snapshot(store) == before
    store.add_faces([face(5), face(6)], [edge(5, 0)], [ban, ban.model_copy(update={"id": "d-img2", "a": "f006"})])
    assert store.existing_face_ids(["f005", "f006"]) == {"f005", "f006"}
    _, cannot = store.constraint_links(["f000"])
    assert sorted((a, b, i) for a, b, i in cannot) == [("f005", "f000", "d-img"), ("f006", "f000", "d-img2")]
    assert [d.id for d in store.get_decisions(face_ids=["f005"])] == ["d-img"]


def test_faces_by_image(store: Store) -> None:
    store.add_faces([face(0, image="x.jpg"), face(1, image="x.jpg"), face(2, image="y.jpg"), face(3)], [])
    assert store.faces_by_image(["x.jpg", "y.jpg", "z.jpg"]) == {"x.jpg": ["f000", "f001"], "y.jpg": ["f002"]}
    assert store.faces_by_image([]) == {}


# -- memberships and clusters -----------------------------------------------------------------
def test_memberships_default_to_unassigned(store: Store) -> None:
    store.add_faces(faces(2), [])
    got = store.memberships(["f000", "nope"])
    assert got == {"f000": Membership(face_id="f000", cluster_id=None, status="unassigned", confidence=0.0)}
    assert set(store.memberships()) == {"f000", "f001"}


def test_apply_clustering_creates_moves_and_deletes(store: Store) -> None:
    store.add_faces(faces(5), [])
    store.apply_clustering(
        [member(0, "c1"), member(1, "c1"), member(2, "c2", "review", 0.4), member(3, "c2")],
        [cluster("c1", name="Ann"), cluster("c2", locked=True)],
    )
    cs = store.get_clusters()
    assert {k: (c.size, c.locked, c.name) for k, c in cs.items()} == {"c1": (2, False, "Ann"), "c2": (2, True, None)}
    assert cs["c1"].created_at == T0 and cs["c1"].updated_at > T0
    assert store.memberships(["f002"])["f002"] == member(2, "c2", "review", 0.4)
    assert store.cluster_members(["c1", "c2", "none"]) == {"c1": ["f000", "f001"], "c2": ["f002", "f003"], "none": []}
    # move f000 and f001 to c2, c1 becomes empty and is deleted; f003 is unassigned
    store.apply_clustering([member(0, "c2"), member(1, "c2", "manual", 1.0), member(3, None, "unassigned", 0)],
                           delete_clusters=["c1"])
    assert set(store.get_clusters()) == {"c2"}
    assert store.get_clusters(["c2"])["c2"].size == 3
    assert store.cluster_members(["c2"])["c2"] == ["f000", "f001", "f002"]
    assert store.memberships(["f003"])["f003"].status == "unassigned"
    assert store.memberships(["f001"])["f001"].status == "manual"
    assert store.get_clusters(["c1", "c2"]).keys() == {"c2"}


def test_apply_clustering_upserts_existing_cluster_fields(store: Store) -> None:
    store.add_faces(faces(2), [])
    store.apply_clustering([member(0, "c1")], [cluster("c1")])
    store.apply_clustering([member(1, "c1")], [cluster("c1", locked=True, name="Bo")])
    c = store.get_clusters(["c1"])["c1"]
    assert (c.size, c.locked, c.name) == (2, True, "Bo")


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.apply_clustering([member(0, "c9"), member(9, "c9")], [cluster("c9")]),  # unknown face
        lambda s: s.apply_clustering([member(0, "c9"), member(1, "nowhere")], [cluster("c9")]),  # unknown cluster
        lambda s: s.apply_clustering([member(0, "c9"), member(0, "c1")], [cluster("c9")]),  # face twice
        lambda s: s.apply_clustering([member(0, "c9")], [cluster("c9")], ["c1"]),  # delete non-empty
        lambda s: s.apply_clustering([member(0, "c1", "unassigned")]),  # contradictory status
    ],
    ids=["unknown-face", "unknown-cluster", "face-twice", "delete-non-empty", "cluster-but-unassigned"],
)
def test_failing_apply_clustering_changes_nothing(store: Store, call: object) -> None:
    store.add_faces(faces(3), [edge(0, 1)])
    store.apply_clustering([member(0, "c1"), member(1, "c1")], [cluster("c1")])
    before = snapshot(store)
    with pytest.raises(InvalidInput):
        call(store)  # type: ignore[operator]
    assert snapshot(store) == before


def test_update_cluster(store: Store) -> None:
    store.add_faces(faces(1), [])
    store.apply_clustering([member(0, "c1")], [cluster("c1")])
    before = store.get_clusters(["c1"])["c1"].updated_at
    store.update_cluster("c1", locked=True, name="Cy")
    c = store.get_clusters(["c1"])["c1"]
    assert (c.locked, c.name, c.size) == (True, "Cy", 1) and c.updated_at >= before
    store.update_cluster("c1", name=None)
    assert store.get_clusters(["c1"])["c1"].name is None
    assert store.get_clusters(["c1"])["c1"].locked is True
    with pytest.raises(NotFound, match="nope"):
        store.update_cluster("nope", locked=True)
    with pytest.raises(InvalidInput, match="size"):
        store.update_cluster("c1", size=5)


# -- decisions ----------------------------------------------------------------------------------
def decision(i: int, kind: str, a: str, b: str | None, **kw: Any) -> Decision:
    return Decision(id=f"d{i}", kind=kind, a=a, b=b, by="ann", at=T0 + timedelta(minutes=i),  # type: ignore[arg-type]
                    reason="looked", **kw)


def test_decisions_add_filter_and_undo(store: Store) -> None:
    store.add_faces(faces(4), [])
    store.apply_clustering([member(3, "c1")], [cluster("c1")])
    d1 = decision(1, "same_person", "f000", "f001")
    d2 = decision(2, "different_person", "f001", "f002")
    d3 = decision(3, "lock", "c1", None)
    d4 = decision(4, "name", "c1", None, data={"name": "Dee", "previous": None})
    for d in (d3, d1, d4, d2):
        store.add_decision(d)
    assert store.get_decisions() == [d1, d2, d3, d4]
    assert store.get_decision("d4") == d4
    assert [d.id for d in store.get_decisions(face_ids=["f001"])] == ["d1", "d2"]
    assert [d.id for d in store.get_decisions(face_ids=["f002"], kinds=["same_person"])] == []
    assert [d.id for d in store.get_decisions(cluster_ids=["c1"])] == ["d3", "d4"]
    assert [d.id for d in store.get_decisions(cluster_ids=["c1"], kinds=["lock"])] == ["d3"]
    assert store.constraint_links(["f001"]) == ([("f000", "f001", "d1")], [("f001", "f002", "d2")])
    assert store.constraint_links(["f003"]) == ([], [])

    store.undo_decision("d1")
    assert store.get_decision("d1").undone is True
    assert store.constraint_links(["f000", "f001"]) == ([], [("f001", "f002", "d2")])
    assert [d.id for d in store.get_decisions(active_only=True)] == ["d2", "d3", "d4"]
    assert len(store.get_decisions()) == 4
    store.undo_decision("d1")  # undoing twice is harmless
    with pytest.raises(NotFound, match="d99"):
        store.undo_decision("d99")
    with pytest.raises(NotFound, match="d99"):
        store.get_decision("d99")


def test_add_decision_is_an_upsert(store: Store) -> None:
    store.add_faces(faces(2), [])
    d = decision(1, "same_person", "f000", "f001", data={"x": 1})
    store.add_decision(d)
    d.data["anchor"] = "d7"
    store.add_decision(d)
    assert store.get_decision("d1").data == {"x": 1, "anchor": "d7"}
    assert store.constraint_links(["f000"]) == ([("f000", "f001", "d1")], [])


def test_bad_decisions_are_refused(store: Store) -> None:
    store.add_faces(faces(1), [])
    before = snapshot(store)
    with pytest.raises(NotFound, match="ghost"):
        store.add_decision(decision(1, "different_person", "f000", "ghost"))
    with pytest.raises(InvalidInput):
        store.add_decision(decision(2, "same_person", "f000", "f000"))
    with pytest.raises(InvalidInput):
        store.add_decision(decision(3, "same_person", "f000", None))
    assert snapshot(store) == before


# -- reviews and meta -------------------------------------------------------------------------
def review(i: str, priority: float, kind: str = "merge", **kw: object) -> ReviewItem:
    return ReviewItem(id=i, kind=kind, priority=priority, created_at=T0, **kw)  # type: ignore[arg-type]


def test_reviews_upsert_order_and_status(store: Store) -> None:
    store.add_faces(faces(4), [])
    store.apply_clustering([member(0, "c1"), member(1, "c2")], [cluster("c1"), cluster("c2")])
    r1 = review("r1", 1.0, faces_a=["f000"], faces_b=["f001"], cluster_a="c1", cluster_b="c2")
    r2 = review("r2", 5.0, "new_identity", faces_a=["f002", "f003"])
    r3 = review("r3", 3.0, "face", faces_a=["f001"], cluster_b="c1")
    store.put_reviews([r1, r2, r3])
    assert [r.id for r in store.get_reviews()] == ["r2", "r3", "r1"]
    assert [r.id for r in store.get_reviews(limit=2)] == ["r2", "r3"]
    # one kind's queue, best first (the review queue weighs the kinds: review.kind_weights)
    assert [r.id for r in store.get_reviews(kind="face")] == ["r3"]
    assert [r.id for r in store.get_reviews(kind="merge", limit=1)] == ["r1"]
    assert store.get_reviews(kind="split") == []
    with pytest.raises(InvalidInput, match="status"):
        store.get_reviews(status=None, kind="merge")
    assert store.get_review("r1") == r1
    assert store.open_reviews_about(["c1"]) == ["r1", "r3"]  # as cluster_a or as cluster_b
    assert store.open_reviews_about(["c2", "c9"]) == ["r1"] and store.open_reviews_about([]) == []
    store.put_reviews([r1.model_copy(update={"priority": 9.0, "faces_b": ["f002"]})])
    assert store.get_review("r1").faces_b == ["f002"]
    assert [r.id for r in store.get_reviews()] == ["r1", "r2", "r3"]
    store.set_review_status(["r1", "r3"], "answered", "yes")
    assert [r.id for r in store.get_reviews()] == ["r2"]
    assert [r.id for r in store.get_reviews(status="answered")] == ["r1", "r3"]
    assert store.open_reviews_about(["c1", "c2"]) == []  # answered items are not open
    assert store.get_review("r3").answer == "yes"
    assert len(store.get_reviews(status=None)) == 3
    assert store.review_statuses(["r1", "r2", "r3", "rx"]) == {"r1": "answered", "r2": "open", "r3": "answered"}
    assert store.review_statuses([]) == {}
    with pytest.raises(NotFound, match="rx"):
        store.set_review_status(["r2", "rx"], "obsolete")
    assert store.get_review("r2").status == "open"
    with pytest.raises(InvalidInput):
        store.set_review_status(["r2"], "closed")
    with pytest.raises(NotFound, match="rx"):
        store.get_review("rx")


def test_meta(store: Store) -> None:
    assert store.get_meta() == {}
    store.set_meta({"dim": 128, "thresholds": {"link": 0.5, "source": "calibrated"}, "pending": ["a", "b"]})
    store.set_meta({"dim": 512, "pending": None})
    assert store.get_meta() == {"dim": 512, "thresholds": {"link": 0.5, "source": "calibrated"}}


def test_clear(store: Store) -> None:
    store.add_faces(faces(3), [edge(0, 1)])
    store.apply_clustering([member(0, "c1")], [cluster("c1")])
    store.add_decision(decision(1, "same_person", "f000", "f001"))
    store.put_reviews([review("r1", 1.0, faces_a=["f000"])])
    store.set_meta({"dim": 4})
    store.clear()
    assert snapshot(store) == ([], [], {}, {}, [], [], {})
    assert store.count_faces() == 0


def test_batches_of_thousands(store: Store) -> None:
    n = 6000  # > 5,000 ids per read and > 10,000 edge rows per statement: the Neo4j store slices both
    fs = [FaceRecord(id=f"x{i}", dim=4) for i in range(n)]
    es = [SimilarEdge(a=f"x{i}", b=f"x{(i + j) % n}", distance=0.1 * j, weight=1.0) for i in range(n) for j in (1, 2)]
    store.add_faces(fs, es)
    ids = [f.id for f in fs]
    assert store.count_faces() == n
    assert len(store.existing_face_ids(ids)) == n
    assert len(store.similar_edges(ids)) == 2 * n
    store.apply_clustering([Membership(face_id=i, cluster_id="big", status="auto", confidence=0.5) for i in ids],
                           [ClusterRecord(id="big")])
    assert store.get_clusters(["big"])["big"].size == n
    assert len(store.memberships(ids)) == n


def test_implements_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)
    assert store.kind in {"sqlite", "neo4j"}


def test_counts_agree_with_what_the_store_holds(store: Store) -> None:
    empty = store.counts()
    assert (empty.faces, empty.clusters, empty.open_reviews, empty.decisions) == (0, 0, 0, 0)
    store.add_faces(faces(6), [edge(0, 1)])
    store.apply_clustering(
        [member(0, "c1"), member(1, "c1", "review", 0.4), member(2, "c2", "manual", 1.0), member(3, "c2")],
        [cluster("c1"), cluster("c2", locked=True)],
    )
    store.put_reviews([review("r1", 1.0, faces_a=["f000"]), review("r2", 2.0, faces_a=["f001"])])
    store.set_review_status(["r2"], "answered", "no")
    store.add_decision(decision(1, "lock", "c2", None))
    store.add_decision(decision(2, "name", "c1", None))
    store.undo_decision("d2")
    c = store.counts()
    assert (c.faces, c.clusters, c.locked_clusters, c.open_reviews, c.decisions) == (6, 2, 1, 1, 1)
    assert c.by_status == {"auto": 2, "review": 1, "manual": 1, "unassigned": 2}
    statuses = [m.status for m in store.memberships(None).values()]
    assert c.by_status == {s: statuses.count(s) for s in ("auto", "review", "manual", "unassigned")}


# -- pages (the web review page reads these) ---------------------------------------------------
def test_cluster_page_is_largest_first_and_cut_by_the_store(store: Store) -> None:
    store.add_faces(faces(10), [])
    sizes = {"c-b": 3, "c-a": 3, "c-c": 1, "c-d": 2}  # c-a and c-b tie: id order
    ms, i = [], 0
    for cid, n in sizes.items():
        ms += [member(i + j, cid) for j in range(n)]
        i += n
    store.apply_clustering(ms, [cluster(c) for c in sizes])
    order = [c.id for c in store.cluster_page(0, 10)]
    assert order == ["c-a", "c-b", "c-d", "c-c"]
    assert [c.id for c in store.cluster_page(1, 2)] == ["c-b", "c-d"]
    assert [(c.id, c.size) for c in store.cluster_page(3, 5)] == [("c-c", 1)]
    assert store.cluster_page(4, 5) == []
    with pytest.raises(InvalidInput, match="limit must be a whole number >= 1, got 0"):
        store.cluster_page(0, 0)
    with pytest.raises(InvalidInput, match="offset must be a whole number >= 0, got -1"):
        store.cluster_page(-1, 5)


def test_unassigned_faces_pages_the_faces_in_no_cluster(store: Store) -> None:
    store.add_faces(faces(6), [])
    store.apply_clustering([member(1, "c-1"), member(4, "c-1")], [cluster("c-1")])
    assert store.unassigned_faces(0, 10) == ["f000", "f002", "f003", "f005"]
    assert store.unassigned_faces(1, 2) == ["f002", "f003"]
    store.apply_clustering([member(4, None, "unassigned", 0)])  # leaving a cluster makes a face unassigned
    assert store.unassigned_faces(0, 10) == ["f000", "f002", "f003", "f004", "f005"]
    with pytest.raises(InvalidInput, match="offset"):
        store.unassigned_faces(-3, 1)
