"""The first import: a large ``add_faces`` into an empty database, clustered in one pass.

Incremental ingest re-clusters the region of every chunk as it arrives, so a first import of a
whole library pays for thousands of regions, each looking at faces whose neighbours have not
arrived yet. When ``add_faces`` is given at least ``Settings.bootstrap_min`` new faces and the
database holds none, it takes this path instead (docs/architecture.md, "The first import"):

1. every vector enters the index, then every face's ``k`` nearest neighbours are looked up
   among *all* of them (batched queries). The thresholds are fitted as incremental ingest of
   the same faces would fit them: once the first ``YOUNG`` faces are in the index (the last fit
   of a young database), then the growth re-fit on all of them, with its hysteresis (values
   kept unless ``link`` moved by more than ``RESHUFFLE``): one call and batches of the same
   faces get the same values;
2. the faces, their SIMILAR edges and same-image cannot-links are written chunk by chunk
   (``CHUNK`` faces a transaction, an edge with the later of its two faces);
3. the faces are clustered ``SEEDS`` seeds at a time in the order given, each region followed
   by the growth re-check, as incremental ingest clusters its chunks: the faces of later
   chunks are left out of a region (``build_region``'s ``unseen``), so each region sees what
   it would have seen had the faces arrived in batches, but each face's edges to earlier
   faces are its true nearest, and no index work sits in between. (One
   region of everything, which is what ``cleanup()`` runs, scores lower on lfw_dlib128: the
   passes of later regions over earlier clusters are what lets lone faces join and fragments
   merge; docs/benchmarks/bootstrap.md.)

Crash contract: the call is noted (``add_call``, as any call of several chunks) and so is
the phase (meta ``bootstrap``: ``write``, then ``cluster`` with the chunks done). A kill while
writing keeps the chunks written; the next open drops the vectors never written from the
index, clusters the faces that were written (``resume``) and reports the call as
``stats().interrupted_add``; re-sending it stores exactly the missing faces (through the
incremental path: the database is no longer empty). A kill while clustering resumes on the next
open with the chunk after the last one noted done (a chunk cut off part-way is clustered again).
A failure that does not kill the process (the store goes away, the disk fills) is repaired
the same way at once, before it is raised. Not with Neo4j's vector index (``index="neo4j"``):
there a first import takes the incremental path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from graphcluster.calibration import YOUNG
from graphcluster.clustering import edge_weight
from graphcluster.errors import StoreError
from graphcluster.models import AddReport, FaceReport, SimilarEdge

if TYPE_CHECKING:
    from graphcluster.ingest import Ingest
    from graphcluster.regions import Reclusterer

__all__ = ["QUERY_STEP", "SEEDS", "bootstrap", "resume"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

QUERY_STEP = 20_000  # faces per batched neighbour query (bounds the Python lists of one answer)
SEEDS = 1_000  # seeds per clustering region


def bootstrap(ing: Ingest, ids: list[str], matrix: np.ndarray, metas: list[dict[str, Any]], batch_tag: str,
              report: AddReport, progress: Progress | None = None) -> None:
    """Steps 1-3 of the module docstring for the new faces ``ids`` (rows of ``matrix``).

    A failure part-way (a store that goes away, a full disk) is repaired at once, as the next
    open would repair a kill (``recovery.reconcile``: the vectors never written leave the index,
    the faces written are clustered, the call is noted as ``interrupted_add``), and raised."""
    try:
        _bootstrap(ing, ids, matrix, metas, batch_tag, report, progress)
    except BaseException:
        from graphcluster.recovery import reconcile

        try:
            reconcile(ing.regions, ing.index, rebuild=False)
        except Exception:  # the store itself failed: the next open repairs
            log.warning("a first import failed part-way and could not be repaired now; the next open repairs it")
        raise


def _bootstrap(ing: Ingest, ids: list[str], matrix: np.ndarray, metas: list[dict[str, Any]], batch_tag: str,
               report: AddReport, progress: Progress | None) -> None:
    from graphcluster.ingest import CHUNK, face_record, same_image_links

    store, index, keeper, k = ing.store, ing.index, ing.regions.thresholds, ing.settings.k
    n = len(ids)
    report.first_import = True
    store.set_meta({"bootstrap": {"batch": batch_tag, "phase": "write"}})
    keeper.prime()
    try:
        # the thresholds as incremental ingest of these faces would have them: the last fit of a
        # young database (its first YOUNG faces), then the growth re-fit, which keeps those values
        # unless the fit on every face moved ``link`` by more than RESHUFFLE
        young = min(n, YOUNG)
        index.add(ids[:young], matrix[:young])
        keeper.update()
        if young < n:
            index.add(ids[young:], matrix[young:])
        index.flush()
    except OSError as exc:
        raise StoreError(f"writing {n} vectors to the index failed ({exc.strerror or exc}); nothing was stored: "
                         "free disk space, then send the batch again") from exc
    pos = {fid: i for i, fid in enumerate(ids)}
    ea: list[np.ndarray] = []
    eb: list[np.ndarray] = []
    ed: list[np.ndarray] = []
    nearest = np.full(n, np.nan)
    kk = min(k + 1, n)
    for start in range(0, n, QUERY_STEP):
        rows = matrix[start:start + QUERY_STEP]
        nbr_ids, nbr_dist = index.query(rows, kk)
        for r, (row_ids, row_d) in enumerate(zip(nbr_ids, nbr_dist)):
            i = start + r
            js = [pos[o] for o in row_ids if o != ids[i]][:k]
            ds = [float(d) for o, d in zip(row_ids, row_d) if o != ids[i]][:k]
            if js:
                nearest[i] = ds[0]
                ea.append(np.full(len(js), i, dtype=np.int64))
                eb.append(np.asarray(js, dtype=np.int64))
                ed.append(np.asarray(ds, dtype=np.float64))
    a = np.concatenate(ea) if ea else np.zeros(0, np.int64)
    b = np.concatenate(eb) if eb else np.zeros(0, np.int64)
    d = np.concatenate(ed) if ed else np.zeros(0)
    del ea, eb, ed
    # each pair once, at its shortest distance; stored with the later of its two faces
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((d, lo, hi))
    lo, hi, d = lo[order], hi[order], d[order]
    first = np.ones(len(lo), dtype=bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    lo, hi, d = lo[first], hi[first], d[first]
    thresholds = keeper.update(nearest[~np.isnan(nearest)].tolist())
    if keeper.take_change() is not None:  # a move of the young fit: nothing is clustered yet to follow it
        keeper.change_done()

    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        s, e = np.searchsorted(hi, [start, stop])
        edges = [SimilarEdge(a=ids[x], b=ids[y], distance=float(dd), weight=edge_weight(float(dd), thresholds))
                 for x, y, dd in zip(lo[s:e].tolist(), hi[s:e].tolist(), d[s:e].tolist())]
        faces = [face_record(ids[i], matrix[i], metas[i], batch_tag, embedding=ing.settings.store_embeddings)
                 for i in range(start, stop)]
        links = same_image_links(store, faces) if ing.settings.same_image_cannot_link else []
        store.add_faces(faces, edges, links)
        if progress is not None:
            progress(stop, 2 * n)  # writing is the first half of the work, clustering the second
    store.set_meta({"bootstrap": {"batch": batch_tag, "phase": "cluster", "done": 0}})
    _cluster(ing.regions, ids, 0, report,
             None if progress is None else (lambda done, total: progress(n + done * n // max(total, 1), 2 * n)))
    store.set_meta({"bootstrap": None})
    placed = store.memberships(ids)
    for fid in ids:
        m = placed.get(fid)
        report.faces.append(FaceReport(face_id=fid, cluster_id=m.cluster_id if m else None,
                                       status=m.status if m else "unassigned", confidence=m.confidence if m else 0.0))


def _cluster(rc: Reclusterer, ids: Sequence[str], done: int, report: AddReport | None,
             progress: Progress | None) -> None:
    """Re-cluster ``ids`` ``SEEDS`` seeds at a time, from the ``done``-th chunk on, noting each one done."""
    batch = (rc.store.get_meta().get("bootstrap") or {}).get("batch")
    chunks = -(-len(ids) // SEEDS)
    pos = {f: i for i, f in enumerate(ids)}
    for c in range(done, chunks):
        # the faces of later chunks stay out, as they would be when these arrived in batches
        cut = (c + 1) * SEEDS

        def later(face: str, cut: int = cut) -> bool:
            return pos.get(face, -1) >= cut

        applied = rc.region(ids[c * SEEDS:cut], unseen=later)
        rc.recheck_grown(applied)
        _count(report, applied)
        rc.store.set_meta({"bootstrap": {"batch": batch, "phase": "cluster", "done": c + 1}})
        if progress is not None:
            progress(c + 1, chunks)


def _count(report: AddReport | None, applied: Any) -> None:
    if report is not None:
        report.clusters_created += applied.created
        report.clusters_changed += applied.changed
        report.reviews_opened += applied.reviews


def resume(rc: Reclusterer, note: Mapping[str, Any], call_ids: Sequence[str]) -> list[str]:
    """After a kill inside a bootstrap: cluster the faces of the call that were written (from
    the chunk after the last one done when the kill came while clustering); returns them."""
    written = rc.store.existing_face_ids(call_ids)
    stored = [f for f in call_ids if f in written]
    if stored:
        done = int(note.get("done", 0)) if note.get("phase") == "cluster" else 0
        _cluster(rc, stored, done, None, None)
    rc.store.set_meta({"bootstrap": None})
    return stored
