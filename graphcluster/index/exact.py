"""Exact (brute-force) neighbour index: the reference engine, and the right one for small stores.

It shares the segmented index's durability (write-ahead log, atomic manifest, immutable
segments, tombstones, crash cleanup) but its segments are plain float32 matrices searched
with one matrix product per segment, so its answers are exact. Steps of a query:

1. ``sims = Q @ V.T`` per segment and for the delta;
2. ``argpartition`` for the top ``k`` per row, then sort them;
3. L2 distance of unit vectors: ``d = sqrt(2 - 2 cos)``;
4. merge across segments, dropping tombstones (as in ``segmented.py``).

Cost: ``O(N d)`` per query; fine up to a few hundred thousand vectors, and batched queries
use BLAS.
"""

from __future__ import annotations

import os

from graphcluster.index._core import SegmentedIndex

__all__ = ["ExactIndex"]


class ExactIndex(SegmentedIndex):
    """Brute-force numpy search over durable float32 segments.

    Args:
        path: the index directory (created if missing).
        dim: expected dimension (``None``: taken from the first batch).
        delta_size: rows kept in the in-memory delta before they are written as a segment.
        merge_factor: segments of one size tier merged together.
    """

    engine = "exact"
    _kind = "exact"

    def __init__(
        self,
        path: str | os.PathLike[str],
        dim: int | None = None,
        *,
        delta_size: int = 50_000,
        merge_factor: int = 4,
        max_dead_fraction: float = 0.2,
    ) -> None:
        super().__init__(
            path, dim, delta_size=delta_size, merge_factor=merge_factor, max_dead_fraction=max_dead_fraction
        )
