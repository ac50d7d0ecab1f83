"""Re-cluster the region around some faces and write what changed.

Every change of the graph ends here: a batch of new faces (``graphcluster.engine``), a human
decision (``graphcluster.decisions``), a cleanup, and a re-fit that moved the thresholds (the
faces it affects, as ``ThresholdKeeper.plan`` says). A :class:`Reclusterer` holds what that
needs — the store, its ``GraphView``, the thresholds in use and the settings — and the
counter that names new clusters. It calls the pure clustering core (``build_region`` +
``recluster``) and writes the result with ``graphcluster.writer.apply_result``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from graphcluster.calibration import BACKLOG_PER_BATCH, Move, ThresholdKeeper
from graphcluster.clustering import RegionResult, build_region, recluster
from graphcluster.clustering.questions import askable, propose_questions
from graphcluster.clustering.tuning import DEFAULT_TUNING, Tuning
from graphcluster.settings import Settings
from graphcluster.store.base import Store
from graphcluster.view import StoreView
from graphcluster.writer import Applied, apply_result

__all__ = ["Reclusterer", "recheck_level"]


def recheck_level(size: int, tuning: Tuning = DEFAULT_TUNING) -> int:
    """The size level of a cluster of ``size`` faces: -1 below ``tuning.recheck_min`` (or when
    it is 0: never re-checked), then j for sizes in ``[m x g**j, m x g**(j+1))`` with ``m`` =
    ``recheck_min`` and ``g`` = ``recheck_growth``."""
    m, g = tuning.recheck_min, tuning.recheck_growth
    if not m or size < m:
        return -1
    return int(math.floor(math.log(size / m) / math.log(g) + 1e-9))


class Reclusterer:
    """Re-clusters regions of one open store; the only writer of automatic cluster memberships.

    Attributes:
        store: the system of record.
        view: the store as the clustering core reads it.
        thresholds: the thresholds in use and the policy that re-fits them.
        settings: the algorithm's settings (region limit, seed, iterations, ...).
    """

    def __init__(self, store: Store, view: StoreView, thresholds: ThresholdKeeper, settings: Settings) -> None:
        self.store = store
        self.view = view
        self.thresholds = thresholds
        self.settings = settings
        self._cluster_seq: int | None = None  # the store's ``cluster_seq``, once read

    def region(self, seeds: Sequence[str], *, limit: int | None = None,
               unseen: Callable[[str], bool] | None = None) -> Applied:
        """Re-cluster the region around ``seeds`` and write what changed.

        ``limit``: the cluster size above which a cluster enters the region only in part
        (``Settings.region_limit`` when None); ``unseen``: stored faces to leave out of it
        (``build_region``).
        """
        thresholds = self.thresholds.current()
        region = build_region(self.view, list(seeds), thresholds, region_limit=limit or self.settings.region_limit,
                              tuning=self.settings.tuning, unseen=unseen)
        if self._cluster_seq is None:  # read once per open: this process is the only writer
            self._cluster_seq = int(self.store.get_meta().get("cluster_seq") or 0)
        ids = _ClusterIds(self._cluster_seq)
        result = recluster(
            region,
            thresholds,
            seed=self.settings.seed,
            max_iterations=self.settings.max_iterations,
            auto_confidence=self.thresholds.auto_confidence(),
            min_cluster_size=self.settings.min_cluster_size,
            new_id=ids.take,
            tuning=self.settings.tuning,
        )
        if ids.last != ids.first:
            # reserved before the clusters are written: a crash in between skips numbers, it
            # never hands one out twice
            self.store.set_meta({"cluster_seq": ids.last})
            self._cluster_seq = ids.last
        result.reviews = askable(list(result.reviews), region, result.labels) + propose_questions(
            region, result.labels, thresholds
        )
        return apply_result(self.store, result)

    def ask_around(self, seeds: Sequence[str]) -> int:
        """Propose review questions about the region around ``seeds`` from the clustering as it
        stands (nothing is re-clustered); returns how many questions never asked before were written."""
        thresholds = self.thresholds.current()
        region = build_region(self.view, list(seeds), thresholds, region_limit=self.settings.region_limit,
                              tuning=self.settings.tuning)
        labels = {f: c for f, (c, _status) in region.labels.items()}
        result = RegionResult(reviews=propose_questions(region, labels, thresholds), labels=labels)
        return apply_result(self.store, result).new_reviews

    def whole(self, seeds: Sequence[str]) -> Applied:
        """Re-cluster the region around ``seeds`` with the region limit raised to
        ``len(seeds) + 1``: a cluster no larger than that enters whole, so a decision about a
        whole cluster (its members are the seeds) sees all of it."""
        return self.region(seeds, limit=max(len(seeds) + 1, self.settings.region_limit))

    def recheck_grown(self, applied: Applied) -> int:
        """Re-check whole every unlocked cluster that a write (``applied``) made cross a size
        level (``recheck_level`` of ``Settings.tuning``); returns how many were re-checked.

        A batch's region holds a large cluster only in part (``build_region``), so a chain of
        look-alikes that grows a little at a time is never seen whole there. Re-clustered as
        its own region (``whole``: its members are the seeds, and the clusters around it enter
        whole too, so each member's nearest outsider is known), a crowd falls apart
        (``split_weak``) while one person stays whole. A cluster is re-checked each time it
        grows by ``recheck_growth``, so over its life the re-checks cost a few times its final
        size: a constant per face, whatever the size of the database. Nothing is re-checked
        while the link is a fallback: ``recluster`` then skips ``split_weak``, so the region
        would cost a batch's worth of work and change next to nothing.
        """
        tuning = self.settings.tuning
        due = [cid for cid, (old, new) in applied.grown.items()
               if recheck_level(new, tuning) > recheck_level(old, tuning)]
        if not due or self.thresholds.current().source == "fallback":
            # what takes a crowd apart is split_weak, and it does not run under a fallback link
            # (the same-person mode's upper tail, against which every person looks split)
            return 0
        records = self.store.get_clusters(due)
        done = 0
        for cid in sorted((c for c in due if c in records and not records[c].locked),
                          key=lambda c: (-records[c].size, c)):
            members = self.view.members([cid]).get(cid, [])  # an earlier re-check may have changed it
            if len(members) >= tuning.recheck_min:
                self.whole(members)
                done += 1
        return done

    def everything(self, faces: Sequence[str] | None = None) -> None:
        """Re-cluster every face of the store as one region; the backlog is then empty.

        ``faces``: every face id, when the caller has read them already.
        """
        ids = sorted(self.store.memberships(None) if faces is None else faces)
        if ids:
            self.region(ids, limit=len(ids) + 1)
        self.store.set_meta({"recluster_backlog": None})

    def follow(self, move: Move) -> None:
        """Re-cluster what a threshold move affects: everything at once, or queue the faces
        with an edge in the moved bands for later batches (the queue survives a restart)."""
        if move.everything:
            self.everything()
            self.thresholds.change_done()
            return
        faces: set[str] = set(self.store.get_meta().get("recluster_backlog") or [])
        for low, high in move.bands:
            faces.update(self.store.faces_linked_between(low, high, move.edge_limit))
        self.store.set_meta({"recluster_backlog": sorted(faces), "threshold_change": None})

    def follow_change(self) -> None:
        """Follow the last threshold move, when the thresholds moved since the last call."""
        change = self.thresholds.take_change()
        if change is not None:
            self.follow(self.thresholds.plan(*change))

    def drain_backlog(self) -> None:
        """Re-cluster the next ``BACKLOG_PER_BATCH`` faces a moved threshold affected."""
        backlog = self.store.get_meta().get("recluster_backlog")
        if not backlog:
            return
        todo, rest = backlog[:BACKLOG_PER_BATCH], backlog[BACKLOG_PER_BATCH:]
        self.region(todo)
        self.store.set_meta({"recluster_backlog": rest or None})


class _ClusterIds:
    """New cluster ids ``c-1``, ``c-2``, ... from the counter kept in the store's meta (``cluster_seq``).

    The same faces in the same batches give the same ids in any empty store, so whole runs
    repeat exactly (Chinese Whispers' ties and the audit draw read the ids). An id is never
    reused: emptied clusters are deleted, but the counter only grows. Databases made before
    the counter have ids of ``c`` and 12 hex digits, which a counter value never spells. The
    hyphen keeps them apart from face ids such as ``c1`` (``graphcluster show`` takes either).
    """

    def __init__(self, first: int) -> None:
        self.first = self.last = first

    def take(self) -> str:
        self.last += 1
        return f"c-{self.last}"
