"""Self-calibration of a segment's search effort to a recall target, from its own vectors.

How much of a segment Annoy must inspect (``search_k``), or how wide hnswlib's candidate list
must be (``ef``), for a given recall depends on the data: on face-like embeddings it is far
more than the libraries' defaults, and more at 512-D than at 128-D. Since every segment keeps
its vectors, it can measure this itself when it is built:

1. draw ``sample`` items of the segment (fixed seed) and make each a query that is *not* an
   item: the normalised midpoint of the item and its nearest neighbour (like a new photo of a
   known face; an item queried for itself is found too easily by a graph search);
2. exact top ``k`` of each query within the segment (matrix products);
3. for increasing efforts (doubling), search and measure recall against step 2: recall@k, or,
   when the owner knows the distance below which neighbours matter (``radius``: the
   clustering's ``review`` threshold; no edge farther than that joins, votes or widens a
   region) and the sample has at least ``RADIUS_MIN`` true neighbours that close besides the
   query's two parents (found by any search), the recall of those. A graph or tree search
   finds close neighbours long before the far end of the top 10 (impostors at
   random-pair-like distances); measured on 320k synthetic 128-D faces
   (docs/benchmarks/index.md): hnswlib reaches 0.997 of the neighbours closer than 0.55 at
   ef = 128 while recall@10 needs ef = 1024 for 0.98, and Annoy 0.996 at search_k = 4,000
   against recall@10 0.87;
4. keep the effort one doubling *above* the first that reaches ``target`` (the largest tried
   otherwise): queries of new identities, far from every sample, need more than the sample
   shows; the owner records it in the manifest, so reopening needs no recalibration.

The cost is a few hundred searches per segment build, small next to the build itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from graphcluster.index._segment import Segment, exact_topk

__all__ = ["calibrate", "RADIUS_MIN"]

RADIUS_MIN = 50  # true neighbours within the radius needed to measure their recall (else recall@k)


def calibrate(
    seg: Segment,
    efforts: Iterable[int],
    search: Callable[[np.ndarray, int, int], np.ndarray],
    *,
    k: int = 10,
    target: float = 0.97,
    sample: int = 100,
    seed: int = 0,
    radius: float | None = None,
) -> int:
    """One doubling above the smallest effort whose recall on a sample reaches ``target``.

    Args:
        seg: a built segment (its vectors are read).
        efforts: increasing candidate values (``search_k`` or ``ef``).
        search: ``search(queries, kk, effort) -> items`` (``(m, kk)`` item numbers).
        k: neighbours the recall is measured on.
        target: recall to reach.
        sample: queries drawn from the segment.
        seed: the draw's seed.
        radius: measure the recall of the true neighbours closer than this (when the sample
            has at least ``RADIUS_MIN`` of them); ``None``: recall@k.

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
    truth_items, truth_d = exact_topk(seg.vectors, queries, k)
    truth = [set(row) for row in truth_items.tolist()]
    if radius is not None:
        # the query's two parents are always this close and found by any search: they would
        # inflate the recall, so only the other close neighbours count
        close = [set(row[d < radius].tolist()) - {int(p), int(o)}
                 for row, d, p, o in zip(truth_items, truth_d, picks, other)]
        if sum(len(t) for t in close) >= RADIUS_MIN:
            truth = close
    total = sum(len(t) for t in truth)
    for i, effort in enumerate(tried):
        found = search(queries, k, effort)
        hits = sum(len(set(row) & t) for row, t in zip(found.tolist(), truth))
        if hits >= target * total:
            return tried[min(i + 1, len(tried) - 1)]  # one doubling of margin
    return tried[-1]
