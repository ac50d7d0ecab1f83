"""Peer clustering methods on the synthetic FaceNet-512-like set (``facenet512`` of quality_core.py).

The data is ``quality_core.load(0, None, "facenet512")``, i.e. ``make_faces(12000, dim=512,
mean_size=2.4, spread=0.7, spread_sd=0.35, centre_rank=8, lookalike_share=0.3,
lookalike_distance=1.0, seed=0)`` -- the same faces and labels as the ``facenet512`` row of
docs/benchmarks/quality_core.md. graphcluster itself runs first, incremental in batches of 100
without labels (``quality_core.run``, ~30 s); every peer below sees all 12,000 faces at once:

1. batch Chinese Whispers with dlib's semantics (``quality.dlib_chinese_whispers``: all pairs
   under an L2 threshold, unweighted edges, random visiting order, at most 100 passes, seed 0)
   over a sweep of thresholds;
2. connected components of the same threshold graphs (= single linkage cut at the threshold);
3. HDBSCAN (scikit-learn, min_cluster_size 2) -- only if scikit-learn is installed in the venv;
4. agglomerative average linkage (UPGMA on L2 distances) cut at a sweep of distance thresholds:
   scipy / scikit-learn when installed, otherwise an exact numpy nearest-neighbour-chain
   implementation in this file (Lance-Williams updates on the full 12k x 12k matrix, ~1.2 GB).

The best threshold of each sweep is picked *with the labels* (highest pairwise F), so these rows
are upper bounds for the method, not what it would get unsupervised. Metrics are
``quality_core.scores`` (pairwise and BCubed P/R/F; noise / singletons are their own clusters).
Prints markdown tables on stdout (progress on stderr); writes nothing.

Usage::

    .venv/bin/python benchmarks/peers_facenet.py [--no-average] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fmt_scores, machine, say, scores  # noqa: E402
from quality import dlib_chinese_whispers, pairs_under, sk_labels  # noqa: E402
from quality_core import load, run  # noqa: E402

GRAPH_SWEEP = [round(v, 3) for v in np.arange(0.80, 1.1501, 0.025)]
AVERAGE_SWEEP = [round(v, 3) for v in np.arange(0.85, 1.3001, 0.025)]
HEADER = "| method | parameters | pairwise P | R | F | BCubed P | R | F | clusters | seconds |"
RULE = "|---|---|---|---|---|---|---|---|---|---|"


def components(n: int, ii: np.ndarray, jj: np.ndarray) -> list[str]:
    """Connected components (union-find) of the graph with edges ``ii[k] - jj[k]``."""
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in zip(ii.tolist(), jj.tolist()):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [str(find(a)) for a in range(n)]


def average_linkage_merges(x: np.ndarray, cap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact average-linkage (UPGMA) merges of height <= ``cap`` on L2 distances, by the
    nearest-neighbour chain (valid for average linkage, which is reducible).

    Returns (a, b, height): a merge joins the clusters containing faces ``a`` and ``b`` (each
    cluster is represented by one of its faces). Cutting the dendrogram at ``t <= cap`` = joining
    all merges with height <= t. A cluster whose nearest neighbour is farther than ``cap`` is
    retired: every later distance to it is an average of distances > cap, so it never merges
    below ``cap``.
    """
    n = len(x)
    d = np.empty((n, n), dtype=np.float64)
    for s in range(0, n, 2000):
        blk = x[s:s + 2000] @ x.T
        d[s:s + 2000] = np.sqrt(np.maximum(2.0 - 2.0 * blk.astype(np.float64), 0.0))
    np.fill_diagonal(d, np.inf)
    size = np.ones(n, dtype=np.float64)
    alive = np.ones(n, dtype=bool)
    left = n
    chain: list[int] = []
    ma, mb, mh = [], [], []
    while left > 1:
        if not chain:
            chain.append(int(np.flatnonzero(alive)[0]))
        a = chain[-1]
        row = d[a]
        b = int(np.argmin(row))
        h = float(row[b])
        if len(chain) > 1 and row[chain[-2]] <= h:  # ties: prefer the previous chain element
            b, h = chain[-2], float(row[chain[-2]])
        if h > cap:  # every chain element's nearest neighbour is at least this far: retire them
            for c in chain:
                alive[c] = False
                d[c, :] = np.inf
                d[:, c] = np.inf
                left -= 1
            chain = []
            continue
        if len(chain) > 1 and b == chain[-2]:
            chain.pop()
            chain.pop()
            na, nb = size[a], size[b]
            new = (na * d[a] + nb * d[b]) / (na + nb)
            new[a] = np.inf
            new[b] = np.inf
            new[~alive] = np.inf
            d[a, :] = new
            d[:, a] = new
            d[b, :] = np.inf
            d[:, b] = np.inf
            size[a] = na + nb
            alive[b] = False
            left -= 1
            ma.append(a)
            mb.append(b)
            mh.append(h)
        else:
            chain.append(b)
    del d
    return np.array(ma, dtype=np.int64), np.array(mb, dtype=np.int64), np.array(mh)


def row(method: str, params: str, s: dict[str, Any], secs: float | None) -> str:
    return f"| {method} | {params} | {fmt_scores(s)} | {'–' if secs is None else f'{secs:.1f}'} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="first N faces only (for a quick try)")
    ap.add_argument("--no-average", action="store_true", help="skip average linkage")
    args = ap.parse_args()
    x, truth = load(0, args.limit, "facenet512")
    n = len(x)
    say(f"facenet512: {n} faces, {len(np.unique(truth))} labels; {machine()}")
    # graphcluster on the same faces, incremental (batches of 100), default settings, no labels:
    # run here (quality_core.run, as in the facenet512 row of docs/benchmarks/quality_core.md)
    t0 = time.perf_counter()
    gc = run(0, args.limit, data="facenet512")
    gc_link = round(float(gc["link"]), 4)  # type: ignore[arg-type]
    best_rows: list[str] = [row("graphcluster (incremental, batches of 100)",
                                f"calibrated link {gc_link} (no labels)", gc, time.perf_counter() - t0)]
    sweep_rows: list[str] = []
    notes: list[str] = []

    # 1-2. threshold graphs: Chinese Whispers and connected components
    t0 = time.perf_counter()
    thresholds = sorted(set(GRAPH_SWEEP) | {gc_link})
    ii, jj = pairs_under(x, max(thresholds))
    dist = np.linalg.norm(x[ii] - x[jj], axis=1)
    pair_s = time.perf_counter() - t0
    say(f"{len(ii):,} pairs under L2 {max(thresholds)} in {pair_s:.1f} s")
    cw, cc = [], []
    for t in thresholds:
        keep = dist < t
        ei, ej = ii[keep], jj[keep]
        t1 = time.perf_counter()
        s = scores(truth, dlib_chinese_whispers(n, ei, ej))
        cw.append((t, s, time.perf_counter() - t1, len(ei)))
        t1 = time.perf_counter()
        s2 = scores(truth, components(n, ei, ej))
        cc.append((t, s2, time.perf_counter() - t1, len(ei)))
        say(f"L2 < {t:.3f} ({len(ei):,} edges): CW P {s['P']:.4f} F {s['F']:.4f} bF {s['bF']:.4f}; "
            f"CC P {s2['P']:.4f} F {s2['F']:.4f} bF {s2['bF']:.4f}")
    for name, res in (("batch Chinese Whispers (dlib semantics)", cw), ("connected components", cc)):
        best = max(res, key=lambda r: r[1]["F"])
        best_rows.append(row(name, f"best (labels): L2 < {best[0]:.3f}", best[1], best[2]))
        at_link = next(r for r in res if r[0] == gc_link)
        best_rows.append(row(name, f"at graphcluster's link: L2 < {gc_link}", at_link[1], at_link[2]))
        sweep_rows += [row(name, f"L2 < {t:.3f} ({m:,} edges)", s, secs) for t, s, secs, m in res]
    notes.append(f"Threshold graphs: one exact pair search under L2 {max(thresholds)} took {pair_s:.1f} s "
                 "(not included in the per-row seconds).")

    # 3. HDBSCAN
    try:
        from sklearn.cluster import HDBSCAN
    except ImportError:
        notes.append("HDBSCAN: skipped, scikit-learn is not installed in the venv.")
        say("scikit-learn not installed: HDBSCAN skipped")
    else:
        t1 = time.perf_counter()
        lab = HDBSCAN(min_cluster_size=2, copy=True).fit_predict(x)
        s = scores(truth, sk_labels(lab))
        best_rows.append(row("HDBSCAN (scikit-learn)", "min_cluster_size 2, min_samples default", s,
                             time.perf_counter() - t1))

    # 4. average linkage
    if not args.no_average:
        t1 = time.perf_counter()
        impl = "numpy NN-chain, this file"
        try:
            from scipy.cluster.hierarchy import fcluster, linkage
        except ImportError:
            ma, mb, mh = average_linkage_merges(x, max(AVERAGE_SWEEP))
            build = time.perf_counter() - t1
            cut: Any = lambda t: components(n, ma[mh <= t], mb[mh <= t])  # noqa: E731
        else:
            impl = "scipy linkage"
            z = linkage(x.astype(np.float64), method="average", metric="euclidean")
            build = time.perf_counter() - t1
            cut = lambda t: [str(c) for c in fcluster(z, t, criterion="distance")]  # noqa: E731
        say(f"average linkage ({impl}) built in {build:.1f} s")
        av = []
        for t in AVERAGE_SWEEP:
            t2 = time.perf_counter()
            s = scores(truth, cut(t))
            av.append((t, s, time.perf_counter() - t2 + build))
            sweep_rows.append(row(f"average linkage ({impl})", f"distance <= {t:.3f}", s, None))
            say(f"average <= {t:.3f}: P {s['P']:.4f} F {s['F']:.4f} bF {s['bF']:.4f}")
        best = max(av, key=lambda r: r[1]["F"])
        best_rows.append(row(f"average linkage ({impl})", f"best (labels): distance <= {best[0]:.3f}", best[1],
                             best[2]))
        notes.append(f"Average linkage: dendrogram built once ({build:.1f} s, included in its seconds), cut at "
                     "each threshold.")

    print(f"facenet512 (make_faces seed 0), {n} faces, all at once. {machine()}\n")
    print(HEADER, RULE, *best_rows, sep="\n")
    print("\nSweeps (seconds: clustering at that threshold only):\n")
    print(HEADER, RULE, *sweep_rows, sep="\n")
    print()
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
