"""index='neo4j': the vector index on the Face nodes, checked against the exact index, and the
writers' lease (expiry, fencing), all on the real Neo4j."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from graphcluster import GraphCluster, Settings
from graphcluster.errors import InvalidInput, NotFound, StoreBusy
from graphcluster.index import open_index
from graphcluster.models import FaceRecord
from graphcluster.store import Neo4jStore
from graphcluster.store.neo4j_lease import WriterLease
from graphcluster.store.neo4j_vectors import Neo4jVectorIndex

D = 16


def clustered(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 8), D))
    x = centres[rng.integers(0, len(centres), n)] / np.linalg.norm(centres, axis=1).mean() + 0.15 * rng.normal(size=(n, D))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return [f"face-{seed}-{i}" for i in range(n)], x.astype(np.float32)


@pytest.fixture
def neo4j_store(neo4j_uri: tuple[str, str | None, str | None], clean_neo4j: object) -> Iterator[Neo4jStore]:
    uri, user, password = neo4j_uri
    store = Neo4jStore(uri, auth=(user, password or "") if user else None)
    Neo4jVectorIndex(store).drop()  # a test of another dimension may have left one
    try:
        yield store
    finally:
        store.close()


def _write(store: Neo4jStore, ids: list[str], x: np.ndarray) -> None:
    """What the engine does after querying a batch: the store writes the Face nodes."""
    store.add_faces([FaceRecord(id=f, dim=D, embedding=[float(v) for v in row]) for f, row in zip(ids, x)], [])


def _exact_and_neo4j(tmp_path: Path, store: Neo4jStore, ids: list[str], x: np.ndarray) -> tuple[object, Neo4jVectorIndex]:
    exact = open_index(tmp_path / "exact", "exact")
    vec = Neo4jVectorIndex(store)
    for lo in range(0, len(ids), 50):
        exact.add(ids[lo : lo + 50], x[lo : lo + 50])
        vec.add(ids[lo : lo + 50], x[lo : lo + 50])
        _write(store, ids[lo : lo + 50], x[lo : lo + 50])
    return exact, vec


def test_answers_as_the_exact_index_with_l2_distances(tmp_path: Path, neo4j_store: Neo4jStore) -> None:
    ids, x = clustered(400)
    exact, vec = _exact_and_neo4j(tmp_path, neo4j_store, ids, x)
    assert len(vec) == 400 and ids[7] in vec and "nobody" not in vec
    want_ids, want_d = exact.query(x[:60], 10)  # type: ignore[attr-defined]
    got_ids, got_d = vec.query(x[:60], 10)
    overlap = np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got_ids, want_ids)])
    assert overlap >= 0.95, overlap
    for row, (g, gd) in enumerate(zip(got_ids, got_d)):
        assert list(gd) == sorted(gd)
        true = np.linalg.norm(x[[ids.index(f) for f in g]] - x[row], axis=1)
        np.testing.assert_allclose(gd, true, atol=2e-3)  # the score became an L2 distance
    np.testing.assert_allclose(vec.get_vectors([ids[3], ids[1]]), x[[3, 1]], atol=1e-6)
    with pytest.raises(NotFound, match="nobody"):
        vec.get_vectors(["nobody"])
    assert sorted(vec.ids()) == sorted(ids)
    exact.close()  # type: ignore[attr-defined]


def test_rows_not_yet_written_are_found_and_then_come_from_neo4j(neo4j_store: Neo4jStore) -> None:
    ids, x = clustered(120, seed=1)
    vec = Neo4jVectorIndex(neo4j_store)
    vec.add(ids[:100], x[:100])
    _write(neo4j_store, ids[:100], x[:100])
    vec.add(ids[100:], x[100:])  # held in memory: the store has not written them
    got, dist = vec.query(x[100:], 1)
    assert [row[0] for row in got] == ids[100:] and max(d[0] for d in dist) < 1e-3
    assert len(vec) == 120 and vec.info()["unwritten"] == 20
    _write(neo4j_store, ids[100:], x[100:])
    fresh = Neo4jVectorIndex(neo4j_store, D)  # another worker: it finds them through Neo4j at once
    got, dist = fresh.query(x[100:], 1)
    assert [row[0] for row in got] == ids[100:]
    assert len(vec) == 120 and vec.info()["unwritten"] == 0


def test_bad_adds_and_deletes(neo4j_store: Neo4jStore) -> None:
    ids, x = clustered(60, seed=2)
    vec = Neo4jVectorIndex(neo4j_store)
    vec.add(ids[:50], x[:50])
    _write(neo4j_store, ids[:50], x[:50])
    with pytest.raises(InvalidInput, match="already in the index") as err:
        vec.add([ids[5], "new"], x[:2])
    assert err.value.ids == [ids[5]]
    bad = x[50:53].copy()
    bad[1] = np.nan
    with pytest.raises(InvalidInput, match="NaN") as err:
        vec.add(["n1", "n2", "n3"], bad)
    assert err.value.ids == ["n2"]
    with pytest.raises(InvalidInput, match="dimension 8"):
        vec.add(["n1"], np.ones((1, 8), dtype=np.float32))
    assert len(vec) == 50 and "n1" not in vec
    with pytest.raises(InvalidInput, match="holds 16-dimensional"):
        Neo4jVectorIndex(neo4j_store, 32)
    vec.delete(ids[:5] + ["never-added"])
    assert len(vec) == 45 and ids[0] not in vec
    got, _ = vec.query(x[:5], 5)
    assert not set(ids[:5]) & {f for row in got for f in row}


def test_index_neo4j_needs_a_neo4j_store_with_embeddings(tmp_path: Path, neo4j_uri: tuple[str, str | None, str | None]) -> None:
    with pytest.raises(InvalidInput, match="needs a Neo4j store"):
        GraphCluster.open(tmp_path / "db", settings=Settings(index="neo4j"))
    assert not (tmp_path / "db").exists()  # refused before anything was created
    with pytest.raises(InvalidInput, match="store_embeddings=False"):
        GraphCluster.open(neo4j_uri[0], settings=Settings(index="neo4j", store_embeddings=False))


def test_a_lease_taken_over_after_expiry_fences_the_old_holder(neo4j_store: Neo4jStore) -> None:
    old = neo4j_store.enable_lease(seconds=0.5, wait=5)
    old.acquire()
    old.stop_renewing()  # the old holder stops renewing, like a paused process
    time.sleep(0.8)
    other = WriterLease(neo4j_store, seconds=30, wait=5)
    other.acquire()  # the expired lease is taken over, with the next token
    assert other.token == (old.token or 0) + 1
    with pytest.raises(StoreBusy, match="expired"):
        neo4j_store.set_meta({"late": 1})  # the old holder's write is rolled back
    assert "late" not in neo4j_store.get_meta()
    waiting = WriterLease(neo4j_store, seconds=30, wait=0.3)
    with pytest.raises(StoreBusy, match=other.holder):
        waiting.acquire()  # a live holder is waited for, then named
    other.release()
    waiting.acquire()
    waiting.release()
