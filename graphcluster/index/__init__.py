"""The neighbour index: string face ids in, nearest neighbours by L2 distance out.

``SegmentedAnnoyIndex`` (immutable Annoy segments + an exact delta) is the design's engine,
``SegmentedHnswIndex`` the same machinery with hnswlib graphs (faster at equal recall, see
docs/benchmarks/index.md), ``ExactIndex`` the brute-force reference. Each keeps its vectors in
its directory, which is the vectors' home (see docs/index.md).
"""

from __future__ import annotations

import os
from typing import Any

from graphcluster.errors import InvalidInput
from graphcluster.index.base import NeighbourIndex
from graphcluster.index.exact import ExactIndex
from graphcluster.index.hnsw import SegmentedHnswIndex
from graphcluster.index.segmented import SegmentedAnnoyIndex
from graphcluster.index._segment import Segment, exact_topk
from graphcluster.index.validate import validate_vectors

__all__ = [
    "NeighbourIndex",
    "SegmentedAnnoyIndex",
    "SegmentedHnswIndex",
    "ExactIndex",
    "validate_vectors",
    "open_index",
    "exact_topk",
    "Segment",
]

_KINDS: dict[str, Any] = {
    "annoy": SegmentedAnnoyIndex,
    "hnsw": SegmentedHnswIndex,
    "exact": ExactIndex,
}


def open_index(
    path: str | os.PathLike[str], kind: str = "annoy", dim: int | None = None, **opts: Any
) -> NeighbourIndex:
    """Open (or create) the index in ``path``.

    Args:
        path: index directory.
        kind: ``"annoy"`` (segmented Annoy), ``"hnsw"`` (segmented hnswlib graphs) or
            ``"exact"`` (brute force).
        dim: expected vector dimension, or ``None`` to take it from the first batch.
        **opts: engine options (``n_trees``, ``search_k``, ``delta_size``, ``merge_factor``...).

    Raises:
        InvalidInput: unknown kind, or ``dim`` differs from the stored one.
        StoreError: the directory holds another kind of index, or is damaged.
        StoreBusy: another writer holds the directory.
    """
    try:
        cls = _KINDS[kind]
    except KeyError:
        raise InvalidInput(f"unknown index kind {kind!r}; use one of {sorted(_KINDS)}") from None
    index: NeighbourIndex = cls(path, dim, **opts)
    return index
