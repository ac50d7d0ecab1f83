"""Neo4jStore: the production store, Neo4j as the system of record.

How it works:

1. On connect, the DDL of ``cypher/schema.cypher`` (``IF NOT EXISTS``) is applied, so opening
   is idempotent and a fresh database gets its constraints and indexes.
2. Every statement is a file ``cypher/<method>[_part].cypher`` loaded with
   :func:`graphcluster.cypher_files.load`; values are always parameters.
3. Batches go in one round trip: ``UNWIND $rows AS row MERGE ...``.
4. A method with one statement uses ``driver.execute_query``; a method whose statements must
   commit together (checks, then writes) runs them in one ``session.execute_write``
   transaction function. A check that fails raises inside it, which rolls everything back.

Data layout: Face properties ``id, dim, source, image, bbox, quality, batch, created_at`` plus
the caller's other metadata as the JSON string ``metadata`` and, when given, ``embedding`` as a
list of floats. SIMILAR is stored once per pair from ``a`` to ``b`` with ``a < b``.
MUST_LINK / CANNOT_LINK carry ``{id, by, at, reason}`` (``id`` = the decision id); the
``Decision`` nodes keep the audit trail. Meta values are ``(:Meta {key, value})`` with JSON
text values. Datetimes are Neo4j ``DateTime`` values in UTC.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any, TypeVar

import neo4j
from neo4j import Driver, GraphDatabase, ManagedTransaction
from neo4j.exceptions import AuthError, ConfigurationError, DriverError, Neo4jError

from graphcluster.credentials import neo4j_auth, redact_uri, scrub
from graphcluster.cypher_files import load, schema_statements
from graphcluster.errors import InvalidInput, NotFound, StoreError
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
from graphcluster.store.neo4j_lease import WriterLease
from graphcluster.store._common import (
    INTEGRITY_KEYS,
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

__all__ = ["Neo4jStore"]

T = TypeVar("T")
_CLEAR_CHUNK = 2_000  # nodes per delete transaction: 10,000 faces with their edges and 128-D embeddings exceeded the server's default transaction memory (716 MiB)
_READ_CHUNK = 5_000
# Notices the server sends that are expected here: UNRECOGNIZED ("property `bbox` does not exist"
# while no face has one yet) and SCHEMA (IF NOT EXISTS on connect). Without a filter the driver
# logs one warning per query to stderr. Driver 6 names the option "classifications"; 5.x has it
# only as a preview (a PreviewWarning on import and use), so 5.x gets the older "categories".
_QUIET_NAMES = ["UNRECOGNIZED", "SCHEMA"]
_QUIET_OPTION = ("notifications_disabled_classifications" if int(neo4j.__version__.split(".")[0]) >= 6
                 else "notifications_disabled_categories")
_WRITE_CHUNK = 10_000
_NO_LIMIT = 2**62
# statements run through ``_run`` that write (fenced while a lease is held)
_WRITES = frozenset({"clear", "update_cluster", "undo_decision"})
_LINK_FILE = {"must": "add_decision_must_link", "cannot": "add_decision_cannot_link"}


def _native(value: Any) -> Any:
    """A neo4j.time value as a timezone-aware datetime; anything else unchanged."""
    if isinstance(value, neo4j.time.DateTime):
        return aware(value.to_native())
    return value


def _ids(values: Collection[str]) -> list[str]:
    return list(dict.fromkeys(values))


class Neo4jStore:
    """The Neo4j store.

    Args:
        uri: a ``bolt://`` / ``neo4j://`` URI (``+s`` / ``+ssc`` variants too).
        auth: ``(user, password)``; None finds them with
            :func:`graphcluster.credentials.neo4j_auth` (``NEO4J_PASSWORD``,
            ``NEO4J_PASSWORD_FILE``, a local server's password file) and connects without auth
            when there are none.
        database: the database name (None = the server default).
        driver: an existing driver to use instead of ``uri`` / ``auth``; it is not closed by
            :meth:`close`.

    Raises:
        StoreError: the server cannot be reached or refuses the credentials.
    """

    kind = "neo4j"

    def __init__(
        self,
        uri: str | None = None,
        auth: tuple[str, str] | None = None,
        *,
        database: str | None = None,
        driver: Driver | None = None,
    ) -> None:
        if driver is None and uri is None:
            raise InvalidInput("Neo4jStore needs a uri (e.g. bolt://localhost:7687) or a driver")
        self.uri = redact_uri(uri) if uri is not None else None  # for messages and repr: no user info
        self.database = database
        self.lease: WriterLease | None = None  # set by enable_lease (many workers, index='neo4j')
        self._owns_driver = driver is None
        where = self.uri or "the given driver"
        if driver is None and auth is None:
            auth = neo4j_auth(uri or "")
        secrets = (auth[1],) if auth else ()  # kept out of every message below, whatever the driver says

        def connect(**quiet: Any) -> Driver:
            return GraphDatabase.driver(uri or "", auth=auth, **quiet)

        try:
            # a driver passed in is used as given (its notification settings are the caller's)
            self._driver: Driver = driver if driver is not None else connect(**{_QUIET_OPTION: _QUIET_NAMES})
        except (DriverError, ValueError) as exc:
            raise StoreError(
                f"cannot use the Neo4j URI {self.uri!r}: {scrub(str(exc), secrets)}; expected e.g. bolt://localhost:7687"
            ) from None
        try:
            try:
                self._driver.verify_connectivity()
            except ConfigurationError:
                if driver is not None:
                    raise
                # a server older than 5.7 cannot filter notices: connect without the filter
                self._driver.close()
                self._driver = connect()
                self._driver.verify_connectivity()
            for statement in schema_statements():
                self._driver.execute_query(statement, database_=self.database)
        except AuthError as exc:
            self.close()
            why = (f"refused the password of user {auth[0]!r}" if auth else
                   "wants a password and none was given or found: set NEO4J_PASSWORD_FILE "
                   "(eval \"$(scripts/neo4j env)\" does) or NEO4J_PASSWORD, or pass one")
            raise StoreError(f"Neo4j at {where} {why} ({scrub(exc.message or str(exc), secrets)})") from exc
        except (DriverError, OSError) as exc:
            self.close()
            raise StoreError(
                f"cannot reach Neo4j at {where}: {scrub(str(exc), secrets)}; start the server "
                "(scripts/neo4j start) or check the URI and credentials"
            ) from exc
        except Neo4jError as exc:
            self.close()
            raise StoreError(f"Neo4j at {where} refused the schema of cypher/schema.cypher: {scrub(str(exc), secrets)}") from exc

    # -- plumbing -----------------------------------------------------------------------------
    def _run(self, name: str, **params: Any) -> list[neo4j.Record]:
        """One statement, committed on its own (a write behind the lease's fence while one is held)."""
        if name in _WRITES and self.lease is not None and self.lease.held:
            return self._tx(lambda tx: self._q(tx, name, **params))
        with self._connection():
            records, _, _ = self._driver.execute_query(load(name), params, database_=self.database)
        return records

    @contextmanager
    def _connection(self) -> Iterator[None]:
        """A server that goes away (or a connection that breaks) is a ``StoreError``; the
        transaction in flight commits whole or not at all, so nothing is half-written."""
        try:
            yield
        except DriverError as exc:
            raise StoreError(
                f"lost the connection to Neo4j at {self.uri} ({type(exc).__name__}: {' '.join(str(exc).split())[:300]}); "
                "the change in progress was not stored, what was stored before is kept: when the server is back, "
                "open graphcluster again (it repairs an interrupted batch) and repeat the call"
            ) from exc

    def execute(self, name: str, **params: Any) -> list[neo4j.Record]:
        """Run one statement of the package's ``cypher/`` files, committed on its own, unfenced.

        For the lease itself and for reads of other modules of this package (the vector index).
        """
        with self._connection():
            records, _, _ = self._driver.execute_query(load(name), params, database_=self.database)
        return records

    def execute_write(self, name: str, **params: Any) -> list[neo4j.Record]:
        """Run one writing statement of ``cypher/`` in its own transaction, fenced like every write."""
        return self._tx(lambda tx: self._q(tx, name, **params))

    def enable_lease(self, *, seconds: float = 60.0, wait: float = 600.0) -> WriterLease:
        """Coordinate with other workers: writes from now on need the lease (``store.lease``).

        The caller takes it with ``lease.acquire()`` around each operation; while it is held,
        every write transaction checks and extends it first (graphcluster/store/neo4j_lease.py).
        """
        self.lease = WriterLease(self, seconds=seconds, wait=wait)
        return self.lease

    def run_read(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run one read-only statement shipped in ``cypher/queries/`` (investigation queries).

        The text comes from the package's own files, never from the caller; it runs with
        read routing, so a query cannot change the graph.
        """
        with self._connection():
            records, _, _ = self._driver.execute_query(
                cypher, params, database_=self.database, routing_=neo4j.RoutingControl.READ
            )
        return [_plain(r.data()) for r in records]

    def _tx(self, work: Callable[[ManagedTransaction], T]) -> T:
        """Several statements in one write transaction (rolled back if ``work`` raises).

        While a lease is held, the transaction first checks and extends it (and keeps the lease
        node locked until it commits); a lease that was lost rolls it back with ``StoreBusy``.
        """
        lease = self.lease
        if lease is None or not lease.held:
            with self._connection(), self._driver.session(database=self.database) as session:
                return session.execute_write(work)

        def fenced(tx: ManagedTransaction) -> T:
            lease.check(next(iter(self._q(tx, "lease_fence", **lease.fence_params())), None))
            return work(tx)

        with self._connection(), self._driver.session(database=self.database) as session:
            return session.execute_write(fenced)

    @staticmethod
    def _q(tx: ManagedTransaction, name: str, **params: Any) -> list[neo4j.Record]:
        return list(tx.run(load(name), params))

    @classmethod
    def _q_rows(cls, tx: ManagedTransaction, name: str, rows: list[dict[str, Any]], **params: Any) -> None:
        """``UNWIND $rows`` in slices of ``_WRITE_CHUNK`` inside one transaction: bounded messages."""
        for lo in range(0, len(rows), _WRITE_CHUNK):
            cls._q(tx, name, rows=rows[lo : lo + _WRITE_CHUNK], **params)

    def close(self) -> None:
        """Close the driver (when this store created it)."""
        if self._owns_driver:
            self._driver.close()

    def __enter__(self) -> Neo4jStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Neo4jStore({self.uri!r}, database={self.database!r})"

    def clear(self) -> None:
        """Delete every Face, Cluster, Decision, Review and Meta node (in chunks of 2,000 nodes)."""
        while self._run("clear", chunk=_CLEAR_CHUNK)[0]["deleted"]:
            pass

    # -- meta ---------------------------------------------------------------------------------
    def get_meta(self) -> dict[str, Any]:
        """All meta values (JSON-able)."""
        return {r["key"]: json.loads(r["value"]) for r in self._run("get_meta")}

    def set_meta(self, values: dict[str, Any]) -> None:
        """Upsert meta values; a value of None deletes the key."""
        try:
            rows = [{"key": k, "value": json.dumps(v)} for k, v in values.items() if v is not None]
        except TypeError as exc:
            raise InvalidInput(f"meta values must be JSON-able: {exc}") from exc
        gone = [k for k, v in values.items() if v is None]

        def work(tx: ManagedTransaction) -> None:
            self._q(tx, "set_meta", rows=rows)
            self._q(tx, "set_meta_delete", keys=gone)

        self._tx(work)

    # -- faces and SIMILAR edges --------------------------------------------------------------
    def existing_face_ids(self, ids: Collection[str]) -> set[str]:
        """The subset of ``ids`` that is stored."""
        return {r["id"] for r in self._run("existing_face_ids", ids=_ids(ids))}

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
            {
                "id": f.id,
                "props": {
                    "dim": f.dim, "source": f.source, "image": f.image, "bbox": f.bbox, "quality": f.quality,
                    "batch": f.batch, "created_at": aware(f.created_at), "metadata": metadata_json(f),
                    "embedding": None if f.embedding is None else [float(x) for x in f.embedding],
                },
            }
            for f in faces
        ]
        canon = canonical_edges(edges)
        edge_rows = [{"a": a, "b": b, "distance": d, "weight": w} for a, b, d, w in canon]
        ends = {e[0] for e in canon} | {e[1] for e in canon}

        decision_rows = [{"props": self._decision_props(d), "link": LINK_KINDS.get(d.kind)} for d in decisions]
        linked = {f for d in decisions if LINK_KINDS.get(d.kind) is not None for f in (d.a, d.b or d.a)}

        def work(tx: ManagedTransaction) -> None:
            self._q_rows(tx, "add_faces", rows)
            if linked:  # one check for every decision's faces, then one UNWIND writes them all
                found = {r["id"] for r in self._q(tx, "existing_face_ids", ids=list(linked))}
                for d in decisions:
                    for f in (d.a, d.b):
                        if LINK_KINDS.get(d.kind) is not None and f not in found:
                            raise NotFound(f"decision {d.id!r} ({d.kind}) names unknown face {f!r}; add the face first")
            if edge_rows:
                found = {r["id"] for r in self._q(tx, "existing_face_ids", ids=list(ends))}
                missing = sorted(ends - found)
                if missing:
                    raise InvalidInput(
                        f"{len(missing)} SIMILAR edge endpoint(s) are unknown faces, e.g. {missing[:5]}; "
                        "send those faces in the same batch or earlier",
                        ids=missing,
                    )
                self._q_rows(tx, "add_faces_edges", edge_rows)
            if decision_rows:
                self._q_rows(tx, "add_faces_decisions", decision_rows)

        self._tx(work)

    def get_faces(self, ids: Collection[str], *, with_embedding: bool = False) -> dict[str, FaceRecord]:
        """Stored faces among ``ids`` (unknown ids are left out)."""
        out: dict[str, FaceRecord] = {}
        for r in self._run("get_faces", ids=_ids(ids), with_embedding=with_embedding):
            f = dict(r["face"])
            f["created_at"] = _native(f["created_at"])
            f["metadata"] = json.loads(f["metadata"] or "{}")
            out[f["id"]] = FaceRecord(**f)
        return out

    def face_ids(self) -> list[str]:
        """Every stored face id."""
        return [r["id"] for r in self._run("face_ids")]

    def count_faces(self) -> int:
        """Number of stored faces."""
        return int(self._run("count_faces")[0]["n"])

    def faces_by_image(self, images: Collection[str]) -> dict[str, list[str]]:
        """Face ids per image path, for the images given (images with no face are left out)."""
        out: dict[str, list[str]] = {}
        for r in self._run("faces_by_image", images=_ids(images)):
            out.setdefault(r["image"], []).append(r["id"])
        return out

    def counts(self) -> StoreCounts:
        """Aggregates for ``stats()``, counted by the server (cypher/counts.cypher)."""
        r = self._run("counts", review_status="open")[0]
        by_status = {"auto": 0, "review": 0, "manual": 0, "unassigned": 0}
        for status, n in r["statuses"]:
            by_status[status] = int(n)
        by_status["unassigned"] += int(r["faces"]) - sum(v for k, v in by_status.items() if k != "unassigned")
        return StoreCounts(faces=int(r["faces"]), clusters=int(r["clusters"]), locked_clusters=int(r["locked"]),
                           by_status=by_status, open_reviews=int(r["open_reviews"]), decisions=int(r["decisions"]))

    def integrity(self) -> dict[str, list[str]]:
        """Bookkeeping problems with example ids (cypher/integrity.cypher; see ``Store.integrity``)."""
        r = self._run("integrity", examples=10)[0]
        return {key: [str(x) for x in r[key]] for key in INTEGRITY_KEYS}

    def similar_edges(self, face_ids: Collection[str]) -> list[SimilarEdge]:
        """Every SIMILAR edge with at least one endpoint in ``face_ids`` (each once)."""
        ids = _ids(face_ids)
        out: dict[tuple[str, str], SimilarEdge] = {}
        for lo in range(0, len(ids), _READ_CHUNK):  # bounded result per round trip
            r = self._run("similar_edges", ids=ids[lo : lo + _READ_CHUNK])[0]
            for a, b, d, w in zip(r["a"], r["b"], r["distance"], r["weight"]):
                out[a, b] = SimilarEdge.model_construct(a=a, b=b, distance=d, weight=w)
        return list(out.values())

    def similar_pairs(self, face_ids: Collection[str]) -> list[tuple[str, str, float]]:
        """``similar_edges`` as ``(a, b, distance)`` tuples."""
        ids = _ids(face_ids)
        out: dict[tuple[str, str], float] = {}
        for lo in range(0, len(ids), _READ_CHUNK):
            r = self._run("similar_pairs", ids=ids[lo : lo + _READ_CHUNK])[0]
            out.update(zip(zip(r["a"], r["b"]), r["distance"]))
        return [(a, b, d) for (a, b), d in out.items()]

    def faces_linked_between(self, lo: float, hi: float, limit: int) -> list[str]:
        """Faces at either end of a SIMILAR edge with ``lo <= distance < hi`` (sorted, <= ~limit)."""
        return sorted(r["id"] for r in self._run("faces_linked_between", lo=float(lo), hi=float(hi), limit=int(limit)))

    # -- memberships and clusters -------------------------------------------------------------
    def memberships(self, face_ids: Collection[str] | None = None) -> dict[str, Membership]:
        """Membership of the given faces (all faces when None); unknown ids are left out."""
        if face_ids is None:
            rows = [(r["face_id"], r["cluster_id"], r["status"], r["confidence"]) for r in self._run("memberships_all")]
        else:
            ids = _ids(face_ids)
            rows = [tuple(x) for lo in range(0, len(ids), _READ_CHUNK)
                    for x in self._run("memberships", ids=ids[lo : lo + _READ_CHUNK])[0]["rows"]]
        # validated on the way in; model_construct skips validating again (thousands per batch)
        return {
            f: Membership.model_construct(face_id=f, cluster_id=c, status=st or "unassigned", confidence=conf or 0.0)
            for f, c, st, conf in rows
        }

    def cluster_members(self, cluster_ids: Collection[str]) -> dict[str, list[str]]:
        """Member face ids per cluster (every given id is a key; unknown clusters map to [])."""
        out: dict[str, list[str]] = {c: [] for c in cluster_ids}
        for r in self._run("cluster_members", ids=list(out)):
            out[r["cluster_id"]] = list(r["face_ids"])
        return out

    @staticmethod
    def _cluster(c: dict[str, Any]) -> ClusterRecord:
        return ClusterRecord(id=c["id"], size=c["size"] or 0, locked=bool(c["locked"]), name=c["name"],
                             created_at=_native(c["created_at"]), updated_at=_native(c["updated_at"]))

    def get_clusters(self, ids: Collection[str] | None = None) -> dict[str, ClusterRecord]:
        """Clusters by id (all when None); unknown ids are left out."""
        records = self._run("get_clusters_all") if ids is None else self._run("get_clusters", ids=_ids(ids))
        return {r["cluster"]["id"]: self._cluster(r["cluster"]) for r in records}

    def cluster_page(self, offset: int, limit: int) -> list[ClusterRecord]:
        """Clusters largest first (ties by id), ``limit`` of them after ``offset``, sorted and
        cut by the server (cypher/cluster_page.cypher)."""
        offset, limit = check_page(offset, limit)
        return [self._cluster(r["cluster"]) for r in self._run("cluster_page", offset=offset, limit=limit)]

    def unassigned_faces(self, offset: int, limit: int) -> list[str]:
        """Ids of faces in no cluster, in id order (cypher/unassigned_faces.cypher)."""
        offset, limit = check_page(offset, limit)
        return [r["face_id"] for r in self._run("unassigned_faces", offset=offset, limit=limit)]

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
        now = utcnow()
        faces = [m.face_id for m in memberships]
        targets = {m.cluster_id for m in memberships if m.cluster_id is not None}
        new = {k.id for k in clusters}
        cluster_rows = [{"id": k.id, "locked": k.locked, "name": k.name, "created_at": aware(k.created_at)}
                        for k in clusters]
        set_rows = [{"face_id": m.face_id, "cluster_id": m.cluster_id, "status": m.status,
                     "confidence": float(m.confidence)} for m in memberships if m.cluster_id is not None]
        doomed = _ids(delete_clusters)

        def work(tx: ManagedTransaction) -> None:
            known = {r["id"] for r in self._q(tx, "existing_face_ids", ids=faces)}
            missing = [f for f in faces if f not in known]
            if missing:
                raise InvalidInput(
                    f"apply_clustering: {len(missing)} unknown face(s), e.g. {missing[:5]}; add them first",
                    ids=missing,
                )
            stored = {r["id"] for r in self._q(tx, "apply_clustering_known_clusters", ids=list(targets - new))}
            unknown = sorted(targets - new - stored)
            if unknown:
                raise InvalidInput(
                    f"apply_clustering: memberships name unknown cluster(s) {unknown[:5]}; "
                    "pass them in `clusters` to create them",
                    ids=unknown,
                )
            self._q(tx, "apply_clustering_clusters", rows=cluster_rows, now=now)
            left = {r["cluster_id"] for r in self._q(tx, "apply_clustering_unset", ids=faces)}
            self._q_rows(tx, "apply_clustering_set", set_rows, now=now)
            if doomed:
                busy = [(r["id"], r["members"]) for r in self._q(tx, "apply_clustering_busy", ids=doomed)]
                if busy:
                    raise InvalidInput(
                        "apply_clustering: cannot delete non-empty cluster(s) "
                        + ", ".join(f"{k} ({n} members)" for k, n in busy)
                        + "; move their members in the same call",
                        ids=[k for k, _ in busy],
                    )
                self._q(tx, "apply_clustering_delete", ids=doomed)
            touched = (left | targets | new) - set(doomed)
            self._q(tx, "apply_clustering_sizes", ids=sorted(touched), now=now)

        self._tx(work)

    def update_cluster(self, cluster_id: str, **fields: Any) -> None:
        """Set ``locked`` and/or ``name`` (and ``updated_at``) of one cluster.

        Raises:
            InvalidInput: a field other than ``locked`` / ``name``.
            NotFound: the cluster is unknown.
        """
        fields = check_cluster_fields(fields)
        if not self._run("update_cluster", id=cluster_id, fields=fields, now=utcnow()):
            raise NotFound(f"no cluster with id {cluster_id!r}")

    # -- human decisions ----------------------------------------------------------------------
    def add_decision(self, decision: Decision) -> None:
        """Record a decision, upsert by id (re-sending one updates its fields, e.g. ``data``).

        same_person / different_person also create the typed link (MUST_LINK / CANNOT_LINK from
        a to b with id, by, at, reason) unless the decision is undone.

        Raises:
            InvalidInput: a same/different-person decision without ``b`` or with a == b.
            NotFound: a same/different-person decision names an unknown face.
        """
        check_decision(decision)
        self._tx(lambda tx: self._put_decision(tx, decision))

    @staticmethod
    def _decision_props(d: Decision) -> dict[str, Any]:
        """A decision as the properties of its Decision node."""
        return {"id": d.id, "kind": d.kind, "a": d.a, "b": d.b, "by": d.by, "at": aware(d.at), "reason": d.reason,
                "undone": d.undone, "data": json.dumps(d.data)}

    @classmethod
    def _put_decision(cls, tx: ManagedTransaction, d: Decision) -> None:
        """Write one checked decision (and its typed link) inside the caller's transaction."""
        row = cls._decision_props(d)
        at = row["at"]
        link = LINK_KINDS.get(d.kind)
        if link is not None:
            found = {r["id"] for r in cls._q(tx, "existing_face_ids", ids=[d.a, d.b])}
            for f in (d.a, d.b):
                if f not in found:
                    raise NotFound(f"decision {d.id!r} ({d.kind}) names unknown face {f!r}; add the face first")
        cls._q(tx, "add_decision", row=row)
        if link is not None and not d.undone:
            cls._q(tx, _LINK_FILE[link], a=d.a, b=d.b, id=d.id, by=d.by, at=at, reason=d.reason)

    def undo_decision(self, decision_id: str) -> None:
        """Mark a decision undone (kept in the audit trail) and remove its typed link.

        Raises:
            NotFound: the decision is unknown.
        """
        if not self._run("undo_decision", id=decision_id):
            raise NotFound(f"no decision with id {decision_id!r}")

    @staticmethod
    def _decision(d: dict[str, Any]) -> Decision:
        return Decision(id=d["id"], kind=d["kind"], a=d["a"], b=d.get("b"), by=d.get("by"), at=_native(d["at"]),
                        reason=d.get("reason"), undone=bool(d.get("undone")), data=json.loads(d.get("data") or "{}"))

    def get_decisions(
        self,
        *,
        face_ids: Collection[str] | None = None,
        cluster_ids: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
        active_only: bool = False,
    ) -> list[Decision]:
        """Decisions, oldest first; filters combine with AND (ids match ``a`` or ``b``)."""
        ks = None if kinds is None else list(kinds)
        filters = [set(x) for x in (face_ids, cluster_ids) if x is not None]
        if filters:
            # seek by the smaller id list, then apply the other one here
            filters.sort(key=len)
            records = self._run("get_decisions_by_ids", keys=list(filters[0]), kinds=ks, active_only=active_only)
        else:
            records = self._run("get_decisions", kinds=ks, active_only=active_only)
        out = [self._decision(r["decision"]) for r in records]
        out = [d for d in out if all(d.a in f or d.b in f for f in filters)]
        return sort_decisions({d.id: d for d in out}.values())

    def get_decision(self, decision_id: str) -> Decision:
        """One decision; NotFound if unknown."""
        records = self._run("get_decision", id=decision_id)
        if not records:
            raise NotFound(f"no decision with id {decision_id!r}")
        return self._decision(records[0]["decision"])

    def constraint_links(
        self, face_ids: Collection[str]
    ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
        """Active (must_links, cannot_links) as (a, b, decision_id) with an endpoint in ``face_ids``."""
        must: list[tuple[str, str, str]] = []
        cannot: list[tuple[str, str, str]] = []
        for r in self._run("constraint_links", ids=_ids(face_ids)):
            (must if r["type"] == "MUST_LINK" else cannot).append((r["a"], r["b"], r["id"]))
        return must, cannot

    # -- review queue -------------------------------------------------------------------------
    def put_reviews(self, items: Sequence[ReviewItem]) -> None:
        """Upsert review items by id, and their ABOUT relationships to faces and clusters."""
        rows = [{"id": r.id, "kind": r.kind, "status": r.status, "priority": float(r.priority),
                 "faces_a": r.faces_a, "faces_b": r.faces_b, "cluster_a": r.cluster_a, "cluster_b": r.cluster_b,
                 "created_at": aware(r.created_at), "answer": r.answer} for r in items]
        faces: list[dict[str, str]] = []
        clusters: list[dict[str, str]] = []
        for r in items:
            faces += [{"review": r.id, "node": f, "role": "a"} for f in r.faces_a]
            faces += [{"review": r.id, "node": f, "role": "b"} for f in r.faces_b]
            clusters += [{"review": r.id, "node": k, "role": role}
                         for k, role in ((r.cluster_a, "a"), (r.cluster_b, "b")) if k]

        def work(tx: ManagedTransaction) -> None:
            self._q(tx, "put_reviews", rows=rows)
            self._q(tx, "put_reviews_about_faces", rows=faces)
            self._q(tx, "put_reviews_about_clusters", rows=clusters)

        self._tx(work)

    @staticmethod
    def _review(r: dict[str, Any]) -> ReviewItem:
        return ReviewItem(id=r["id"], kind=r["kind"], status=r["status"], priority=r["priority"],
                          faces_a=list(r.get("faces_a") or []), faces_b=list(r.get("faces_b") or []),
                          cluster_a=r.get("cluster_a"), cluster_b=r.get("cluster_b"),
                          created_at=_native(r["created_at"]), answer=r.get("answer"))

    def get_reviews(self, *, status: str | None = "open", limit: int | None = None,
                    kind: str | None = None) -> list[ReviewItem]:
        """Review items with that status (all when None), highest priority first; ``kind``:
        only that kind's (cypher/get_reviews_kind.cypher)."""
        n = _NO_LIMIT if limit is None else int(limit)
        if kind is not None:
            if status is None:
                raise InvalidInput("get_reviews(kind=...) needs a status")
            return [self._review(r["review"]) for r in self._run("get_reviews_kind", status=status, kind=kind, limit=n)]
        records = self._run("get_reviews_all", limit=n) if status is None else self._run("get_reviews", status=status,
                                                                                         limit=n)
        return [self._review(r["review"]) for r in records]

    def open_reviews_about(self, cluster_ids: Collection[str]) -> list[str]:
        """Ids of the open review items about any of ``cluster_ids`` (cypher/open_reviews_about.cypher)."""
        return [r["id"] for r in self._run("open_reviews_about", clusters=_ids(cluster_ids))]

    def get_review(self, review_id: str) -> ReviewItem:
        """One review item; NotFound if unknown."""
        records = self._run("get_review", id=review_id)
        if not records:
            raise NotFound(f"no review item with id {review_id!r}")
        return self._review(records[0]["review"])

    def review_statuses(self, review_ids: Collection[str]) -> dict[str, str]:
        """Status of each known review item among ``review_ids`` (cypher/review_statuses.cypher)."""
        return {r["id"]: r["status"] for r in self._run("review_statuses", ids=_ids(review_ids))}

    def set_review_status(self, review_ids: Collection[str], status: str, answer: str | None = None) -> None:
        """Set the status (and the answer, None clears it) of review items.

        Raises:
            NotFound: an id is unknown; nothing is changed.
        """
        check_review_status(status)
        ids = _ids(review_ids)

        def work(tx: ManagedTransaction) -> None:
            found = {r["id"] for r in self._q(tx, "set_review_status_known", ids=ids)}
            missing = [i for i in ids if i not in found]
            if missing:
                raise NotFound(f"no review item(s) with id {missing[:5]}")
            self._q(tx, "set_review_status", ids=ids, status=status, answer=answer)

        self._tx(work)


def _plain(value: Any) -> Any:
    """Neo4j temporal values become ISO strings, so query rows are JSON-able."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):  # data() renders relationships as (start, type, end)
        return [_plain(v) for v in value]
    iso = getattr(value, "iso_format", None)
    return iso() if callable(iso) else value
