"""Segmented Annoy: immutable, memory-mapped Annoy segments plus an exact numpy delta.

Annoy cannot add items after ``build()`` (its maintainers: not planned), so every segment is
built once and never changed; the LSM machinery (delta, write-ahead log, manifest, tiered
compaction, tombstones, crash recovery) lives in ``_core.py``. Steps of a query per segment:

1. ``get_nns_by_vector(q, kk, search_k)`` on the memory-mapped forest (angular metric);
2. Annoy's angular distance is ``sqrt(2 - 2 cos)``, already the L2 distance of unit vectors;
3. the core merges every segment's top ``kk`` with the delta's exact top ``k`` and drops
   tombstones.

``search_k`` (nodes inspected per segment) decides recall. On face-like data (clusters in a
narrow cone, high intrinsic dimension) Annoy needs to inspect about a quarter of a segment for
recall@10 >= 0.95, far beyond its default, so each new segment calibrates its own ``search_k``
to ``target_recall`` on a sample of its vectors (``_calibrate.py``) and records it in the
manifest; see docs/benchmarks/index.md for the trade-off against hnswlib. A search whose
effort reaches ``Segment.scan_fraction`` (0.05) of its segment scans the vectors instead
(exact and cheaper there; docs/index.md, step 4).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from graphcluster.errors import InvalidInput
from graphcluster.index._calibrate import calibrate
from graphcluster.index._core import SegmentedIndex
from graphcluster.index._segment import Segment

__all__ = ["SegmentedAnnoyIndex", "SegmentedIndex", "SEARCH_K_FACTOR"]

SEARCH_K_FACTOR = 10  # Annoy's own default is k * n_trees; face-like data needs far more
CALIBRATION_K = 10  # recall is calibrated for the k the engine asks for (Settings.k)


class SegmentedAnnoyIndex(SegmentedIndex):
    """Immutable Annoy segments (angular metric, memory-mapped) + an exact numpy delta.

    Args:
        path: the index directory (created if missing); it is the vectors' home.
        dim: expected dimension (``None``: taken from the first batch, then fixed).
        n_trees: Annoy trees per segment.
        search_k: Annoy nodes inspected per segment and query, for every segment; ``None``
            (default) calibrates each segment when it is built (``target_recall``).
        target_recall: recall@10 each segment is calibrated to reach on a sample of its own
            vectors (``_calibrate.py``); ``None`` uses ``search_fraction`` instead.
        search_fraction: without calibration, ``search_k = max(10 * k * n_trees,
            search_fraction * segment size)``. On face-like data Annoy needs to inspect about a
            quarter of a segment for recall@10 >= 0.95 (docs/benchmarks/annoy_scan.md). Any effort
            of ``Segment.scan_fraction`` (0.05) of a segment or more scans it instead, so with
            the default 0.25 the segments are scanned.
        delta_size: rows kept in the exact delta before a segment is built (``None``: a 10 MB
            budget, 20,000 rows at 128-D, 5,000 at 512-D; every query scans the delta).
        merge_factor: segments of one size tier merged together (tiered compaction).
        max_dead_fraction: a segment with more tombstones than this is rewritten.
        build_jobs: threads Annoy uses to build a segment (-1: all cores).
        seed: Annoy's random seed (same data + seed -> same forest).
    """

    engine = "annoy"
    _kind = "annoy"

    def __init__(
        self,
        path: str | os.PathLike[str],
        dim: int | None = None,
        *,
        n_trees: int = 50,
        search_k: int | None = None,
        target_recall: float | None = 0.97,
        search_fraction: float = 0.25,
        delta_size: int | None = None,
        merge_factor: int = 4,
        max_dead_fraction: float = 0.2,
        build_jobs: int = -1,
        seed: int = 0,
    ) -> None:
        if n_trees < 1 or (search_k is not None and search_k < 1) or not 0 < search_fraction <= 1:
            raise InvalidInput("n_trees and search_k must be >= 1 and search_fraction in (0, 1]")
        if target_recall is not None and not 0 < target_recall <= 1:
            raise InvalidInput(f"target_recall must be in (0, 1], got {target_recall}")
        self.n_trees = n_trees
        self.search_k = search_k
        self.target_recall = target_recall
        self.search_fraction = search_fraction
        super().__init__(
            path, dim, delta_size=delta_size, merge_factor=merge_factor, max_dead_fraction=max_dead_fraction,
            build_jobs=build_jobs, seed=seed, n_trees=n_trees, search_k=search_k, target_recall=target_recall,
            search_fraction=search_fraction,
        )

    def _build_opts(self) -> dict[str, Any]:
        return {"n_trees": self.n_trees}

    def _tune(self, seg: Segment) -> dict[str, Any]:
        if self.search_k is not None or self.target_recall is None or seg.ann is None:
            return {}
        ann = seg.ann

        def search(queries: np.ndarray, kk: int, effort: int) -> np.ndarray:
            return np.array([ann.get_nns_by_vector(q.tolist(), kk, effort) for q in queries], dtype=np.int64)

        start = CALIBRATION_K * self.n_trees
        # an effort of SCAN_FRACTION of the segment or more is served by a scan: no need to try more
        cap = max(start, math.ceil(min(seg.scan_fraction, 2.0) * seg.n))
        efforts = [start * 2**j for j in range(40) if start * 2**j < cap] + [cap]
        return {"search_k": calibrate(seg, efforts, search, k=CALIBRATION_K, target=self.target_recall,
                                      seed=self.seed, radius=self.recall_radius),
                "recall_radius": self.recall_radius}

    def _prepare(self, seg: Segment, built: dict[str, Any]) -> None:
        seg.search_k = built.get("search_k")

    def _search_k(self, seg: Segment, kk: int) -> int:
        if self.search_k is not None:
            return self.search_k
        if seg.search_k is not None:  # calibrated for k = 10: scale with the k asked for
            return max(seg.search_k, int(seg.search_k * kk / CALIBRATION_K))
        return max(SEARCH_K_FACTOR * kk * self.n_trees, int(math.ceil(self.search_fraction * seg.n)))
