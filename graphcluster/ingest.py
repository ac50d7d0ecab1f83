"""Adding a batch of faces: checks, face records, SIMILAR edges, same-image cannot-links.

One ``add_faces`` call, as in docs/architecture.md:

1. validate and L2-normalise the vectors, once (``validate_vectors``; the index takes the
   checked rows as they are) and check the metadata; a bad row refuses the whole batch;
2. skip ids already stored (re-sending a batch changes nothing; a re-send with another vector
   is reported in ``skipped_changed``);
3. note the chunk in the store's journal (``pending``), add the vectors to the index, query k
   neighbours and let the threshold keeper see each face's nearest distance;
4. write the faces, their SIMILAR edges and the cannot-links between faces of one image in one
   store transaction (``Store.add_faces``);
5. re-cluster the affected region only and write what changed (``Reclusterer.region``), then
   re-check the clusters that grew past a size level (``Reclusterer.recheck_grown``);
6. clear the journal. A crash between 3 and 6 is repaired by ``graphcluster.recovery`` on the
   next open.

A first import (at least ``Settings.bootstrap_min`` faces into an empty database) takes the
one-pass path of ``graphcluster.bootstrap`` instead of steps 3-6. A call of more than
``CHUNK`` faces runs steps 3-6 once per chunk: a crash keeps the chunks
done whole and clustered, the next open reports the call in ``stats().interrupted_add``, and
re-sending it stores exactly the missing faces (docs/reliability.md, "Crash contract").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from graphcluster.bootstrap import bootstrap
from graphcluster.clustering import Thresholds, edge_weight
from graphcluster.errors import InvalidInput, StoreError
from graphcluster.index import NeighbourIndex, validate_vectors
from graphcluster.models import (
    SYSTEM,
    AddReport,
    Decision,
    FaceRecord,
    FaceReport,
    SimilarEdge,
    new_decision_id,
    utcnow,
)
from graphcluster.regions import Reclusterer
from graphcluster.store.base import Store
from graphcluster.store.neo4j_vectors import Neo4jVectorIndex

__all__ = [
    "CHUNK",
    "SAME_VECTOR_TOLERANCE",
    "Ingest",
    "check_metadata",
    "face_record",
    "neighbour_pairs",
    "same_image_links",
    "similar_edges",
]

Progress = Callable[[int, int], None]

# Faces processed per region: large enough for batched writes, small enough that one
# region (and one store transaction) stays cheap whatever the caller passes in.
CHUNK = 1000
# Largest difference per component between a stored unit vector and a re-sent one still taken
# as the same embedding (float32 rounding of the normalisation is about 1e-7).
SAME_VECTOR_TOLERANCE = 1e-5
_FACE_FIELDS = ("source", "image", "bbox", "quality", "batch")


def check_metadata(metadata: Sequence[Mapping[str, Any] | None] | None, ids: Sequence[str]) -> list[dict[str, Any]]:
    """One dict per row (a copy; ``{}`` for None), or ``InvalidInput`` naming the bad row."""
    if metadata is None:
        return [{} for _ in ids]
    metadata = list(metadata)
    if len(metadata) != len(ids):
        raise InvalidInput(
            f"metadata has {len(metadata)} entries for {len(ids)} vectors; pass one dict per row (or None)"
        )
    out: list[dict[str, Any]] = []
    for row, m in enumerate(metadata):
        if m is None:
            out.append({})
        elif not isinstance(m, Mapping):
            raise InvalidInput(
                f"metadata row {row} (id {ids[row]!r}) is a {type(m).__name__}, not a dict",
                rows=[row],
                ids=[ids[row]],
            )
        else:
            out.append(dict(m))
    return out


def face_record(fid: str, vec: np.ndarray, meta: dict[str, Any], batch_tag: str, *, embedding: bool) -> FaceRecord:
    """The stored record of one face: the known fields out of ``meta``, the rest kept as metadata.

    ``embedding``: store the vector on the record too (``Settings.store_embeddings``).
    """
    fields = {k: meta.pop(k) for k in _FACE_FIELDS if k in meta}
    fields.setdefault("batch", batch_tag)
    for k in ("source", "image", "batch"):
        if fields.get(k) is not None:
            fields[k] = str(fields[k])
    try:
        if fields.get("bbox") is not None:
            fields["bbox"] = [float(x) for x in fields["bbox"]]
        return FaceRecord(
            id=fid,
            dim=int(vec.shape[0]),
            metadata=meta,
            embedding=[float(x) for x in vec] if embedding else None,
            **fields,
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"metadata of face {fid!r} is not valid: {exc}", ids=[fid]) from exc


def neighbour_pairs(
    ids: Sequence[str], nbr_ids: Sequence[Sequence[str]], nbr_dist: Sequence[np.ndarray], k: int
) -> tuple[dict[tuple[str, str], float], list[float]]:
    """The kNN pairs of a batch (each pair once, ``a < b``, its shortest distance) and each
    face's nearest other face's distance (what the calibration's drift test watches).

    ``nbr_ids`` / ``nbr_dist``: the index's answer for each face, which may hold the face itself.
    """
    pairs: dict[tuple[str, str], float] = {}
    nearest: list[float] = []
    for fid, row_ids, row_d in zip(ids, nbr_ids, nbr_dist):
        taken = 0
        for other, d in zip(row_ids, row_d):
            if other == fid or taken >= k:
                continue
            if not taken:
                nearest.append(float(d))
            taken += 1
            key = (fid, other) if fid < other else (other, fid)
            pairs[key] = min(float(d), pairs.get(key, 9.0))
    return pairs, nearest


def similar_edges(pairs: Mapping[tuple[str, str], float], thresholds: Thresholds) -> list[SimilarEdge]:
    """SIMILAR edges for ``pairs``, each weighted for the thresholds in use."""
    return [SimilarEdge(a=a, b=b, distance=d, weight=edge_weight(d, thresholds)) for (a, b), d in pairs.items()]


def same_image_links(store: Store, faces: Sequence[FaceRecord]) -> list[Decision]:
    """Two faces in one image are two people: the cannot-links graphcluster itself makes for
    new ``faces``, against each other and against the faces of their images already stored.

    Only computed here; the caller writes them with the faces (``Store.add_faces``).
    """
    by_image: dict[str, list[str]] = {}
    for f in faces:
        if f.image:
            by_image.setdefault(f.image, []).append(f.id)
    if not by_image:
        return []
    stored = store.faces_by_image(list(by_image))
    links: list[Decision] = []
    for image, fresh in by_image.items():
        fresh = sorted(set(fresh))
        earlier = sorted(set(stored.get(image, ())) - set(fresh))
        for i, x in enumerate(fresh):
            for y in [*earlier, *fresh[i + 1 :]]:
                links.append(
                    Decision(id=new_decision_id(), kind="different_person", a=x, b=y, by=SYSTEM,
                             reason=f"two faces in one image ({image})", data={"automatic": True})
                )
    return links


class Ingest:
    """Adds batches of faces to one open database, through its ``Reclusterer``."""

    def __init__(self, regions: Reclusterer, index: NeighbourIndex) -> None:
        self.regions = regions
        self.store = regions.store
        self.settings = regions.settings
        self.index = index

    def add(
        self,
        vectors: Any,
        ids: Sequence[str] | None,
        metadata: Sequence[Mapping[str, Any] | None] | None,
        progress: Progress | None = None,
    ) -> AddReport:
        """``GraphCluster.add_faces`` (its docstring is the contract), without ``seconds``."""
        arr = np.asarray(vectors) if not isinstance(vectors, np.ndarray) else vectors
        n = arr.shape[0] if arr.ndim >= 1 else 0
        if n == 0 and not ids:  # an empty batch ([] or shape (0, d)): nothing to add, nothing written
            return AddReport(added=0)
        if ids is None:
            ids = [uuid.uuid4().hex for _ in range(n)]
        ids = list(ids)
        dim = self.store.get_meta().get("dim")
        matrix = validate_vectors(arr, ids=ids, dim=dim)
        metas = check_metadata(metadata, ids)

        existing = self.store.existing_face_ids(ids)
        fresh = [i for i, fid in enumerate(ids) if fid not in existing]
        report = AddReport(added=len(fresh), skipped=[fid for fid in ids if fid in existing])
        report.skipped_changed = self._changed_vectors(ids, matrix, existing)
        if fresh:
            batch_tag = uuid.uuid4().hex[:12]
            for i in fresh:  # a bad row refuses the whole call before anything is written
                face_record(ids[i], matrix[i], dict(metas[i]), batch_tag, embedding=False)
            if dim is None:
                self.store.set_meta({"dim": int(matrix.shape[1])})
            fresh_ids = [ids[i] for i in fresh]
            # (not with Neo4j's vector index: its vectors become searchable only as faces are
            # written, so a first import's all-at-once neighbour lookup would scan them in Python)
            first_import = (self.settings.bootstrap_min and len(fresh) >= self.settings.bootstrap_min
                            and not isinstance(self.index, Neo4jVectorIndex)
                            and not existing and self.store.count_faces() == 0)
            several = len(fresh) > CHUNK or first_import
            if several:  # more than one transaction: note the call until its last chunk is in
                self.store.set_meta(
                    {"add_call": {"batch": batch_tag, "ids": fresh_ids, "started_at": utcnow().isoformat()}}
                )
            if first_import:  # one pass over the whole kNN graph (graphcluster/bootstrap.py)
                bootstrap(self, fresh_ids, matrix[fresh], [metas[i] for i in fresh], batch_tag, report, progress)
            else:
                for start in range(0, len(fresh), CHUNK):
                    rows = fresh[start : start + CHUNK]
                    self._add_chunk([ids[i] for i in rows], matrix[rows], [metas[i] for i in rows], batch_tag, report)
                    if progress is not None:
                        progress(min(start + CHUNK, len(fresh)), len(fresh))
            if several:
                self.store.set_meta({"add_call": None})
        report.completed_interrupted = self._settle_interrupted()
        return report

    def _changed_vectors(self, ids: Sequence[str], matrix: np.ndarray, existing: set[str]) -> list[str]:
        """The stored ids re-sent with another vector (the first write wins, so the report must say so).

        Both sides are unit float32 rows; a re-send of the same embedding matches to rounding."""
        rows = [i for i, fid in enumerate(ids) if fid in existing]
        if not rows:
            return []
        stored = self.index.get_vectors([ids[i] for i in rows])
        differs = np.abs(stored - matrix[rows]).max(axis=1) > SAME_VECTOR_TOLERANCE
        return [ids[i] for i, d in zip(rows, differs) if d]

    def _settle_interrupted(self) -> bool:
        """Clear the note of an interrupted call once all its faces are stored; True when this
        call did that."""
        interrupted = self.store.get_meta().get("interrupted_add")
        if not interrupted:
            return False
        stored = len(self.store.existing_face_ids(interrupted["ids"]))
        if stored == len(interrupted["ids"]):
            self.store.set_meta({"interrupted_add": None})
            return True
        if stored != interrupted["stored"]:
            self.store.set_meta({"interrupted_add": {**interrupted, "stored": stored}})
        return False

    def _add_chunk(
        self, ids: list[str], matrix: np.ndarray, metas: list[dict[str, Any]], batch_tag: str, report: AddReport
    ) -> None:
        keeper = self.regions.thresholds
        self.store.set_meta({"pending": ids})
        keeper.prime()  # a segment built by this add calibrates to the current review
        try:
            self.index.add(ids, matrix)
            self.index.flush()
        except OSError as exc:  # a full disk: the journal names these faces, the next open drops them
            raise StoreError(
                f"writing {len(ids)} vectors to the index failed ({exc.strerror or exc}); the faces stored before "
                f"are kept and {ids[0]!r}... were not stored: free disk space, then send the batch again"
            ) from exc

        k = min(self.settings.k + 1, len(self.index))
        nbr_ids, nbr_dist = self.index.query(matrix, k)
        pairs, nearest = neighbour_pairs(ids, nbr_ids, nbr_dist, self.settings.k)
        edges = similar_edges(pairs, keeper.update(nearest))
        faces = [
            face_record(fid, vec, meta, batch_tag, embedding=self.settings.store_embeddings)
            for fid, vec, meta in zip(ids, matrix, metas)
        ]
        links = same_image_links(self.store, faces) if self.settings.same_image_cannot_link else []
        self.store.add_faces(faces, edges, links)

        result = self.regions.region(ids)
        self.regions.recheck_grown(result)
        self.store.set_meta({"pending": None})
        change = keeper.take_change()
        if change is not None:
            self.regions.follow(keeper.plan(*change))
        self.regions.drain_backlog()

        placed = self.store.memberships(ids)
        for fid in ids:
            m = placed.get(fid)
            report.faces.append(
                FaceReport(
                    face_id=fid,
                    cluster_id=m.cluster_id if m else None,
                    status=m.status if m else "unassigned",
                    confidence=m.confidence if m else 0.0,
                )
            )
        report.clusters_created += result.created
        report.clusters_changed += result.changed
        report.reviews_opened += result.reviews
