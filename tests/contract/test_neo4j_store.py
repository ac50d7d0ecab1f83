"""What only the Neo4j store promises: clear errors when unreachable, idempotent schema, a caller's driver."""

from __future__ import annotations

import pytest
from neo4j import GraphDatabase

from graphcluster.errors import StoreError
from graphcluster.models import FaceRecord, SimilarEdge
from graphcluster.store import Neo4jStore, open_store


def test_unreachable_server_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot reach Neo4j at bolt://127.0.0.1:1"):
        Neo4jStore("bolt://127.0.0.1:1")
    with pytest.raises(StoreError, match="expected e.g. bolt://"):
        Neo4jStore("neo4j+bogus://x")


def test_reopening_applies_the_schema_idempotently_and_keeps_data(neo4j_uri: tuple[str, str, str]) -> None:
    uri, user, password = neo4j_uri
    auth = (user, password or "") if user else None
    with Neo4jStore(uri, auth=auth) as s:
        s.clear()
        s.add_faces([FaceRecord(id="a", dim=2), FaceRecord(id="b", dim=2)],
                    [SimilarEdge(a="b", b="a", distance=0.1, weight=0.9)])
    with open_store(uri, auth=auth) as s:  # type: ignore[attr-defined]
        assert isinstance(s, Neo4jStore) and s.kind == "neo4j"
        assert s.count_faces() == 2
        assert [(e.a, e.b) for e in s.similar_edges(["a"])] == [("a", "b")]
        s.clear()


def test_a_callers_driver_is_used_and_left_open(neo4j_uri: tuple[str, str, str]) -> None:
    uri, user, password = neo4j_uri
    driver = GraphDatabase.driver(uri, auth=(user, password or "") if user else None)
    try:
        s = Neo4jStore(driver=driver)
        s.clear()
        s.set_meta({"x": [1, 2]})
        s.close()
        assert driver.execute_query("MATCH (m:Meta {key: 'x'}) RETURN m.value AS v").records[0]["v"] == "[1, 2]"
        Neo4jStore(driver=driver).clear()
    finally:
        driver.close()


def test_the_graph_investigators_see(neo4j_uri: tuple[str, str, str], clean_neo4j: object) -> None:
    """The layout of docs/architecture.md, read back with plain Cypher as an investigator would."""
    from datetime import datetime, timezone

    from graphcluster.models import ClusterRecord, Decision, Membership, ReviewItem

    uri, user, password = neo4j_uri
    driver = GraphDatabase.driver(uri, auth=(user, password or "") if user else None)
    with driver, Neo4jStore(driver=driver) as s:
        s.add_faces(
            [FaceRecord(id="a", dim=2, image="p.jpg", bbox=[1.0, 2.0, 3.0, 4.0], metadata={"camera": "x"},
                        embedding=[0.6, 0.8]),
             FaceRecord(id="b", dim=2)],
            [SimilarEdge(a="b", b="a", distance=0.2, weight=0.8), SimilarEdge(a="a", b="b", distance=0.2, weight=0.8)],
        )
        s.apply_clustering([Membership(face_id="a", cluster_id="c", status="auto", confidence=0.7)],
                           [ClusterRecord(id="c")])
        at = datetime(2024, 1, 1, tzinfo=timezone.utc)
        s.add_decision(Decision(id="d1", kind="different_person", a="a", b="b", by="ann", at=at, reason="twins"))
        s.put_reviews([ReviewItem(id="r", kind="face", faces_a=["b"], cluster_b="c")])
        s.set_meta({"dim": 2})
        q = driver.execute_query  # the driver the store writes through: plain Cypher

        face = q("MATCH (f:Face {id: 'a'}) RETURN f").records[0]["f"]
        assert (face["image"], list(face["bbox"]), face["metadata"], list(face["embedding"])) == (
            "p.jpg", [1.0, 2.0, 3.0, 4.0], '{"camera": "x"}', [0.6, 0.8])
        assert q("MATCH (:Face)-[r:SIMILAR]->(:Face) RETURN startNode(r).id AS a, endNode(r).id AS b, "
                 "r.distance AS d").records[0].values() == ["a", "b", 0.2]
        assert q("MATCH ()-[r:SIMILAR]->() RETURN count(r) AS n").records[0]["n"] == 1
        link = q("MATCH (:Face {id: 'a'})-[r:CANNOT_LINK]->(:Face {id: 'b'}) RETURN r").records[0]["r"]
        assert (link["id"], link["by"], link["reason"], link["at"].to_native()) == ("d1", "ann", "twins", at)
        rel = q("MATCH (:Face {id: 'a'})-[m:IN_CLUSTER]->(c:Cluster) RETURN m, c").records[0]
        assert (rel["m"]["status"], rel["m"]["confidence"], rel["c"]["size"]) == ("auto", 0.7, 1)
        about = q("MATCH (:Review {id: 'r'})-[x:ABOUT]->(n) RETURN x.role AS role, labels(n)[0] AS label, n.id AS id "
                  "ORDER BY label").records
        assert [r.values() for r in about] == [["b", "Cluster", "c"], ["a", "Face", "b"]]
        assert q("MATCH (m:Meta {key: 'dim'}) RETURN m.value AS v").records[0]["v"] == "2"

        s.undo_decision("d1")
        assert q("MATCH ()-[r:CANNOT_LINK]->() RETURN count(r) AS n").records[0]["n"] == 0
        assert q("MATCH (d:Decision {id: 'd1'}) RETURN d.undone AS u").records[0]["u"] is True
