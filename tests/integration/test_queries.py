"""The investigation library (cypher/queries/) on the real Neo4j, with a known small graph.

The graph (built with plain CREATE statements, in the data layout of docs/architecture.md and
graphcluster/store/neo4j.py)::

    Alice  c1 (locked): f1 (0.9, image p1.jpg)  f2 (0.8, source p2.jpg)  f3 (0.5, status review, image p3.jpg)
    Bob    c2:          f4 (0.95, image p1.jpg) f5 (0.7, source p2.jpg)
    (none) c3:          f6 (0.6, image p3.jpg)
    unassigned:         f7 (image p1.jpg)

    SIMILAR: f1-f2 .20, f2-f3 .30, f1-f3 .35, f3-f7 .38, f3-f4 .40, f2-f5 .45, f4-f5 .25, f1-f6 .50
    MUST_LINK f1->f2 (d1); CANNOT_LINK f3->f4 (d2)
    Decisions: d5 same f4 f5 (undone, 09:00), d1 same f1 f2 (10:00), d2 different f3 f4 (11:00),
               d3 name c1 (12:00), d4 lock c1 (13:00), d6 name c2 (14:00) — all on 2024-05-01
    Reviews: r1 merge (open, 0.9) about c1, c2, f3, f4; r2 face (answered); r3 new_identity (open, 0.3) about f7

Every query runs with the parameters ``graphcluster query`` would bind (header defaults included).

The last test builds a graph with the real engine (``GraphCluster.open(bolt://...)``, generated
faces, human decisions) and runs every query of the catalogue through ``GraphCluster.query``,
checking each answer against what the facade itself reports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from neo4j import Driver

from graphcluster import GraphCluster, InvalidInput, NotFound, Settings
from graphcluster.cypher_files import load
from graphcluster.demo import synthetic_faces
from graphcluster.queries import bind_query_params, query_catalogue

GRAPH = """
CREATE (c1:Cluster {id: 'c1', name: 'Alice', size: 3, locked: true,
                    created_at: datetime('2024-01-01T00:00:00Z'), updated_at: datetime('2024-05-02T00:00:00Z')})
CREATE (c2:Cluster {id: 'c2', name: 'Bob', size: 2, locked: false,
                    created_at: datetime('2024-03-01T00:00:00Z'), updated_at: datetime('2024-04-01T00:00:00Z')})
CREATE (c3:Cluster {id: 'c3', size: 1, locked: false,
                    created_at: datetime('2024-05-03T00:00:00Z'), updated_at: datetime('2024-05-03T00:00:00Z')})
CREATE (f1:Face {id: 'f1', dim: 4, image: 'p1.jpg'}), (f2:Face {id: 'f2', dim: 4, source: 'p2.jpg'}),
       (f3:Face {id: 'f3', dim: 4, image: 'p3.jpg'}), (f4:Face {id: 'f4', dim: 4, image: 'p1.jpg'}),
       (f5:Face {id: 'f5', dim: 4, source: 'p2.jpg'}), (f6:Face {id: 'f6', dim: 4, image: 'p3.jpg'}),
       (f7:Face {id: 'f7', dim: 4, image: 'p1.jpg'})
CREATE (f1)-[:IN_CLUSTER {status: 'auto', confidence: 0.9}]->(c1),
       (f2)-[:IN_CLUSTER {status: 'auto', confidence: 0.8}]->(c1),
       (f3)-[:IN_CLUSTER {status: 'review', confidence: 0.5}]->(c1),
       (f4)-[:IN_CLUSTER {status: 'auto', confidence: 0.95}]->(c2),
       (f5)-[:IN_CLUSTER {status: 'auto', confidence: 0.7}]->(c2),
       (f6)-[:IN_CLUSTER {status: 'auto', confidence: 0.6}]->(c3)
CREATE (f1)-[:SIMILAR {distance: 0.20, weight: 0.9}]->(f2), (f2)-[:SIMILAR {distance: 0.30, weight: 0.7}]->(f3),
       (f1)-[:SIMILAR {distance: 0.35, weight: 0.5}]->(f3), (f3)-[:SIMILAR {distance: 0.38, weight: 0.4}]->(f7),
       (f3)-[:SIMILAR {distance: 0.40, weight: 0.3}]->(f4), (f2)-[:SIMILAR {distance: 0.45, weight: 0.2}]->(f5),
       (f4)-[:SIMILAR {distance: 0.25, weight: 0.8}]->(f5), (f1)-[:SIMILAR {distance: 0.50, weight: 0.0}]->(f6)
CREATE (f1)-[:MUST_LINK {id: 'd1', by: 'ann', at: datetime('2024-05-01T10:00:00Z'), reason: 'same smile'}]->(f2),
       (f3)-[:CANNOT_LINK {id: 'd2', by: 'bob', at: datetime('2024-05-01T11:00:00Z'), reason: 'twins'}]->(f4)
CREATE (:Decision {id: 'd5', kind: 'same_person', a: 'f4', b: 'f5', by: 'ann', at: datetime('2024-05-01T09:00:00Z'), undone: true}),
       (:Decision {id: 'd1', kind: 'same_person', a: 'f1', b: 'f2', by: 'ann', at: datetime('2024-05-01T10:00:00Z'), reason: 'same smile', undone: false}),
       (:Decision {id: 'd2', kind: 'different_person', a: 'f3', b: 'f4', by: 'bob', at: datetime('2024-05-01T11:00:00Z'), reason: 'twins', undone: false}),
       (:Decision {id: 'd3', kind: 'name', a: 'c1', by: 'ann', at: datetime('2024-05-01T12:00:00Z'), undone: false}),
       (:Decision {id: 'd4', kind: 'lock', a: 'c1', by: 'ann', at: datetime('2024-05-01T13:00:00Z'), undone: false}),
       (:Decision {id: 'd6', kind: 'name', a: 'c2', by: 'bob', at: datetime('2024-05-01T14:00:00Z'), undone: false})
CREATE (r1:Review {id: 'r1', kind: 'merge', status: 'open', priority: 0.9}),
       (r2:Review {id: 'r2', kind: 'face', status: 'answered', priority: 0.8}),
       (r3:Review {id: 'r3', kind: 'new_identity', status: 'open', priority: 0.3})
CREATE (r1)-[:ABOUT {role: 'a'}]->(c1), (r1)-[:ABOUT {role: 'b'}]->(c2),
       (r1)-[:ABOUT {role: 'a'}]->(f3), (r1)-[:ABOUT {role: 'b'}]->(f4),
       (r2)-[:ABOUT {role: 'a'}]->(f6), (r3)-[:ABOUT {role: 'a'}]->(f7)
"""


@pytest.fixture
def graph(clean_neo4j: Driver) -> Iterator[Driver]:
    clean_neo4j.execute_query(GRAPH)
    yield clean_neo4j


def q(driver: Driver, name: str, *params: str) -> list[dict[str, Any]]:
    """Run ``cypher/queries/<name>.cypher`` with the parameters ``graphcluster query`` binds."""
    values = bind_query_params(query_catalogue()[name], params)
    records, _, _ = driver.execute_query(load(f"queries/{name}"), values)
    return [r.data() for r in records]


def test_person_faces_by_name_and_by_id(graph: Any) -> None:
    rows = q(graph, "person_faces", "cluster=Alice")
    assert rows == [
        {"cluster": "c1", "name": "Alice", "face": "f1", "photo": "p1.jpg", "status": "auto", "confidence": 0.9},
        {"cluster": "c1", "name": "Alice", "face": "f2", "photo": "p2.jpg", "status": "auto", "confidence": 0.8},
        {"cluster": "c1", "name": "Alice", "face": "f3", "photo": "p3.jpg", "status": "review", "confidence": 0.5},
    ]
    assert q(graph, "person_faces", "cluster=c1") == rows
    assert [r["face"] for r in q(graph, "person_faces", "cluster=c1", "limit=1")] == ["f1"]
    assert q(graph, "person_faces", "cluster=nobody") == []


def test_co_occurring_people(graph: Any) -> None:
    rows = q(graph, "co_occurring_people")
    assert [(r["cluster_a"], r["cluster_b"], r["shared_photos"], sorted(r["examples"])) for r in rows] == [
        ("c1", "c2", 2, ["p1.jpg", "p2.jpg"]),
        ("c1", "c3", 1, ["p3.jpg"]),
    ]
    assert rows[0]["name_a"] == "Alice" and rows[0]["name_b"] == "Bob" and rows[1]["name_b"] is None
    with_bob = q(graph, "co_occurring_people", "cluster=Bob")
    assert [(r["cluster_a"], r["cluster_b"], r["shared_photos"]) for r in with_bob] == [("c2", "c1", 2)]


def test_awaiting_review(graph: Any) -> None:
    rows = q(graph, "awaiting_review")
    assert [(r["what"], r["id"], r["kind"], r["priority"], sorted(r["faces"]), sorted(r["clusters"])) for r in rows] == [
        ("question", "r1", "merge", 0.9, ["f3", "f4"], ["c1", "c2"]),
        ("tentative_face", "f3", "face", 0.5, ["f3"], ["c1"]),
        ("question", "r3", "new_identity", 0.3, ["f7"], []),
    ]
    assert len(q(graph, "awaiting_review", "limit=1")) == 1


def test_cluster_evidence(graph: Any) -> None:
    rows = q(graph, "cluster_evidence", "cluster=Alice", "limit=1")
    assert rows == [
        {"cluster": "c1", "evidence": "strongest", "face_a": "f1", "face_b": "f2", "distance": 0.20, "weight": 0.9},
        {"cluster": "c1", "evidence": "weakest", "face_a": "f1", "face_b": "f3", "distance": 0.35, "weight": 0.5},
    ]
    every = q(graph, "cluster_evidence", "cluster=c1")  # limit 5 > 3 links: each link once, shortest first
    assert [(r["face_a"], r["face_b"]) for r in every] == [("f1", "f2"), ("f2", "f3"), ("f1", "f3")]
    assert q(graph, "cluster_evidence", "cluster=c3") == []  # a single face has no inner link


def test_similar_across_clusters(graph: Any) -> None:
    rows = q(graph, "similar_across_clusters", "face=f3")
    assert rows == [
        {"face": "f7", "cluster": None, "name": None, "distance": 0.38, "weight": 0.4, "home_cluster": "c1", "cannot_link": False},
        {"face": "f4", "cluster": "c2", "name": "Bob", "distance": 0.40, "weight": 0.3, "home_cluster": "c1", "cannot_link": True},
    ]
    assert [r["face"] for r in q(graph, "similar_across_clusters", "face=f3", "max_distance=0.39")] == ["f7"]
    # an unassigned face: every neighbour counts
    assert [r["face"] for r in q(graph, "similar_across_clusters", "face=f7")] == ["f3"]


def test_cluster_bridges(graph: Any) -> None:
    rows = q(graph, "cluster_bridges", "cluster_a=Alice", "cluster_b=Bob")
    assert [(r["face_a"], r["face_b"], r["distance"], r["cannot_link"]) for r in rows] == [
        ("f3", "f4", 0.40, True),
        ("f2", "f5", 0.45, False),
    ]
    everywhere = q(graph, "cluster_bridges", "cluster_a=c1")
    assert [(r["face_a"], r["cluster_b"], r["face_b"]) for r in everywhere] == [
        ("f3", "c2", "f4"), ("f2", "c2", "f5"), ("f1", "c3", "f6")]


def test_cluster_audit_trail(graph: Any) -> None:
    rows = q(graph, "cluster_audit_trail", "cluster=Alice")
    assert [(r["decision"], r["kind"], r["a"], r["b"], r["by"], r["undone"]) for r in rows] == [
        ("d1", "same_person", "f1", "f2", "ann", False),
        ("d2", "different_person", "f3", "f4", "bob", False),
        ("d3", "name", "c1", None, "ann", False),
        ("d4", "lock", "c1", None, "ann", False),
    ]
    assert rows[1]["reason"] == "twins"
    bob = q(graph, "cluster_audit_trail", "cluster=c2")
    assert [(r["decision"], r["undone"]) for r in bob] == [("d5", True), ("d2", False), ("d6", False)]


def test_changed_since(graph: Any) -> None:
    rows = q(graph, "changed_since", "since=2024-05-01T00:00:00Z")
    assert [(r["cluster"], r["name"], r["size"], r["new"]) for r in rows] == [("c3", None, 1, True), ("c1", "Alice", 3, False)]
    assert q(graph, "changed_since", "since=2030-01-01T00:00:00Z") == []
    assert len(q(graph, "changed_since", "since=2000-01-01T00:00:00Z")) == 3


def test_cluster_graph_returns_the_picture(graph: Any) -> None:
    (row,) = q(graph, "cluster_graph", "cluster=Alice")
    assert row["cluster"]["id"] == "c1"
    assert sorted(f["id"] for f in row["faces"]) == ["f1", "f2", "f3"]
    assert len(row["similar"]) == 3  # only the links among the cluster's own faces
    assert sorted(f["id"] for f in row["other_faces"]) == ["f1", "f2", "f4"]  # the far ends of MUST/CANNOT links
    assert sorted(c["id"] for c in row["other_clusters"]) == ["c1", "c2"]


# -- every query through the facade, on a graph the engine built -----------------------------------


@pytest.fixture
def engine_graph(neo4j_uri: tuple[str, str | None, str | None], clean_neo4j: Driver, tmp_path: Path) -> Iterator[GraphCluster]:
    """160 generated faces (a few group photos) ingested in 4 batches, then a reviewer's decisions."""
    uri, user, password = neo4j_uri
    auth = (user, password or "") if user else None
    ids, vectors, meta, _ = synthetic_faces(160, np.random.default_rng(4), dim=64)
    with GraphCluster.open(uri, settings=Settings(index_dir=tmp_path / "index"), auth=auth) as gc:
        for start in range(0, len(ids), 40):
            gc.add_faces(vectors[start:start + 40], ids=ids[start:start + 40], metadata=meta[start:start + 40])
        top = gc.clusters()[0]
        members = [m["face_id"] for m in gc.cluster(top.id)["members"]]
        assert len(members) >= 3, "the sample must form a cluster of 3+ faces"
        gc.same_person(members[0], members[1], by="ann", reason="same smile")
        gc.name(top.id, "Person Zero", by="ann")
        gc.lock(top.id, by="ann")
        yield gc


def test_every_query_runs_through_the_facade(engine_graph: GraphCluster) -> None:
    gc = engine_graph
    person = next(c for c in gc.clusters() if c.name == "Person Zero")
    members = {m["face_id"] for m in gc.cluster(person.id)["members"]}
    face = min(members)
    given: dict[str, Any] = {  # a value for every required parameter any query declares
        "cluster": "Person Zero",
        "cluster_a": person.id,
        "face": face,
        "since": datetime(2000, 1, 1, tzinfo=UTC),  # a datetime object, as Python callers pass it
    }
    results: dict[str, list[dict[str, Any]]] = {}
    for name, info in query_catalogue().items():
        params = {}
        for p in info.params:
            if p.name in given:
                params[p.name] = given[p.name]
            elif p.required:
                pytest.fail(f"query {name!r} takes a new required parameter {p.name!r}: add a value for it to `given`")
        rows = gc.query(name, **params)
        assert rows, f"{name} returned no rows on the engine's graph"
        json.dumps(rows)  # rows are plain, JSON-able values (temporal values as ISO strings)
        results[name] = rows

    assert {r["face"] for r in results["person_faces"]} == members
    assert {r["name"] for r in results["person_faces"]} == {"Person Zero"}

    trail = results["cluster_audit_trail"]
    recorded = {d.id for d in gc.decisions(cluster_id=person.id)} | {d.id for d in gc.decisions(face_id=face)}
    assert recorded and recorded <= {r["decision"] for r in trail}
    assert {"same_person", "name", "lock"} <= {r["kind"] for r in trail}

    assert {r["cluster"] for r in results["changed_since"]} == {c.id for c in gc.clusters()}

    stats = gc.stats()
    awaiting = results["awaiting_review"]
    assert len(awaiting) == min(50, stats.open_reviews + stats.by_status.get("review", 0))

    (picture,) = results["cluster_graph"]
    assert picture["cluster"]["id"] == person.id and {f["id"] for f in picture["faces"]} <= members
    assert picture["decisions"], "the must-link inside the person is drawn"

    evidence = results["cluster_evidence"]
    assert {r["cluster"] for r in evidence} == {person.id}
    assert {r["face_a"] for r in evidence} | {r["face_b"] for r in evidence} <= members

    assert all(r["cluster"] != person.id for r in results["similar_across_clusters"])
    assert all(r["cluster_a"] == person.id and r["cluster_b"] != person.id for r in results["cluster_bridges"])
    assert all(r["cluster_a"] != r["cluster_b"] and r["shared_photos"] >= 1 for r in results["co_occurring_people"])


def test_facade_query_errors_on_neo4j(engine_graph: GraphCluster) -> None:
    with pytest.raises(NotFound, match="no investigation query named 'nope'"):
        engine_graph.query("nope")
    with pytest.raises(InvalidInput, match="has no parameter 'who'; it takes: cluster, limit"):
        engine_graph.query("person_faces", cluster="x", who="y")
    with pytest.raises(InvalidInput, match="needs cluster"):
        engine_graph.query("person_faces")
    with pytest.raises(InvalidInput, match="is not an int"):
        engine_graph.query("person_faces", cluster="x", limit="ten")
