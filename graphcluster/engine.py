"""The facade: ``GraphCluster`` ties the neighbour index, a store and the clustering core.

It opens a database (a directory for the embedded store, or a Neo4j URI), runs the crash
repair of ``graphcluster.recovery`` before handing it out, and delegates each job to its room:
adding faces to ``graphcluster.ingest``, re-clustering to ``graphcluster.regions``, human
decisions to ``graphcluster.decisions``, review questions (the queue, calibration questions,
answers) to ``graphcluster.review``, the soundness check to ``graphcluster.integrity``.
The path of one batch is in ``graphcluster.ingest`` and docs/architecture.md.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

from graphcluster import decisions as _decisions
from graphcluster import review as _review
from graphcluster.calibration import ThresholdKeeper
from graphcluster.crops import CropStore
from graphcluster.errors import InvalidInput, NotFound, StoreError
from graphcluster.index import NeighbourIndex, open_index
from graphcluster.integrity import check as _check
from graphcluster.models import (
    AddReport,
    Assignment,
    CheckReport,
    CleanupReport,
    ClusterRecord,
    Decision,
    PhotoReport,
    ReviewItem,
    Stats,
)
from graphcluster.ingest import Ingest
from graphcluster.recovery import Repairs, rebuild_index, reconcile
from graphcluster.regions import Reclusterer
from graphcluster.settings import Settings
from graphcluster.store import open_store
from graphcluster.store.base import Store
from graphcluster.store.neo4j import Neo4jStore
from graphcluster.store.neo4j_vectors import Neo4jVectorIndex
from graphcluster.targets import is_neo4j_uri
from graphcluster.view import StoreView

__all__ = ["GraphCluster"]

Progress = Callable[[int, int], None]

F = TypeVar("F", bound=Callable[..., Any])


def _exclusive(method: F) -> F:
    """Run a method that writes under the database's write lease (see ``GraphCluster._writing``)."""

    @functools.wraps(method)
    def run(self: GraphCluster, *args: Any, **kwargs: Any) -> Any:
        with self._writing():
            return method(self, *args, **kwargs)

    return run  # type: ignore[return-value]


def _default_index_dir(uri: str, database: str | None) -> Path:
    safe = "".join(ch if ch.isalnum() else "_" for ch in uri.split("://", 1)[1])
    return Path.cwd() / ".graphcluster-index" / f"{safe}_{database or 'default'}"


class GraphCluster:
    """An incremental face-clustering database.

    Open it with :meth:`open` and use it as a context manager::

        with GraphCluster.open("faces-db") as gc:
            report = gc.add_faces(vectors, ids=ids)
    """

    def __init__(self, store: Store, index: NeighbourIndex, settings: Settings, crops: CropStore | None = None) -> None:
        self.store = store
        self.index = index
        self.settings = settings
        # face crops (graphcluster.crops); by default a folder beside the index folder
        self.crops = crops or CropStore(settings.crops_dir or Path(str(index.info()["path"])).parent / "crops")
        self.view = StoreView(store)
        self._start_policies()

    def _start_policies(self) -> None:
        """The threshold keeper, the reclusterer and ingest, with nothing cached from the store yet."""
        self.thresholds = ThresholdKeeper(self.store, self.index, self.settings)
        self.regions = Reclusterer(self.store, self.view, self.thresholds, self.settings)
        self.ingest = Ingest(self.regions, self.index)

    def _recover(self) -> Repairs:
        """Repair what a process that stopped part-way left (``graphcluster.recovery``)."""
        return reconcile(self.regions, self.index, rebuild=not isinstance(self.index, Neo4jVectorIndex))

    # -- opening and closing -------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        target: str | Path,
        *,
        settings: Settings | None = None,
        auth: tuple[str, str] | None = None,
    ) -> GraphCluster:
        """Open (or create) a graphcluster database.

        Args:
            target: a directory for the embedded store (SQLite and index files inside it,
                created if missing) or a ``bolt://`` / ``neo4j://`` URI of a Neo4j server.
            settings: thresholds, index and algorithm settings (defaults calibrate themselves).
            auth: ``(user, password)`` for Neo4j; None takes them from ``NEO4J_PASSWORD`` /
                ``NEO4J_PASSWORD_FILE`` or a local server's password file
                (:func:`graphcluster.credentials.neo4j_auth`), else connects without auth.

        Before it returns, what a process that stopped part-way left is repaired (a batch, an
        ``add_faces`` call, a decision, a threshold move, an index out of step with the graph:
        ``graphcluster.recovery``); each repair is logged as a warning by the logger
        ``graphcluster.recovery``.

        Raises:
            StoreBusy: another process writes to the same embedded directory.
            StoreError: the server cannot be reached or the index does not match the store.
        """
        settings = settings or Settings()
        if settings.index == "neo4j" and not is_neo4j_uri(target):
            raise InvalidInput(
                f"Settings(index='neo4j') keeps the vectors in Neo4j's vector index and needs a Neo4j store; "
                f"{str(target)!r} is a directory (the embedded store). Open a bolt:// or neo4j:// URI, or use "
                "index='annoy'"
            )
        if settings.index == "neo4j" and not settings.store_embeddings:
            raise InvalidInput(
                "Settings(index='neo4j') searches the embeddings stored on the Face nodes; "
                "store_embeddings=False leaves none. Drop store_embeddings=False or use index='annoy'"
            )
        if is_neo4j_uri(target):
            store = open_store(str(target), auth=auth, database=settings.database)
            index_dir = settings.index_dir or _default_index_dir(str(target), settings.database)
            crops_dir = settings.crops_dir or Path(index_dir).with_name(Path(index_dir).name + "-crops")
        else:
            root = Path(target)
            store = open_store(root)
            index_dir = settings.index_dir or root / "index"
            crops_dir = settings.crops_dir or root / "crops"
        try:
            meta = store.get_meta()
            kind = meta.get("index_kind", settings.index)
            opts: dict[str, Any] = {} if settings.delta_size is None else {"delta_size": settings.delta_size}
            if kind == "annoy":
                opts.update(n_trees=settings.annoy_trees, search_k=settings.search_k)
            index: NeighbourIndex
            if kind == "neo4j":
                if not isinstance(store, Neo4jStore):
                    raise InvalidInput("this database was made with index='neo4j', which needs a Neo4j store")
                store.enable_lease(seconds=settings.lease_seconds, wait=settings.lease_wait)
                index = Neo4jVectorIndex(store, meta.get("dim"), candidates=settings.vector_candidates)
            else:
                try:
                    index = open_index(Path(index_dir), kind=kind, dim=meta.get("dim"), **opts)
                except OSError as exc:  # a read-only or full file system
                    raise StoreError(
                        f"cannot open the index directory {index_dir} ({exc.strerror or exc}); it must be a "
                        "writable directory (Settings.index_dir chooses another)"
                    ) from exc
            if "index_kind" not in meta:
                store.set_meta({"index_kind": settings.index})
        except BaseException:
            store.close()
            raise
        gc = cls(store, index, settings, CropStore(crops_dir))
        try:
            with gc._writing():  # taking the writers' lease recovers by itself
                if not gc._leased:
                    gc._recover()
        except BaseException:
            gc.close()
            raise
        return gc

    @property
    def _leased(self) -> bool:
        lease = getattr(self.store, "lease", None)
        return lease is not None

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the database's write lease around an operation that writes (index='neo4j').

        Many workers share one Neo4j database; one of them writes at a time. Taking the lease
        starts from the database as it is: the thresholds and counters are read again (another
        worker may have moved them), rows of an unfinished batch held by the index are
        forgotten, and ``_recover`` repairs what a worker that died holding the lease left
        (its journal is in the shared meta). Nested calls share the outer lease. Without a
        lease (embedded store, or a local index: one writer) this does nothing.
        """
        lease = getattr(self.store, "lease", None)
        if lease is None or lease.held:
            yield
            return
        lease.acquire()
        try:
            if isinstance(self.index, Neo4jVectorIndex):
                self.index.begin(self.store.get_meta().get("dim"))
            self._start_policies()
            self._recover()
            yield
        finally:
            lease.release()

    def close(self) -> None:
        """Flush the index and release the store (and its write lock)."""
        try:
            self.index.flush()
            self.index.close()
        finally:
            self.store.close()

    def __enter__(self) -> GraphCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dim(self) -> int | None:
        return self.store.get_meta().get("dim")

    # -- ingest ---------------------------------------------------------------------------------
    @_exclusive
    def add_faces(
        self,
        vectors: Any,
        ids: Sequence[str] | None = None,
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
        *,
        progress: Progress | None = None,
    ) -> AddReport:
        """Add a batch of face embeddings and cluster them into people.

        Args:
            vectors: ``(n, d)`` array-like of embeddings (any scale; they are L2-normalised).
            ids: one string id per row (generated when None). Ids already stored are skipped,
                so re-sending a batch changes nothing.
            metadata: one dict per row (``source``, ``image``, ``bbox``, ``quality``,
                ``batch`` are stored as fields; anything else JSON-able is kept too).
            progress: called as ``progress(done, total)`` after each chunk of faces.

        Returns:
            Per-face cluster id, status and confidence, plus counts; ``skipped`` lists the ids
            already stored and ``skipped_changed`` those of them sent with a different vector (the
            stored one is kept: a face's vector never changes under its id).

        A call of more than 1,000 faces is stored a chunk at a time: after a crash the chunks
        done stay (whole, clustered), ``stats().interrupted_add`` names the call, and sending
        it again stores exactly the rest (docs/reliability.md).

        Raises:
            InvalidInput: a bad row (wrong dimension, NaN/inf, zero vector, duplicate or bad id,
                metadata that is not a dict); the whole batch is refused and nothing is written.
        """
        started = time.perf_counter()
        report = self.ingest.add(vectors, ids, metadata, progress)
        report.seconds = time.perf_counter() - started
        return report

    def add_photos(
        self,
        paths: str | Path | Sequence[str | Path],
        *,
        root: str | Path | None = None,
        detector: Literal["hog", "cnn"] = "hog",
        progress: Progress | None = None,
    ) -> PhotoReport:
        """Detect the faces of photos, keep a crop of each, and add them photo by photo.

        Needs the ``photos`` extra (``pip install 'graphcluster[photos]'``). Each photo's faces
        go in one :meth:`add_faces` call, with ids ``<path relative to root>#x0,y0,x1,y1``;
        running it again adds nothing, new photos are picked up, and a photo whose content
        changed gets its new faces added beside the earlier ones (docs/photos.md).

        Args:
            paths: folders (walked recursively for image files) and/or photo files.
            root: the folder face ids are relative to (default: the one folder given, else
                the common folder of ``paths``).
            detector: ``"hog"`` (dlib's HOG frontal detector, fast) or ``"cnn"`` (dlib's
                mmod CNN: finds more faces, far slower on a CPU).
            progress: called as ``progress(done, total)`` after each photo.

        Returns:
            The outcome of every photo: added (n faces), unchanged, changed, or skipped with
            the reason (a bad photo never stops the run).

        Raises:
            InvalidInput: a path that does not exist or lies outside ``root``, an unknown
                detector, or a database of vectors that are not 128-D; nothing is written.
        """
        from graphcluster import photos  # dlib and Pillow: loaded on use

        return photos.add_photos(self, paths, root=root, detector=detector, progress=progress)

    @_exclusive
    def reset(self) -> None:
        """Delete every face, edge, cluster, decision and review, and empty the index.

        The database is then as a new one (the thresholds calibrate again, cluster ids start
        at ``c-1``); only the index kind it was made with is kept.
        """
        kind = self.store.get_meta().get("index_kind")
        self.store.clear()
        self.index.delete(list(self.index.ids()))
        self.index.compact()
        self.index.flush()
        self.index.recall_radius = None  # as an index that was never told a threshold
        if isinstance(self.index, Neo4jVectorIndex):
            self.index.drop()  # a new database may hold another dimension
        if kind is not None:
            self.store.set_meta({"index_kind": kind})
        self._start_policies()

    @_exclusive
    def rebuild_index(self) -> int:
        """Rebuild the neighbour index from the vectors stored in the graph; returns its size.

        With index='neo4j' the stored vectors are the index: nothing is rebuilt.
        """
        if isinstance(self.index, Neo4jVectorIndex):
            return len(self.index)
        return rebuild_index(self.store, self.index)

    # -- reading --------------------------------------------------------------------------------
    def assignments(self, detail: bool = False, *, face_ids: Collection[str] | None = None) -> dict[str, Any]:
        """Every face's cluster id (None when unassigned), or ``Assignment`` objects with ``detail``.

        ``face_ids`` limits the answer to those faces (unknown ids are left out).
        """
        members = self.store.memberships(None if face_ids is None else list(face_ids))
        if detail:
            return {
                f: Assignment(cluster_id=m.cluster_id, status=m.status, confidence=m.confidence)
                for f, m in members.items()
            }
        return {f: m.cluster_id for f, m in members.items()}

    def clusters(self, *, offset: int = 0, limit: int | None = None) -> list[ClusterRecord]:
        """Every cluster, largest first (ties by id); with ``limit``, one page of that order
        after the first ``offset``, sorted and cut by the store.

        Raises:
            InvalidInput: a negative ``offset`` or a ``limit`` below 1.
        """
        if limit is None and offset == 0:
            return sorted(self.store.get_clusters(None).values(), key=lambda c: (-c.size, c.id))
        return self.store.cluster_page(offset, limit if limit is not None else max(self.store.counts().clusters, 1))

    def unassigned(self, *, offset: int = 0, limit: int = 100) -> list[str]:
        """Ids of the faces in no cluster, in id order: ``limit`` of them after ``offset``
        (``stats().by_status['unassigned']`` counts them all)."""
        return self.store.unassigned_faces(offset, limit)

    def cluster(self, cluster_id: str) -> dict[str, Any]:
        """One cluster: its record, members (with status and confidence) and decisions."""
        record = self.view.cluster_record(cluster_id)
        member_ids = self.store.cluster_members([cluster_id])[cluster_id]
        ms = self.store.memberships(member_ids)
        return {
            "cluster": record,
            "members": sorted(
                ({"face_id": f, "status": ms[f].status, "confidence": ms[f].confidence} for f in member_ids),
                key=lambda r: (-r["confidence"], r["face_id"]),
            ),
            "decisions": self.store.get_decisions(cluster_ids=[cluster_id]),
        }

    def face(self, face_id: str) -> dict[str, Any]:
        """One face: its record, membership, decisions and nearest neighbours."""
        faces = self.store.get_faces([face_id])
        if face_id not in faces:
            raise NotFound(f"no face with id {face_id!r}")
        edges = sorted(self.store.similar_edges([face_id]), key=lambda e: e.distance)
        return {
            "face": faces[face_id],
            "membership": self.store.memberships([face_id])[face_id],
            "decisions": self.store.get_decisions(face_ids=[face_id]),
            "neighbours": [
                {"face_id": e.b if e.a == face_id else e.a, "distance": e.distance, "weight": e.weight} for e in edges
            ],
        }

    def face_crop(self, face_id: str) -> bytes | None:
        """The face's 150x150 JPEG crop, or None when it came as a vector (no photo)."""
        return self.crops.get(face_id)

    def stats(self) -> Stats:
        """Counts, the thresholds in use (and where they came from), the index state, and an
        ``add_faces`` call a crash interrupted (``interrupted_add``, None when there is none)."""
        c = self.store.counts()
        interrupted = self.store.get_meta().get("interrupted_add")
        return Stats(
            faces=c.faces,
            clusters=c.clusters,
            locked_clusters=c.locked_clusters,
            by_status=c.by_status,
            open_reviews=c.open_reviews,
            decisions=c.decisions,
            thresholds=self.thresholds.describe(),
            store=self.store.kind,
            index=self.index.info(),
            interrupted_add=None if not interrupted else {
                "batch": interrupted["batch"],
                "faces": len(interrupted["ids"]),
                "stored": interrupted["stored"],
                "missing": len(interrupted["ids"]) - interrupted["stored"],
                "started_at": interrupted["started_at"],
            },
        )

    def check(self) -> CheckReport:
        """Check that the database is sound: the store's bookkeeping, the journals, every human
        decision in force, the index in step with the store (graphcluster/integrity.py).

        It reads the whole database and changes nothing; ``report.ok`` is False and
        ``report.problems`` says what is wrong when something is.
        """
        return _check(self.store, self.index, self.view)

    # -- human decisions (graphcluster/decisions.py) -------------------------------------------
    @_exclusive
    def same_person(self, a: str, b: str, *, by: str | None = None, reason: str | None = None) -> Decision:
        """Must-link: faces ``a`` and ``b`` are one person, from now on and forever.

        Raises:
            NotFound: an unknown face id.
            ConstraintConflict: a cannot-link between their groups, or two locked clusters
                (merge them explicitly); nothing is changed.
        """
        return _decisions.same_person(self.regions, a, b, by=by, reason=reason)

    @_exclusive
    def different_person(self, a: str, b: str, *, by: str | None = None, reason: str | None = None) -> Decision:
        """Cannot-link: ``a`` and ``b`` are two people; a cluster holding both is split at once.

        Raises:
            NotFound: an unknown face id.
            ConstraintConflict: ``a`` and ``b`` are must-linked, or both are in one locked cluster.
        """
        return _decisions.different_person(self.regions, a, b, by=by, reason=reason)

    @_exclusive
    def assign(self, face_id: str, cluster_id: str, *, by: str | None = None, reason: str | None = None) -> Decision:
        """Place a face in a cluster by hand (status ``manual``); it stays there."""
        return _decisions.assign(self.regions, face_id, cluster_id, by=by, reason=reason)

    @_exclusive
    def remove(self, face_id: str, *, by: str | None = None, reason: str | None = None) -> Decision:
        """"Not this person": take a face out of its cluster; it never joins that cluster again."""
        return _decisions.remove(self.regions, face_id, by=by, reason=reason)

    @_exclusive
    def merge(self, cluster_a: str, cluster_b: str, *, by: str | None = None, reason: str | None = None) -> Decision:
        """Merge two clusters into one person (the locked or larger one keeps its id)."""
        return _decisions.merge(self.regions, cluster_a, cluster_b, by=by, reason=reason)

    @_exclusive
    def lock(self, cluster_id: str, *, by: str | None = None, reason: str | None = None) -> Decision:
        """Verify a cluster: its members stay together; it may grow; it never merges on its own."""
        return _decisions.set_lock(self.regions, cluster_id, True, by=by, reason=reason)

    @_exclusive
    def unlock(self, cluster_id: str, *, by: str | None = None, reason: str | None = None) -> Decision:
        """Undo the verification of a cluster."""
        return _decisions.set_lock(self.regions, cluster_id, False, by=by, reason=reason)

    @_exclusive
    def name(self, cluster_id: str, name: str, *, by: str | None = None, reason: str | None = None) -> Decision:
        """Name a cluster (the person's name)."""
        return _decisions.set_name(self.regions, cluster_id, name, by=by, reason=reason)

    def decisions(self, face_id: str | None = None, cluster_id: str | None = None) -> list[Decision]:
        """Every human decision (oldest first), optionally about one face or cluster."""
        return self.store.get_decisions(
            face_ids=[face_id] if face_id else None, cluster_ids=[cluster_id] if cluster_id else None
        )

    @_exclusive
    def undo(self, decision_id: str, *, by: str | None = None) -> Decision:
        """Undo a decision; re-clusters only what it affects. Returns the undone decision."""
        return _decisions.undo(self.regions, decision_id, by=by)

    # -- review queue (graphcluster/review.py) -------------------------------------------------
    @_exclusive
    def review_queue(self, limit: int = 20) -> list[ReviewItem]:
        """Open questions, the ones whose answer changes most first; obsolete ones are dropped.

        Best first by each item's priority (the faces its answer is expected to put right)
        times its kind's weight (:meth:`review_weights`)."""
        return _review.review_queue(self.regions, limit)

    def review_weights(self) -> dict[str, float]:
        """Kind -> the weight of its questions' priorities in :meth:`review_queue`: the faces
        that answers of that kind put right over the faces their priorities predicted, with a
        prior of ``TALLY_PRIOR`` faces (1 for a kind not answered yet). Learned from this
        store's answers, so the queue turns to the kinds of question that pay off here."""
        return _review.kind_weights(self.regions)

    def review_outlook(self) -> dict[str, float]:
        """``open``: the open questions; ``faces_to_put_right``: what their answers are expected
        to put right, in faces (their priorities x :meth:`review_weights`): the estimate of the
        errors review can still fix, shown as progress by ``graphcluster review``."""
        return _review.outlook(self.regions)

    @_exclusive
    def calibration_questions(self, limit: int = 5) -> list[ReviewItem]:
        """Questions "are these two faces the same person?" whose answers move the link most.

        Open ones are returned first; new ones are picked by bisection between the answers so
        far (``ThresholdKeeper.question_pairs``) and stored as review items of kind ``pair``
        (answer them with :meth:`answer`: "yes" records a same-person decision, "no" a
        different-person one, and the distance of the pair re-places ``link``).
        """
        return _review.calibration_questions(self.regions, limit)

    @_exclusive
    def answer(
        self, item_id: str, answer: str, *, name: str | None = None, by: str | None = None,
        faces: Sequence[str] | None = None,
    ) -> Decision | None:
        """Answer a review item with "yes", "no" or "skip"; records the decision it implies.

        A bulk question (kind ``join``, ``split``, ``new_identity``) takes ``faces``: the faces
        shown that the answer is about, every other face shown getting the opposite answer
        (``answer(id, "no", faces=["f3", "f7"])`` on a split: these two do not belong, the rest
        do). Each face gets its own decision; :meth:`undo_answer` undoes them together.
        """
        return _review.answer(self.regions, item_id, answer, name=name, by=by, faces=faces)

    @_exclusive
    def undo_answer(self, item_id: str, *, by: str | None = None) -> list[Decision]:
        """Undo every decision the answer to a review item recorded and open it again."""
        return _review.undo_answer(self.regions, item_id, by=by)

    # -- global pass ----------------------------------------------------------------------------
    @_exclusive
    def cleanup(self, *, progress: Progress | None = None) -> CleanupReport:
        """Run the constraint-aware clustering over the whole graph and report what changed.

        Every human decision is obeyed. Its cost grows with the database: run it periodically,
        not per batch.
        """
        started = time.perf_counter()
        before = {f: m.cluster_id for f, m in self.store.memberships(None).items()}
        clusters_before = set(self.store.get_clusters(None))
        ids = sorted(before)
        if progress is not None:
            progress(0, 1)
        self.regions.everything(ids)
        after = {f: m.cluster_id for f, m in self.store.memberships(None).items()}
        clusters_after = set(self.store.get_clusters(None))
        changes = [
            {"face_id": f, "from": before.get(f), "to": after.get(f)} for f in ids if before.get(f) != after.get(f)
        ]
        if progress is not None:
            progress(1, 1)
        return CleanupReport(
            faces_moved=len(changes),
            clusters_created=sorted(clusters_after - clusters_before),
            clusters_removed=sorted(clusters_before - clusters_after),
            changes=changes,
            seconds=time.perf_counter() - started,
        )

    # -- investigation --------------------------------------------------------------------------
    def query(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """Run an investigation query of ``cypher/queries/`` (Neo4j store only).

        Args:
            name: the query's file name without extension (``graphcluster query`` lists them).
            **params: its parameters; missing optional ones take the defaults in its header.

        Raises:
            NotFound: no query of that name.
            InvalidInput: an unknown, missing or mistyped parameter, or an embedded store.
        """
        from graphcluster import cypher_files, queries

        catalogue = queries.query_catalogue()
        if name not in catalogue:
            raise NotFound(f"no investigation query named {name!r}; available: {', '.join(sorted(catalogue))}")
        values = queries.bind_python_params(catalogue[name], params)
        run = getattr(self.store, "run_read", None)
        if run is None:
            raise InvalidInput(
                f"query {name!r} needs the Neo4j store; this database is {self.store.kind!r}. "
                "Open graphcluster with a bolt:// URI to investigate with Cypher"
            )
        result: list[dict[str, Any]] = run(cypher_files.load(f"queries/{name}"), values)
        return result

