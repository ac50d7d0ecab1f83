"""Segmented hnswlib: the same durable LSM machinery with HNSW graph segments.

Measured side by side with segmented Annoy (docs/benchmarks/index.md), HNSW reaches the
recall targets at a fraction of the query time. Differences from the Annoy engine:

1. a segment file is an hnswlib graph (``l2`` space; its squared distances are rooted),
   read into memory on open (hnswlib has no memory-mapped load);
2. a merge *extends* the largest member's graph with the other members' vectors, so a vector
   is inserted about once per tier it climbs instead of rebuilt with every merge;
3. tombstones are marked deleted inside the graph, so a query needs no over-fetching;
4. ``compact()`` rebuilds from live vectors only (drops every tombstone);
5. ``ef`` is calibrated per segment to ``target_recall`` (``_calibrate.py``), like Annoy's
   ``search_k``.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np

from graphcluster.errors import InvalidInput
from graphcluster.index._calibrate import calibrate
from graphcluster.index._core import SegmentedIndex
from graphcluster.index._segment import Segment

__all__ = ["SegmentedHnswIndex"]

DEFAULT_EF = 256  # without calibration: recall@10 ~0.98 on the 128-D benchmark data


class SegmentedHnswIndex(SegmentedIndex):
    """hnswlib graph segments + an exact numpy delta; same durability as the Annoy engine.

    A merge extends the largest member's graph with the others' vectors instead of building
    from scratch, so each vector is inserted about once per tier it climbs, and tombstones are
    marked inside the graph (no over-fetching).

    Args:
        path: the index directory (created if missing).
        dim: expected dimension (``None``: taken from the first batch).
        hnsw_m: graph degree ``M``.
        ef_construction: candidate list size while inserting.
        ef: candidate list size while searching, for every segment; ``None`` (default)
            calibrates each segment when it is built (``target_recall``).
        target_recall: recall@10 each segment is calibrated to reach on a sample of its own
            vectors (``_calibrate.py``); ``None`` uses ``ef = 256``.
        delta_size, merge_factor, max_dead_fraction, build_jobs, seed: as for
            :class:`SegmentedAnnoyIndex`.
    """

    engine = "hnsw"
    _kind = "hnsw"

    def __init__(
        self,
        path: str | os.PathLike[str],
        dim: int | None = None,
        *,
        hnsw_m: int = 16,
        ef_construction: int = 100,
        ef: int | None = None,
        target_recall: float | None = 0.97,
        delta_size: int | None = None,
        merge_factor: int = 4,
        max_dead_fraction: float = 0.2,
        build_jobs: int = -1,
        seed: int = 0,
    ) -> None:
        if importlib.util.find_spec("hnswlib") is None:  # an optional dependency
            raise InvalidInput(
                "the 'hnsw' index needs the hnswlib package: pip install 'hnswlib>=0.8.0', or use kind='annoy'"
            )
        if hnsw_m < 2 or ef_construction < 1 or (ef is not None and ef < 1):
            raise InvalidInput("hnsw_m must be >= 2, ef_construction and ef >= 1")
        if target_recall is not None and not 0 < target_recall <= 1:
            raise InvalidInput(f"target_recall must be in (0, 1], got {target_recall}")
        self.hnsw_m, self.ef_construction, self.ef = hnsw_m, ef_construction, ef
        self.target_recall = target_recall
        super().__init__(
            path, dim, delta_size=delta_size, merge_factor=merge_factor, max_dead_fraction=max_dead_fraction,
            build_jobs=build_jobs, seed=seed, hnsw_m=hnsw_m, ef_construction=ef_construction, ef=ef,
            target_recall=target_recall,
        )

    def _tune(self, seg: Segment) -> dict[str, Any]:
        if self.ef is not None or self.target_recall is None:
            return {}

        def search(queries: np.ndarray, kk: int, effort: int) -> np.ndarray:
            seg.ef = effort
            return seg.search(queries, kk, 0)[0]

        efforts = [16 * 2**j for j in range(10)]  # 16 .. 8192
        return {"ef": calibrate(seg, efforts, search, k=10, target=self.target_recall, seed=self.seed,
                                radius=self.recall_radius),
                "recall_radius": self.recall_radius}

    def _prepare(self, seg: Segment, built: dict[str, Any]) -> None:
        seg.ef = self.ef or built.get("ef") or DEFAULT_EF

    def _build_opts(self) -> dict[str, Any]:
        return {"hnsw_m": self.hnsw_m, "ef_construction": self.ef_construction}
