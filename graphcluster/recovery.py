"""Opening after a crash: finish or undo what a killed process left half-done.

``GraphCluster.open`` runs :func:`reconcile` once before it returns (and, with the writers'
lease of ``index="neo4j"``, each time a worker takes the lease, since the worker that held it
may have died). It reads the journals the writers keep in the store's meta and repairs, in
this order:

0. a first import (``bootstrap``, ``graphcluster.bootstrap``): the vectors never written are
   dropped from the index, the faces written are clustered (resuming where the clustering
   stopped);
1. a batch chunk (``pending``): faces in the index but not in the graph are dropped from the
   index (the caller re-sends them); faces in the graph but not clustered are clustered;
2. an ``add_faces`` call of several chunks (``add_call``): noted as ``interrupted_add`` until a
   re-send stores the rest (docs/reliability.md, "Crash contract");
3. a human decision or an answer (``decisions.repair_journal``): its effects applied again;
4. a threshold move whose faces were not re-clustered;
5. the neighbour index: rebuilt from the stored vectors when it is empty, of another size, or
   holds other vectors than the graph (a copied or restored folder).

Each repair is logged (logger ``graphcluster.recovery``, level WARNING: it means an earlier
process stopped part-way) and returned in a :class:`Repairs`. A database that needs nothing
logs nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from graphcluster import decisions
from graphcluster.bootstrap import resume
from graphcluster.errors import StoreError
from graphcluster.index import NeighbourIndex
from graphcluster.ingest import SAME_VECTOR_TOLERANCE
from graphcluster.regions import Reclusterer
from graphcluster.store.base import Store

__all__ = ["Repairs", "reconcile", "rebuild_index", "index_matches_store"]

log = logging.getLogger(__name__)

# Faces of the index checked against the store on every open (``index_matches_store``).
INDEX_SAMPLE = 32
# Faces read from the store per step of an index rebuild.
REBUILD_STEP = 10_000


@dataclass
class Repairs:
    """What one :func:`reconcile` repaired (all empty: the database needed nothing)."""

    dropped_from_index: list[str] = field(default_factory=list)  # faces of a chunk never written to the graph
    clustered: list[str] = field(default_factory=list)  # faces of a chunk written but not clustered
    interrupted_call: bool = False  # an add_faces call of several chunks stopped part-way
    decisions: list[str] = field(default_factory=list)  # operations of the decision journal finished
    thresholds_followed: bool = False  # a threshold move's faces were re-clustered
    index_rebuilt: bool = False

    def __bool__(self) -> bool:
        return bool(self.dropped_from_index or self.clustered or self.interrupted_call or self.decisions
                    or self.thresholds_followed or self.index_rebuilt)


def reconcile(regions: Reclusterer, index: NeighbourIndex, *, rebuild: bool = True) -> Repairs:
    """Repair what a crash left half-done (the module docstring lists what, in order).

    ``rebuild``: check the neighbour index against the store and rebuild it when they differ
    (False for an index that is the stored vectors themselves, Neo4j's vector index).
    """
    store = regions.store
    done = Repairs()
    meta = store.get_meta()
    boot = meta.get("bootstrap")
    if boot:  # a first import killed part-way: keep what was written, cluster it (graphcluster/bootstrap.py)
        call_ids = (meta.get("add_call") or {}).get("ids") or []
        written = store.existing_face_ids(call_ids)
        done.dropped_from_index = [fid for fid in call_ids if fid not in written]  # delete ignores ids it lacks
        if done.dropped_from_index:
            index.delete(done.dropped_from_index)
            index.flush()
        done.clustered = resume(regions, boot, call_ids)
        store.set_meta({"bootstrap": None})
    pending = meta.get("pending") or []
    if pending:
        stored = store.existing_face_ids(pending)
        done.dropped_from_index = [fid for fid in pending if fid not in stored]
        if done.dropped_from_index:  # in the index but never written to the graph: the caller re-sends them
            index.delete(done.dropped_from_index)
            index.flush()
        if stored:  # written (with their same-image cannot-links, one transaction) but not clustered
            done.clustered = sorted(stored)
            regions.recheck_grown(regions.region(done.clustered))
        store.set_meta({"pending": None})
    call = meta.get("add_call")
    if call:  # a call of several chunks stopped part-way: keep its note until it is re-sent
        done.interrupted_call = True
        old = meta.get("interrupted_add") or {}
        ids = list(dict.fromkeys([*old.get("ids", []), *call["ids"]]))
        stored_n = len(store.existing_face_ids(ids))
        note = None
        if 0 < stored_n < len(ids):
            note = {"batch": old.get("batch", call["batch"]), "ids": ids, "stored": stored_n,
                    "started_at": old.get("started_at", call["started_at"])}
        store.set_meta({"add_call": None, "interrupted_add": note})
    done.decisions = decisions.repair_journal(regions)
    change = regions.thresholds.stored_change()
    if change is not None:  # a re-fit moved the thresholds, the affected faces were not re-clustered
        done.thresholds_followed = True
        regions.follow(regions.thresholds.plan(*change))
    if rebuild:
        stored_n = store.count_faces()
        if (stored_n and len(index) == 0) or stored_n != len(index) or not index_matches_store(store, index):
            # the index is derived from the graph's stored vectors: rebuild it rather than refuse
            # to open (a refusal would leave no open store to call ``rebuild_index()`` on)
            rebuild_index(store, index)
            done.index_rebuilt = True
    if done:
        log.warning("%s", describe(done))
    return done


def describe(done: Repairs) -> str:
    """One line for the log: what was repaired."""
    parts = []
    if done.dropped_from_index:
        parts.append(f"{len(done.dropped_from_index)} faces of an unfinished batch dropped from the index "
                     f"(never stored; send them again), e.g. {done.dropped_from_index[0]!r}")
    if done.clustered:
        parts.append(f"{len(done.clustered)} stored faces of an unfinished batch clustered")
    if done.interrupted_call:
        parts.append("an add_faces call stopped part-way (stats().interrupted_add names it; send it again)")
    if done.decisions:
        parts.append(f"unfinished decisions completed: {', '.join(done.decisions)}")
    if done.thresholds_followed:
        parts.append("faces affected by a threshold move re-clustered")
    if done.index_rebuilt:
        parts.append("the neighbour index rebuilt from the stored vectors")
    return "repaired on open: " + "; ".join(parts)


def index_matches_store(store: Store, index: NeighbourIndex) -> bool:
    """Whether a sample of the index's faces is stored, with the same vectors where stored.

    Equal sizes are not enough: an index folder copied from another database (or restored
    from another backup) may hold as many faces as the store. A fixed-size sample keeps
    opening cheap however large the database is."""
    ids = list(index.ids())
    if not ids:
        return True
    sample = ids[:: max(1, len(ids) // INDEX_SAMPLE)][:INDEX_SAMPLE]
    faces = store.get_faces(sample, with_embedding=True)
    if len(faces) != len(sample):
        return False
    with_vectors = [f for f in sample if faces[f].embedding is not None]
    if not with_vectors:
        return True
    stored = np.asarray([faces[f].embedding for f in with_vectors], dtype=np.float32)
    return bool(np.abs(index.get_vectors(with_vectors) - stored).max() <= SAME_VECTOR_TOLERANCE)


def rebuild_index(store: Store, index: NeighbourIndex) -> int:
    """Empty ``index`` and fill it from the vectors stored in the graph; returns its size.

    Raises:
        StoreError: faces without a stored embedding (``store_embeddings=False``): the index
            cannot be rebuilt from the graph.
    """
    index.delete(list(index.ids()))
    index.compact()
    ids = store.face_ids()
    vectors = []
    for start in range(0, len(ids), REBUILD_STEP):
        part = ids[start : start + REBUILD_STEP]
        faces = store.get_faces(part, with_embedding=True)
        missing = [fid for fid in part if faces.get(fid) is None or faces[fid].embedding is None]
        if missing:
            raise StoreError(
                f"the index does not match the store and {len(missing)} faces (e.g. {missing[0]!r}) have no "
                "stored embedding; restore the index directory or re-ingest with store_embeddings=True"
            )
        vectors.append(np.asarray([faces[fid].embedding for fid in part], dtype=np.float32))
    if vectors:  # an empty store leaves an empty index
        index.add(ids, np.vstack(vectors))
    index.flush()
    return len(index)
