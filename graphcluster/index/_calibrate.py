"""Self-calibration of a segment's search effort to a recall target, from its own vectors.

How much of a segment Annoy must inspect (``search_k``), or how wide hnswlib's candidate list
must be (``ef``), for a given recall depends on the data: on face-like embeddings it is far
more than the libraries' defaults, and more at 512-D than at 128-D. Since every segment keeps
its vectors, it can measure this itself when it is built:

1. draw ``sample`` items of the segment (fixed seed) and make each a query that is *not* an
   item: the normalised midpoint of the item and its nearest neighbour (like a new photo of a
   known face; an item queried for itself is found too easily by a graph search);
2. exact top ``k`` of each query within the segment (matrix products);
3. for increasing efforts (doubling), search and measure recall@k against step 2;
4. keep the effort one doubling *above* the first that reaches ``target`` (the largest tried
   otherwise): queries of new identities, far from every sample, need more than the sample
   shows; the owner records it in the manifest, so reopening needs no recalibration.

The cost is a few hundred searches per segment build, small next to the build itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from graphcluster.index._segment import Segment, exact_topk

__all__ = ["calibrate"]


def calibrate(
    seg: Segment,
    efforts: Iterable[int],
    search: Callable[[np.ndarray, int, int], np.ndarray],
    *,
    k: int = 10,
    target: float = 0.97,
    sample: int = 100,
    seed: int = 0,
) -> int:
    """One doubling above the smallest effort whose recall@k on a sample reaches ``target``.

    Args:
        seg: a built segment (its vectors are read).
        efforts: increasing candidate values (``search_k`` or ``ef``).
        search: ``search(queries, kk, effort) -> items`` (``(m, kk)`` item numbers).
        k: neighbours the recall is measured on.
        target: recall@k to reach.
        sample: queries drawn from the segment.
        seed: the draw's seed.

    Returns:
        The chosen effort.
    """
    tried = list(efforts)
    if seg.n <= k + 1:
        return tried[0]
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(seg.n, size=min(sample, seg.n), replace=False))
    items = np.asarray(seg.vectors[picks], dtype=np.float32)
    nearest, _ = exact_topk(seg.vectors, items, 2)
    other = np.where(nearest[:, 0] == picks, nearest[:, 1], nearest[:, 0])
    queries = items + np.asarray(seg.vectors[other], dtype=np.float32)
    queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    truth_items, _ = exact_topk(seg.vectors, queries, k)
    truth = [set(row) for row in truth_items.tolist()]
    total = sum(len(t) for t in truth)
    for i, effort in enumerate(tried):
        found = search(queries, k, effort)
        hits = sum(len(set(row) & t) for row, t in zip(found.tolist(), truth))
        if hits >= target * total:
            return tried[min(i + 1, len(tried) - 1)]  # one doubling of margin
    return tried[-1]
