"""Neo4jVectorIndex: the neighbour index kept in Neo4j's own vector index (``index="neo4j"``).

The vectors are the ``embedding`` property of the ``Face`` nodes, which the store writes with
each face; Neo4j's vector index ``face_embedding`` (HNSW, cosine, created with the dimension
of the first batch) searches them. No folder on the worker's machine holds anything, so any
number of workers on different machines share one database (docs/neo4j.md, "Many workers").

Steps of a query:

1. ``db.index.vector.queryNodes`` asks for ``max(k, candidates)`` neighbours per row (one round
   trip for the whole batch): Neo4j's HNSW search explores about as many nodes as it returns,
   so asking for more than ``k`` buys recall (docs/benchmarks/neo4j_vector.md measures it);
2. the score of a cosine index is ``s = (1 + cos) / 2``, so the L2 distance of unit vectors is
   ``d = sqrt(2 - 2 cos) = 2 sqrt(1 - s)``;
3. the rows given to ``add`` that are not stored yet (the batch being added: the store writes
   them only after their neighbours are known) are compared exactly in memory, as the
   segmented index's delta is, and merged in by distance;
4. the best ``k`` per row are returned, ascending.

Consistency: on Neo4j 5.26 a committed face is found by the next query (measured:
tests/contract/test_neo4j_vector_index.py, and a k = N query after each commit in
docs/neo4j.md); the batch's own vectors are never in the index yet when it is queried,
which step 3 covers. ``delete`` removes the embedding from the Face node: the vector and the
stored embedding are one value here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from neo4j.exceptions import Neo4jError

from graphcluster.errors import InvalidInput, NotFound, StoreError
from graphcluster.store.neo4j import Neo4jStore

__all__ = ["Neo4jVectorIndex"]

INDEX_NAME = "face_embedding"
_QUERY_ROWS = 500  # query rows per round trip


class Neo4jVectorIndex:
    """A ``NeighbourIndex`` over the Face nodes of a Neo4j store.

    Args:
        store: the Neo4j store whose Face nodes carry the embeddings.
        dim: the vector dimension (None: taken from the first batch).
        candidates: neighbours asked of Neo4j's index per query row (at least ``k``).
        online_wait: seconds to wait for the vector index to come online after creating it.

    Raises:
        InvalidInput: the database's vector index has another dimension.
    """

    engine = "neo4j-vector"

    def __init__(self, store: Neo4jStore, dim: int | None = None, *, candidates: int = 100,
                 online_wait: float = 300.0) -> None:
        if candidates < 1:
            raise InvalidInput(f"candidates must be >= 1; got {candidates}")
        self._store = store
        self.dim = dim
        self.candidates = candidates
        self.online_wait = online_wait
        self.recall_radius: float | None = None  # Neo4j's HNSW has no per-segment effort to tune
        self._pending_ids: list[str] = []
        self._pending = np.zeros((0, dim or 0), dtype=np.float32)
        self._ready = False  # the vector index is known to exist and be online
        if dim is not None:
            self._ensure_index(dim)

    # -- the Neo4j index ------------------------------------------------------------------------
    def _index_row(self) -> Any:
        rows = self._store.execute("vector_index_info")
        return rows[0] if rows else None

    def _ensure_index(self, dim: int) -> None:
        row = self._index_row()
        if row is None:
            try:
                self._store.execute("vector_index_create", dim=int(dim))
            except (StoreError, Neo4jError):
                # two workers creating it at once: the server refuses the second
                # (EquivalentSchemaRuleAlreadyExists); the index is there, which is all we want
                if self._index_row() is None:
                    raise
            self._store.execute("vector_index_await", seconds=int(self.online_wait))
            row = self._index_row()
        have = (row["options"].get("indexConfig") or {}).get("vector.dimensions")
        if have is not None and int(have) != dim:
            raise InvalidInput(
                f"this database's vector index {INDEX_NAME!r} holds {have}-dimensional vectors, not {dim}; "
                "use a database made for this model (or drop the index after removing its faces)"
            )
        if row["state"] != "ONLINE":
            self._store.execute("vector_index_await", seconds=int(self.online_wait))
        self._ready = True

    # -- NeighbourIndex ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._store.execute("vector_count")[0]["n"]) + len(self._unwritten())

    def __contains__(self, face_id: object) -> bool:
        if not isinstance(face_id, str):
            return False
        return face_id in self._pending_ids or bool(self._stored([face_id]))

    def _stored(self, ids: Sequence[str]) -> set[str]:
        return {r["id"] for r in self._store.execute("vector_get", ids=list(ids), with_vector=False)}

    def _unwritten(self) -> list[str]:
        """Rows given to ``add`` that the store has not written yet (dropping those it has)."""
        if self._pending_ids:
            written = self._stored(self._pending_ids)
            if written:
                keep = [i for i, fid in enumerate(self._pending_ids) if fid not in written]
                self._pending_ids = [self._pending_ids[i] for i in keep]
                self._pending = self._pending[keep]
        return self._pending_ids

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Hold unit vectors for exact comparison until the store writes their Face nodes.

        Raises:
            InvalidInput: a wrong dimension, a non-finite value, or an id already indexed.
        """
        ids = list(ids)
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != len(ids):
            raise InvalidInput(f"expected {len(ids)} rows of vectors, got an array of shape {x.shape}")
        if self.dim is not None and x.shape[1] != self.dim:
            raise InvalidInput(f"vectors have dimension {x.shape[1]}; this index holds dimension {self.dim}")
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
        if bad.size:
            raise InvalidInput(f"row {int(bad[0])} (id {ids[bad[0]]!r}) has NaN or inf values",
                               rows=bad.tolist(), ids=[ids[i] for i in bad])
        held = set(self._unwritten()) | self._stored(ids)
        dup = [i for i, fid in enumerate(ids) if fid in held]
        if dup:
            raise InvalidInput(f"id {ids[dup[0]]!r} is already in the index", rows=dup, ids=[ids[i] for i in dup])
        if self.dim is None:
            self.dim = int(x.shape[1])
            self._pending = np.zeros((0, self.dim), dtype=np.float32)
        if not self._ready:
            self._ensure_index(self.dim)
        self._pending_ids += ids
        self._pending = np.vstack([self._pending, x])

    def query(self, vectors: np.ndarray, k: int) -> tuple[list[list[str]], list[np.ndarray]]:
        """The ``k`` nearest indexed ids and their L2 distances (ascending) for each row."""
        if k < 1:
            raise InvalidInput(f"k must be >= 1; got {k}")
        q = np.asarray(vectors, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        found: list[dict[str, float]] = [{} for _ in range(len(q))]
        if self.dim is not None and not self._ready:
            self._ensure_index(self.dim)
        if self._ready:
            ask = max(k, self.candidates)
            for lo in range(0, len(q), _QUERY_ROWS):
                rows = [{"i": lo + i, "v": [float(v) for v in row]} for i, row in enumerate(q[lo : lo + _QUERY_ROWS])]
                for rec in self._store.execute("vector_query", rows=rows, k=ask, keep=k):
                    hits = found[int(rec["i"])]
                    for fid, score in zip(rec["ids"], rec["scores"]):
                        hits[fid] = 2.0 * float(np.sqrt(max(0.0, 1.0 - float(score))))
        unwritten = self._unwritten()
        if unwritten:
            d = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * (q @ self._pending.T)))
            for hits, row in zip(found, d):
                for fid, dist in zip(unwritten, row.tolist()):
                    hits[fid] = dist
        out_ids: list[list[str]] = []
        out_d: list[np.ndarray] = []
        for hits in found:
            best = sorted(hits.items(), key=lambda kv: (kv[1], kv[0]))[:k]
            out_ids.append([fid for fid, _ in best])
            out_d.append(np.asarray([dist for _, dist in best], dtype=np.float32))
        return out_ids, out_d

    def get_vectors(self, ids: Sequence[str]) -> np.ndarray:
        """Stored (or held) vectors in the order of ``ids``; ``NotFound`` names an unknown id."""
        ids = list(ids)
        have: dict[str, np.ndarray] = dict(zip(self._pending_ids, self._pending))
        rest = [fid for fid in ids if fid not in have]
        if rest:
            for r in self._store.execute("vector_get", ids=rest, with_vector=True):
                have[r["id"]] = np.asarray(r["v"], dtype=np.float32)
        missing = [fid for fid in ids if fid not in have]
        if missing:
            raise NotFound(f"face {missing[0]!r} is not in the vector index ({len(missing)} unknown ids)")
        return np.vstack([have[fid] for fid in ids]) if ids else np.zeros((0, self.dim or 0), dtype=np.float32)

    def ids(self) -> Iterable[str]:
        return [r["id"] for r in self._store.execute("vector_ids")] + list(self._unwritten())

    def delete(self, ids: Sequence[str]) -> None:
        """Forget held rows and remove stored faces' embeddings (unknown ids are ignored)."""
        gone = set(ids)
        keep = [i for i, fid in enumerate(self._pending_ids) if fid not in gone]
        self._pending_ids = [self._pending_ids[i] for i in keep]
        self._pending = self._pending[keep]
        if gone:
            self._store.execute_write("vector_delete", ids=sorted(gone))

    def begin(self, dim: int | None) -> None:
        """A write session begins (the lease was taken): forget held rows of an unfinished batch
        (its caller re-sends it whole) and take the database's dimension, which another worker
        may have set."""
        if dim is not None and self.dim is None:
            self.dim = int(dim)
        self.discard()

    def drop(self) -> None:
        """Drop Neo4j's vector index (the database was emptied: the next batch sets a new dimension)."""
        self._store.execute("vector_index_drop")
        self.discard()
        self.dim = None
        self._ready = False

    def discard(self) -> None:
        """Forget every held row."""
        self._pending_ids = []
        self._pending = np.zeros((0, self.dim or 0), dtype=np.float32)

    def flush(self) -> None:
        """Nothing to do: the store's write of the Face nodes is what makes a vector durable."""

    def compact(self) -> None:
        """Nothing to do: Neo4j maintains its index."""

    def close(self) -> None:
        """Nothing to release: the store owns the connection."""

    def __enter__(self) -> Neo4jVectorIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self) -> dict[str, object]:
        """Engine, index name and state, sizes: shown by ``stats()``."""
        row = self._index_row()
        if row is None and self.dim is not None:
            raise StoreError(f"the vector index {INDEX_NAME!r} is missing; reopen the database to create it again")
        return {
            "engine": self.engine,
            "index": INDEX_NAME,
            "state": None if row is None else row["state"],
            "dim": self.dim,
            "size": len(self),
            "unwritten": len(self._pending_ids),
            "candidates": self.candidates,
            "path": None,
        }
