"""The foundation on the real Neo4j over Bolt: the schema applies (twice), a Face round-trips,
and the uniqueness constraint refuses a duplicate id."""

from __future__ import annotations

import re

import pytest
from neo4j import Driver
from neo4j.exceptions import ConstraintError

from graphcluster.cypher_files import schema_statements

_NAMED = re.compile(r"^CREATE\s+(CONSTRAINT|INDEX)\s+(\w+)\s+IF NOT EXISTS", re.IGNORECASE)


def _apply_schema(driver: Driver) -> None:
    for statement in schema_statements():
        driver.execute_query(statement)
    driver.execute_query("CALL db.awaitIndexes(120)")


def _schema_objects(driver: Driver) -> dict[str, set[tuple[str, tuple[str, ...], tuple[str, ...]]]]:
    constraints, _, _ = driver.execute_query(
        "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties RETURN name, type, labelsOrTypes, properties"
    )
    indexes, _, _ = driver.execute_query(
        "SHOW INDEXES YIELD name, state, labelsOrTypes, properties, owningConstraint "
        "WHERE owningConstraint IS NULL AND labelsOrTypes IS NOT NULL "
        "RETURN name, state, labelsOrTypes, properties"
    )
    return {
        "constraints": {(r["name"], tuple(r["labelsOrTypes"]), tuple(r["properties"])) for r in constraints},
        "unique": {
            (r["labelsOrTypes"][0], r["properties"][0])
            for r in constraints
            if r["type"] in {"UNIQUENESS", "NODE_PROPERTY_UNIQUENESS"}
        },
        "indexes": {(r["name"], tuple(r["labelsOrTypes"]), tuple(r["properties"])) for r in indexes},
        "offline": {r["name"] for r in indexes if r["state"] != "ONLINE"},
    }


def test_schema_applies_twice_and_creates_every_named_object(neo4j_driver: Driver) -> None:
    _apply_schema(neo4j_driver)
    first = _schema_objects(neo4j_driver)
    _apply_schema(neo4j_driver)  # IF NOT EXISTS: a second connect must neither fail nor add anything
    second = _schema_objects(neo4j_driver)

    assert first == second
    assert {("Face", "id"), ("Cluster", "id"), ("Review", "id"), ("Decision", "id"), ("Meta", "key")} <= second[
        "unique"
    ]
    # Every constraint and index the file names exists on the server, and is usable.
    named = {m.group(2) for m in map(_NAMED.match, schema_statements()) if m}
    on_server = {name for name, _, _ in second["constraints"] | second["indexes"]}
    assert named and named <= on_server
    assert not second["offline"]
    assert ("in_cluster_status", ("IN_CLUSTER",), ("status",)) in second["indexes"]


def test_face_written_is_read_back(clean_neo4j: Driver) -> None:
    _apply_schema(clean_neo4j)
    clean_neo4j.execute_query(
        "CREATE (:Face {id: $id, dim: 128, image: $image, quality: $quality, batch: 'b1'})",
        id="face-1",
        image="photos/p1.jpg",
        quality=0.93,
    )
    records, _, _ = clean_neo4j.execute_query(
        "MATCH (f:Face {id: $id}) RETURN f.id AS id, f.dim AS dim, f.image AS image, f.quality AS quality",
        id="face-1",
    )
    assert [r.data() for r in records] == [{"id": "face-1", "dim": 128, "image": "photos/p1.jpg", "quality": 0.93}]


def test_duplicate_face_id_is_refused(clean_neo4j: Driver) -> None:
    _apply_schema(clean_neo4j)
    clean_neo4j.execute_query("CREATE (:Face {id: 'dup'})")
    with pytest.raises(ConstraintError, match="dup"):
        clean_neo4j.execute_query("CREATE (:Face {id: 'dup'})")
    records, _, _ = clean_neo4j.execute_query("MATCH (f:Face {id: 'dup'}) RETURN count(f) AS n")
    assert records[0]["n"] == 1
