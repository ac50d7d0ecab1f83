"""SQLiteStore: the embedded default store, one SQLite file in a local directory.

The tables mirror the graph model of ``docs/architecture.md``:

- ``faces`` (Face nodes: flat columns, ``metadata`` JSON, optional float32 ``embedding`` BLOB);
- ``similar`` (SIMILAR edges, primary key ``(a, b)`` with ``a < b``, indexed on ``b`` too);
- ``memberships`` (IN_CLUSTER: one row per assigned face) and ``clusters``;
- ``decisions`` (the audit trail) and ``links`` (the active MUST_LINK / CANNOT_LINK);
- ``reviews`` and ``review_about`` (Review nodes and their ABOUT relationships);
- ``meta`` (JSON values).

How it works:

1. Opening takes an exclusive, non-blocking ``flock`` on ``<dir>/.lock`` held until
   :meth:`SQLiteStore.close`; a second writer gets :class:`~graphcluster.errors.StoreBusy`.
2. The database runs in WAL mode; the schema is created on open (``IF NOT EXISTS``).
3. Every write method runs in one ``BEGIN IMMEDIATE ... COMMIT`` transaction; any error rolls
   it back, so a refused call leaves the store unchanged.
4. Id lists are passed as one JSON array parameter and joined through ``json_each`` against
   an index, so each method's cost depends on its inputs, not on the size of the database,
   and there is no limit on the number of ids.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from graphcluster.errors import InvalidInput, NotFound, StoreBusy, StoreError
from graphcluster.models import (
    ClusterRecord,
    Decision,
    FaceRecord,
    Membership,
    ReviewItem,
    SimilarEdge,
    StoreCounts,
    utcnow,
)
from graphcluster.store._common import (
    LINK_KINDS,
    aware,
    canonical_edges,
    check_cluster_fields,
    check_page,
    check_decision,
    check_memberships,
    check_review_status,
    metadata_json,
    sort_decisions,
)

__all__ = ["SQLiteStore"]

DB_FILE = "graph.db"  # the database file inside the store folder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS faces (
    id TEXT PRIMARY KEY, dim INTEGER NOT NULL, source TEXT, image TEXT, bbox TEXT, quality REAL,
    batch TEXT, created_at TEXT NOT NULL, metadata TEXT NOT NULL, embedding BLOB
);
CREATE INDEX IF NOT EXISTS faces_image ON faces(image) WHERE image IS NOT NULL;
CREATE TABLE IF NOT EXISTS similar (
    a TEXT NOT NULL, b TEXT NOT NULL, distance REAL NOT NULL, weight REAL NOT NULL,
    PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS similar_b ON similar(b, a, distance, weight);
CREATE TABLE IF NOT EXISTS clusters (
    id TEXT PRIMARY KEY, size INTEGER NOT NULL DEFAULT 0, locked INTEGER NOT NULL DEFAULT 0,
    name TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
    face_id TEXT PRIMARY KEY, cluster_id TEXT NOT NULL, status TEXT NOT NULL,
    confidence REAL NOT NULL, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS memberships_cluster ON memberships(cluster_id);
CREATE INDEX IF NOT EXISTS clusters_by_size ON clusters(size DESC, id);
CREATE TABLE IF NOT EXISTS decisions (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, a TEXT NOT NULL, b TEXT, by TEXT, at TEXT NOT NULL,
    reason TEXT, undone INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_a ON decisions(a);
CREATE INDEX IF NOT EXISTS decisions_b ON decisions(b);
CREATE TABLE IF NOT EXISTS links (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('must', 'cannot')),
    a TEXT NOT NULL, b TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS links_a ON links(a);
CREATE INDEX IF NOT EXISTS links_b ON links(b);
CREATE TABLE IF NOT EXISTS reviews (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, priority REAL NOT NULL,
    faces_a TEXT NOT NULL, faces_b TEXT NOT NULL, cluster_a TEXT, cluster_b TEXT,
    created_at TEXT NOT NULL, answer TEXT
);
CREATE INDEX IF NOT EXISTS reviews_queue ON reviews(status, priority DESC, created_at, id);
CREATE INDEX IF NOT EXISTS reviews_kind_queue ON reviews(status, kind, priority DESC, created_at, id);
CREATE INDEX IF NOT EXISTS reviews_cluster_a ON reviews(cluster_a, status);
CREATE INDEX IF NOT EXISTS reviews_cluster_b ON reviews(cluster_b, status);
CREATE TABLE IF NOT EXISTS review_about (
    review_id TEXT NOT NULL, node TEXT NOT NULL, node_kind TEXT NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (review_id, node_kind, node, role)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS review_about_node ON review_about(node_kind, node);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# `x IN (SELECT value FROM json_each(?))`: one parameter for any number of ids.
_IN = "(SELECT value FROM json_each(?))"


def _ts(value: datetime) -> str:
    """Fixed-width UTC ISO text, so that string order is time order."""
    return aware(value).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _ids(values: Collection[str]) -> str:
    return json.dumps(list(values))


class SQLiteStore:
    """The embedded store: ``graph.db`` (SQLite, WAL) in ``directory``, created if missing.

    Args:
        directory: the store directory; created with its parents if missing.

    Raises:
        StoreBusy: another process (or another open store in this process) uses the directory.
        StoreError: the directory or database cannot be opened.
    """

    kind = "sqlite"

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store directory {self.directory}: {exc}") from exc
        try:
            self._lock_fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only folder or file system
            raise StoreError(
                f"cannot open the store directory {self.directory} for writing ({exc.strerror}); the embedded "
                "store needs a writable directory: make it writable or copy it to one"
            ) from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise StoreBusy(
                f"another graphcluster process is using {self.directory}; close it or wait for it "
                "to finish, then try again (only one writer may open an embedded store)"
            ) from None
        self._mutex = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                self.directory / DB_FILE, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
            # 64 MiB of page cache keeps the upper B-tree levels of the edge indexes hot as the store grows
            self._conn.execute("PRAGMA cache_size=-65536")
            self._conn.execute("PRAGMA temp_store=MEMORY")
            self._conn.execute("PRAGMA mmap_size=1073741824")  # reads served from the OS page cache, no copies
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            self._release()
            raise StoreError(f"cannot open {self.directory / DB_FILE}: {exc}") from exc

    # -- lifecycle ----------------------------------------------------------------------------
    def _release(self) -> None:
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = -1

    def close(self) -> None:
        """Close the database and release the directory lock (idempotent)."""
        with self._mutex:
            if self._lock_fd >= 0:
                self._conn.close()
                self._release()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.directory)!r})"

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed whole, or rolled back on any error."""
        with self._mutex:
            self._check_open()
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:  # disk full, read-only or damaged file: the change is rolled back whole
                raise StoreError(
                    f"writing to {self.directory / DB_FILE} failed ({exc}); nothing of this change was stored, "
                    "what was stored before is kept: free disk space or fix the file, then repeat the call"
                ) from exc

    def _check_open(self) -> None:
        if self._lock_fd < 0:
            raise StoreError(f"the store {self.directory} is closed; open it again")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._mutex:
            self._check_open()
            return self._conn.execute(sql, params).fetchall()

    def clear(self) -> None:
        """Delete every face, edge, cluster, decision, review and meta value."""
        with self._write() as c:
            for table in ("faces", "similar", "clusters", "memberships", "decisions", "links", "reviews",
                          "review_about", "meta"):
                c.execute(f"DELETE FROM {table}")  # table names are the constants above

    # -- meta ---------------------------------------------------------------------------------
    def get_meta(self) -> dict[str, Any]:
        """All meta values (JSON-able)."""
        return {k: json.loads(v) for k, v in self._read("SELECT key, value FROM meta")}

    def set_meta(self, values: dict[str, Any]) -> None:
        """Upsert meta values; a value of None deletes the key."""
        try:
            rows = [(k, json.dumps(v)) for k, v in values.items() if v is not None]
        except TypeError as exc:
            raise InvalidInput(f"meta values must be JSON-able: {exc}") from exc
        with self._write() as c:
            c.executemany("DELETE FROM meta WHERE key = ?", [(k,) for k, v in values.items() if v is None])
            c.executemany("INSERT INTO meta(key, value) VALUES (?, ?) "
                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value", rows)

    # -- faces and SIMILAR edges --------------------------------------------------------------
    def existing_face_ids(self, ids: Collection[str]) -> set[str]:
        """The subset of ``ids`` that is stored."""
        return {r[0] for r in self._read(f"SELECT id FROM faces WHERE id IN {_IN}", (_ids(ids),))}

    def add_faces(
        self, faces: Sequence[FaceRecord], edges: Sequence[SimilarEdge], decisions: Sequence[Decision] = ()
    ) -> None:
        """Write faces, their SIMILAR edges and the decisions made with them in one transaction
        (idempotent by id / pair).

        Raises:
            InvalidInput: an edge names a face that is neither stored nor in ``faces``, or is a
                self-loop, or a decision is malformed; nothing is written.
            NotFound: a decision names a face that is neither stored nor in ``faces``; nothing
                is written.
        """
        for d in decisions:
            check_decision(d)
        rows = [
            (f.id, f.dim, f.source, f.image, None if f.bbox is None else json.dumps(f.bbox), f.quality, f.batch,
             _ts(f.created_at), metadata_json(f),
             None if f.embedding is None else np.asarray(f.embedding, dtype="<f4").tobytes())
            for f in faces
        ]
        edge_rows = canonical_edges(edges)
        with self._write() as c:
            c.executemany("INSERT OR IGNORE INTO faces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            if edge_rows:
                ends = {e[0] for e in edge_rows} | {e[1] for e in edge_rows}
                found = {r[0] for r in c.execute(f"SELECT id FROM faces WHERE id IN {_IN}", (_ids(ends),))}
                missing = sorted(ends - found)
                if missing:
                    raise InvalidInput(
                        f"{len(missing)} SIMILAR edge endpoint(s) are unknown faces, e.g. {missing[:5]}; "
                        "send those faces in the same batch or earlier",
                        ids=missing,
                    )
                c.executemany("INSERT OR IGNORE INTO similar VALUES (?, ?, ?, ?)", edge_rows)
            for d in decisions:
                self._put_decision(c, d)

    def get_faces(self, ids: Collection[str], *, with_embedding: bool = False) -> dict[str, FaceRecord]:
        """Stored faces among ``ids`` (unknown ids are left out)."""
        emb = "embedding" if with_embedding else "NULL"
        out: dict[str, FaceRecord] = {}
        for r in self._read(
            f"SELECT id, dim, source, image, bbox, quality, batch, created_at, metadata, {emb} "
            f"FROM faces WHERE id IN {_IN}",
            (_ids(ids),),
        ):
            out[r[0]] = FaceRecord(
                id=r[0], dim=r[1], source=r[2], image=r[3], bbox=None if r[4] is None else json.loads(r[4]),
                quality=r[5], batch=r[6], created_at=_dt(r[7]), metadata=json.loads(r[8]),
                embedding=None if r[9] is None else np.frombuffer(r[9], dtype="<f4").astype(float).tolist(),
            )
        return out

    def face_ids(self) -> list[str]:
        """Every stored face id."""
        return [r[0] for r in self._read("SELECT id FROM faces ORDER BY id")]

    def count_faces(self) -> int:
        """Number of stored faces."""
        return int(self._read("SELECT count(*) FROM faces")[0][0])

    def faces_by_image(self, images: Collection[str]) -> dict[str, list[str]]:
        """Face ids per image path, for the images given (images with no face are left out)."""
        out: dict[str, list[str]] = {}
        for image, face in self._read(
            f"SELECT image, id FROM faces WHERE image IN {_IN} ORDER BY image, id", (_ids(images),)
        ):
            out.setdefault(image, []).append(face)
        return out

    def counts(self) -> StoreCounts:
        """Aggregates for ``stats()``, counted in SQL."""
        by_status = {"auto": 0, "review": 0, "manual": 0, "unassigned": 0}
        faces = self.count_faces()
        for status, n in self._read("SELECT status, count(*) FROM memberships GROUP BY status"):
            by_status[status] = int(n)
        by_status["unassigned"] += faces - sum(v for k, v in by_status.items() if k != "unassigned")
        (clusters, locked), = self._read("SELECT count(*), coalesce(sum(locked), 0) FROM clusters")
        (reviews,), = self._read("SELECT count(*) FROM reviews WHERE status = 'open'")
        (decisions,), = self._read("SELECT count(*) FROM decisions WHERE undone = 0")
        return StoreCounts(faces=faces, clusters=int(clusters), locked_clusters=int(locked), by_status=by_status,
                           open_reviews=int(reviews), decisions=int(decisions))

    def integrity(self) -> dict[str, list[str]]:
        """Bookkeeping problems with example ids (see ``Store.integrity``)."""
        queries = {
            "faces_in_two_clusters": "SELECT face_id FROM memberships GROUP BY face_id HAVING count(*) > 1",
            "membership_without_cluster": "SELECT m.face_id FROM memberships m LEFT JOIN clusters c "
            "ON c.id = m.cluster_id WHERE c.id IS NULL ORDER BY m.face_id",
            "empty_clusters": "SELECT c.id FROM clusters c WHERE NOT EXISTS "
            "(SELECT 1 FROM memberships m WHERE m.cluster_id = c.id) ORDER BY c.id",
            "cluster_size_wrong": "SELECT c.id FROM clusters c JOIN (SELECT cluster_id, count(*) AS n FROM memberships "
            "GROUP BY cluster_id) m ON m.cluster_id = c.id WHERE c.size <> m.n ORDER BY c.id",
            "link_without_decision": "SELECT l.id FROM links l LEFT JOIN decisions d ON d.id = l.id AND d.undone = 0 "
            "WHERE d.id IS NULL ORDER BY l.id",
            "decision_without_link": "SELECT d.id FROM decisions d LEFT JOIN links l ON l.id = d.id "
            "WHERE d.kind IN ('same_person', 'different_person') AND d.undone = 0 AND l.id IS NULL ORDER BY d.id",
        }
        return {key: [str(r[0]) for r in self._read(sql + " LIMIT 10")] for key, sql in queries.items()}

    def similar_edges(self, face_ids: Collection[str]) -> list[SimilarEdge]:
        """Every SIMILAR edge with at least one endpoint in ``face_ids`` (each once)."""
        p = _ids(face_ids)
        rows = self._read(
            f"SELECT a, b, distance, weight FROM similar WHERE a IN {_IN} "
            f"UNION SELECT a, b, distance, weight FROM similar INDEXED BY similar_b WHERE b IN {_IN}",
            (p, p),
        )
        # rows were validated on the way in; skipping pydantic's validation here saves ~6 us an edge
        return [SimilarEdge.model_construct(a=a, b=b, distance=d, weight=w) for a, b, d, w in rows]

    def similar_pairs(self, face_ids: Collection[str]) -> list[tuple[str, str, float]]:
        """``similar_edges`` as ``(a, b, distance)`` tuples."""
        p = _ids(face_ids)
        return self._read(  # rows of (str, str, float)
            f"SELECT a, b, distance FROM similar WHERE a IN {_IN} "
            f"UNION SELECT a, b, distance FROM similar INDEXED BY similar_b WHERE b IN {_IN}",
            (p, p),
        )

    def faces_linked_between(self, lo: float, hi: float, limit: int) -> list[str]:
        """Faces at either end of a SIMILAR edge with ``lo <= distance < hi`` (sorted, <= ~limit).

        A scan of the edge table (no index on distance: it would cost every batch's writes for a
        query that runs only when a re-calibration moved the link threshold)."""
        rows = self._read("SELECT a, b FROM similar WHERE distance >= ? AND distance < ? "
                          "LIMIT ?", (float(lo), float(hi), int(limit)))
        return sorted({f for a, b in rows for f in (a, b)})

    # -- memberships and clusters -------------------------------------------------------------
    def memberships(self, face_ids: Collection[str] | None = None) -> dict[str, Membership]:
        """Membership of the given faces (all faces when None); unknown ids are left out."""
        sql = ("SELECT f.id, m.cluster_id, m.status, m.confidence FROM faces f "
               "LEFT JOIN memberships m ON m.face_id = f.id")
        rows = self._read(sql) if face_ids is None else self._read(f"{sql} WHERE f.id IN {_IN}", (_ids(face_ids),))
        # validated on the way in; model_construct skips validating again (thousands per batch)
        return {
            f: Membership.model_construct(face_id=f, cluster_id=c, status=s or "unassigned", confidence=conf or 0.0)
            for f, c, s, conf in rows
        }

    def cluster_members(self, cluster_ids: Collection[str]) -> dict[str, list[str]]:
        """Member face ids per cluster (every given id is a key; unknown clusters map to [])."""
        out: dict[str, list[str]] = {c: [] for c in cluster_ids}
        for c, f in self._read(
            f"SELECT cluster_id, face_id FROM memberships WHERE cluster_id IN {_IN} ORDER BY cluster_id, face_id",
            (_ids(out),),
        ):
            out[c].append(f)
        return out

    def get_clusters(self, ids: Collection[str] | None = None) -> dict[str, ClusterRecord]:
        """Clusters by id (all when None); unknown ids are left out."""
        sql = "SELECT id, size, locked, name, created_at, updated_at FROM clusters"
        rows = self._read(sql) if ids is None else self._read(f"{sql} WHERE id IN {_IN}", (_ids(ids),))
        return {
            r[0]: ClusterRecord(id=r[0], size=r[1], locked=bool(r[2]), name=r[3], created_at=_dt(r[4]),
                                updated_at=_dt(r[5]))
            for r in rows
        }

    def cluster_page(self, offset: int, limit: int) -> list[ClusterRecord]:
        """Clusters largest first (ties by id), ``limit`` of them after ``offset`` (index
        ``clusters_by_size``: the page is read in order, not sorted)."""
        offset, limit = check_page(offset, limit)
        rows = self._read("SELECT id, size, locked, name, created_at, updated_at FROM clusters "
                          "ORDER BY size DESC, id LIMIT ? OFFSET ?", (limit, offset))
        return [ClusterRecord(id=r[0], size=r[1], locked=bool(r[2]), name=r[3], created_at=_dt(r[4]),
                              updated_at=_dt(r[5])) for r in rows]

    def unassigned_faces(self, offset: int, limit: int) -> list[str]:
        """Ids of faces in no cluster, in id order, ``limit`` of them after ``offset``."""
        offset, limit = check_page(offset, limit)
        rows = self._read("SELECT f.id FROM faces f WHERE NOT EXISTS "
                          "(SELECT 1 FROM memberships m WHERE m.face_id = f.id) ORDER BY f.id LIMIT ? OFFSET ?",
                          (limit, offset))
        return [r[0] for r in rows]

    def apply_clustering(
        self,
        memberships: Sequence[Membership],
        clusters: Sequence[ClusterRecord] = (),
        delete_clusters: Collection[str] = (),
    ) -> None:
        """Upsert clusters, set memberships, delete emptied clusters, recompute sizes: one transaction.

        Raises:
            InvalidInput: a membership names an unknown face or cluster, a face appears twice,
                or a cluster to delete still has members; nothing is changed.
        """
        check_memberships(memberships)
        now = _ts(utcnow())
        faces = [m.face_id for m in memberships]
        targets = {m.cluster_id for m in memberships if m.cluster_id is not None}
        with self._write() as c:
            known = {r[0] for r in c.execute(f"SELECT id FROM faces WHERE id IN {_IN}", (_ids(faces),))}
            missing = [f for f in faces if f not in known]
            if missing:
                raise InvalidInput(
                    f"apply_clustering: {len(missing)} unknown face(s), e.g. {missing[:5]}; add them first",
                    ids=missing,
                )
            new = {k.id for k in clusters}
            stored = {r[0] for r in c.execute(f"SELECT id FROM clusters WHERE id IN {_IN}", (_ids(targets - new),))}
            unknown = sorted(targets - new - stored)
            if unknown:
                raise InvalidInput(
                    f"apply_clustering: memberships name unknown cluster(s) {unknown[:5]}; "
                    "pass them in `clusters` to create them",
                    ids=unknown,
                )
            touched = {r[0] for r in c.execute(
                f"SELECT DISTINCT cluster_id FROM memberships WHERE face_id IN {_IN}", (_ids(faces),))}
            touched |= targets | new
            c.executemany(
                "INSERT INTO clusters(id, size, locked, name, created_at, updated_at) VALUES (?, 0, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET locked = excluded.locked, name = excluded.name, "
                "created_at = excluded.created_at",
                [(k.id, int(k.locked), k.name, _ts(k.created_at), now) for k in clusters],
            )
            c.executemany("DELETE FROM memberships WHERE face_id = ?", [(m.face_id,) for m in memberships
                                                                          if m.cluster_id is None])
            c.executemany(
                "INSERT INTO memberships(face_id, cluster_id, status, confidence, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(face_id) DO UPDATE SET cluster_id = excluded.cluster_id, status = excluded.status, "
                "confidence = excluded.confidence, at = excluded.at",
                [(m.face_id, m.cluster_id, m.status, m.confidence, now) for m in memberships
                 if m.cluster_id is not None],
            )
            doomed = list(dict.fromkeys(delete_clusters))
            if doomed:
                busy = c.execute(
                    f"SELECT cluster_id, count(*) FROM memberships WHERE cluster_id IN {_IN} GROUP BY cluster_id",
                    (_ids(doomed),),
                ).fetchall()
                if busy:
                    raise InvalidInput(
                        "apply_clustering: cannot delete non-empty cluster(s) "
                        + ", ".join(f"{k} ({n} members)" for k, n in busy)
                        + "; move their members in the same call",
                        ids=[k for k, _ in busy],
                    )
                c.executemany("DELETE FROM clusters WHERE id = ?", [(k,) for k in doomed])
            c.executemany(
                "UPDATE clusters SET size = (SELECT count(*) FROM memberships WHERE cluster_id = ?), "
                "updated_at = ? WHERE id = ?",
                [(k, now, k) for k in touched - set(doomed)],
            )

    def update_cluster(self, cluster_id: str, **fields: Any) -> None:
        """Set ``locked`` and/or ``name`` (and ``updated_at``) of one cluster.

        Raises:
            InvalidInput: a field other than ``locked`` / ``name``.
            NotFound: the cluster is unknown.
        """
        fields = check_cluster_fields(fields)
        sets = ", ".join(f"{k} = ?" for k in fields)  # keys checked against a fixed set above
        values = [int(v) if k == "locked" else v for k, v in fields.items()]
        with self._write() as c:
            cur = c.execute(f"UPDATE clusters SET {sets + ', ' if sets else ''}updated_at = ? WHERE id = ?",
                            (*values, _ts(utcnow()), cluster_id))
            if cur.rowcount == 0:
                raise NotFound(f"no cluster with id {cluster_id!r}")

    # -- human decisions ----------------------------------------------------------------------
    def add_decision(self, decision: Decision) -> None:
        """Record a decision, upsert by id (re-sending one updates its fields, e.g. ``data``).

        same_person / different_person also create the typed link (MUST / CANNOT) unless the
        decision is undone.

        Raises:
            InvalidInput: a same/different-person decision without ``b`` or with a == b.
            NotFound: a same/different-person decision names an unknown face.
        """
        check_decision(decision)
        with self._write() as c:
            self._put_decision(c, decision)

    @staticmethod
    def _put_decision(c: sqlite3.Connection, d: Decision) -> None:
        """Write one checked decision (and its typed link) inside the caller's transaction."""
        link = LINK_KINDS.get(d.kind)
        if link is not None:
            found = {r[0] for r in c.execute("SELECT id FROM faces WHERE id IN (?, ?)", (d.a, d.b))}
            for f in (d.a, d.b):
                if f not in found:
                    raise NotFound(f"decision {d.id!r} ({d.kind}) names unknown face {f!r}; add the face first")
        c.execute(
            "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "kind = excluded.kind, a = excluded.a, b = excluded.b, by = excluded.by, at = excluded.at, "
            "reason = excluded.reason, undone = excluded.undone, data = excluded.data",
            (d.id, d.kind, d.a, d.b, d.by, _ts(d.at), d.reason, int(d.undone), json.dumps(d.data)),
        )
        c.execute("DELETE FROM links WHERE id = ?", (d.id,))
        if link is not None and not d.undone:
            c.execute("INSERT INTO links VALUES (?, ?, ?, ?)", (d.id, link, d.a, d.b))

    def undo_decision(self, decision_id: str) -> None:
        """Mark a decision undone (kept in the audit trail) and remove its typed link.

        Raises:
            NotFound: the decision is unknown.
        """
        with self._write() as c:
            if c.execute("UPDATE decisions SET undone = 1 WHERE id = ?", (decision_id,)).rowcount == 0:
                raise NotFound(f"no decision with id {decision_id!r}")
            c.execute("DELETE FROM links WHERE id = ?", (decision_id,))

    def get_decisions(
        self,
        *,
        face_ids: Collection[str] | None = None,
        cluster_ids: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
        active_only: bool = False,
    ) -> list[Decision]:
        """Decisions, oldest first; filters combine with AND (ids match ``a`` or ``b``)."""
        where: list[str] = []
        params: list[Any] = []
        for ids in (face_ids, cluster_ids):
            if ids is not None:
                where.append(f"(a IN {_IN} OR b IN {_IN})")
                params += [_ids(ids), _ids(ids)]
        if kinds is not None:
            where.append(f"kind IN {_IN}")
            params.append(_ids(kinds))
        if active_only:
            where.append("undone = 0")
        sql = "SELECT id, kind, a, b, by, at, reason, undone, data FROM decisions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return sort_decisions(self._decision(r) for r in self._read(sql, params))

    @staticmethod
    def _decision(r: tuple[Any, ...]) -> Decision:
        return Decision(id=r[0], kind=r[1], a=r[2], b=r[3], by=r[4], at=_dt(r[5]), reason=r[6],
                        undone=bool(r[7]), data=json.loads(r[8]))

    def get_decision(self, decision_id: str) -> Decision:
        """One decision; NotFound if unknown."""
        rows = self._read("SELECT id, kind, a, b, by, at, reason, undone, data FROM decisions WHERE id = ?",
                          (decision_id,))
        if not rows:
            raise NotFound(f"no decision with id {decision_id!r}")
        return self._decision(rows[0])

    def constraint_links(
        self, face_ids: Collection[str]
    ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
        """Active (must_links, cannot_links) as (a, b, decision_id) with an endpoint in ``face_ids``."""
        p = _ids(face_ids)
        must: list[tuple[str, str, str]] = []
        cannot: list[tuple[str, str, str]] = []
        for kind, a, b, i in self._read(
            f"SELECT kind, a, b, id FROM links WHERE a IN {_IN} UNION "
            f"SELECT kind, a, b, id FROM links WHERE b IN {_IN} ORDER BY 4",
            (p, p),
        ):
            (must if kind == "must" else cannot).append((a, b, i))
        return must, cannot

    # -- review queue -------------------------------------------------------------------------
    def put_reviews(self, items: Sequence[ReviewItem]) -> None:
        """Upsert review items by id, and their ABOUT rows to faces and clusters."""
        rows = [(r.id, r.kind, r.status, r.priority, json.dumps(r.faces_a), json.dumps(r.faces_b), r.cluster_a,
                 r.cluster_b, _ts(r.created_at), r.answer) for r in items]
        about: list[tuple[str, str, str, str]] = []
        for r in items:
            about += [(r.id, f, "face", "a") for f in r.faces_a] + [(r.id, f, "face", "b") for f in r.faces_b]
            about += [(r.id, k, "cluster", role) for k, role in ((r.cluster_a, "a"), (r.cluster_b, "b")) if k]
        with self._write() as c:
            c.executemany(
                "INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "kind = excluded.kind, status = excluded.status, priority = excluded.priority, "
                "faces_a = excluded.faces_a, faces_b = excluded.faces_b, cluster_a = excluded.cluster_a, "
                "cluster_b = excluded.cluster_b, created_at = excluded.created_at, answer = excluded.answer",
                rows,
            )
            c.executemany("DELETE FROM review_about WHERE review_id = ?", [(r.id,) for r in items])
            c.executemany("INSERT OR IGNORE INTO review_about VALUES (?, ?, ?, ?)", about)

    @staticmethod
    def _review(r: tuple[Any, ...]) -> ReviewItem:
        return ReviewItem(id=r[0], kind=r[1], status=r[2], priority=r[3], faces_a=json.loads(r[4]),
                          faces_b=json.loads(r[5]), cluster_a=r[6], cluster_b=r[7], created_at=_dt(r[8]),
                          answer=r[9])

    def get_reviews(self, *, status: str | None = "open", limit: int | None = None,
                    kind: str | None = None) -> list[ReviewItem]:
        """Review items with that status (all when None), highest priority first; ``kind``:
        only that kind's (index reviews_kind_queue)."""
        if kind is not None and status is None:
            raise InvalidInput("get_reviews(kind=...) needs a status")
        sql = "SELECT * FROM reviews"
        params: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            params.append(status)
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        sql += " ORDER BY priority DESC, created_at, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [self._review(r) for r in self._read(sql, params)]

    def open_reviews_about(self, cluster_ids: Collection[str]) -> list[str]:
        """Ids of the open review items about any of ``cluster_ids`` (``cluster_a`` or ``cluster_b``)."""
        ids = _ids(cluster_ids)
        rows = self._read(
            # one index lookup per cluster and side (reviews_cluster_a / _b), not a scan of the open items
            f"SELECT id FROM reviews WHERE cluster_a IN {_IN} AND status = 'open' "
            f"UNION SELECT id FROM reviews WHERE cluster_b IN {_IN} AND status = 'open' ORDER BY id",
            (ids, ids),
        )
        return [r[0] for r in rows]

    def get_review(self, review_id: str) -> ReviewItem:
        """One review item; NotFound if unknown."""
        rows = self._read("SELECT * FROM reviews WHERE id = ?", (review_id,))
        if not rows:
            raise NotFound(f"no review item with id {review_id!r}")
        return self._review(rows[0])

    def review_statuses(self, review_ids: Collection[str]) -> dict[str, str]:
        """Status of each known review item among ``review_ids``."""
        return dict(self._read(f"SELECT id, status FROM reviews WHERE id IN {_IN}", (_ids(review_ids),)))

    def set_review_status(self, review_ids: Collection[str], status: str, answer: str | None = None) -> None:
        """Set the status (and the answer, None clears it) of review items.

        Raises:
            NotFound: an id is unknown; nothing is changed.
        """
        check_review_status(status)
        ids = list(dict.fromkeys(review_ids))
        with self._write() as c:
            found = {r[0] for r in c.execute(f"SELECT id FROM reviews WHERE id IN {_IN}", (_ids(ids),))}
            missing = [i for i in ids if i not in found]
            if missing:
                raise NotFound(f"no review item(s) with id {missing[:5]}")
            c.execute(f"UPDATE reviews SET status = ?, answer = ? WHERE id IN {_IN}", (status, answer, _ids(ids)))
