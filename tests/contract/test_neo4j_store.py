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
