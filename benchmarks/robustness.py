"""Does clustering hold on collections it was not developed on? (the robustness matrix)

For every cell of ``benchmarks/cells.py`` (resampled / transformed from lfw_dlib128) and every
seed:

1. graphcluster through the product API, default settings (``GraphCluster.open(tmpdir)``,
   embedded store, default index, no threshold given, no human input), ``add_faces`` in
   shuffled batches of 100 (the cell's arrival order);
2. in the same run, peers whose single threshold is picked *with the labels* (best BCubed F
   of a sweep), an advantage graphcluster does not get: batch Chinese Whispers (dlib
   semantics, all pairs under the threshold), the seed's 5-NN majority loop (same arrival
   order), and HDBSCAN (scikit-learn, ``min_cluster_size=2, min_samples=1``, no threshold);
3. per cell and method: auto P (pairwise precision among the faces graphcluster marked
   ``auto``), pairwise P / F, BCubed F, unassigned share, and graphcluster's thresholds and
   calibration confidence;
4. the bar per cell: auto P >= 0.99, BCubed F >= the best label-picked peer, unassigned share
   <= the cell's true singleton share + 0.05;
5. writes docs/benchmarks/robustness.md and docs/robustness.png (cells x methods).

The peers do not depend on graphcluster's code: their results are cached per cell and seed in
``var/robustness-peers.json`` (``--fresh-peers`` recomputes them).

Usage::

    .venv/bin/python benchmarks/robustness.py [--cells dev dense ...] [--seeds 0 1 2]
        [--no-peers] [--no-hdbscan] [--fresh-peers] [--no-write] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cells import CELLS, Cell  # noqa: E402
from common import DOCS, ROOT, code_version, machine, say, scores, watch_recheck, write_section  # noqa: E402
from quality import dlib_chinese_whispers, pairs_under, prior_knn, seed_reference  # noqa: E402

from graphcluster import GraphCluster  # noqa: E402

BATCH = 100
PEER_CACHE = ROOT / "var" / "robustness-peers.json"
MAX_PAIRS = 30_000_000  # a Chinese Whispers threshold linking more pairs than this is past any sensible one


# -- graphcluster -------------------------------------------------------------------------------
def auto_precision(truth: np.ndarray, pred: list[str], status: list[str]) -> float:
    """Pairwise precision over the faces marked ``auto`` only (what the user is told is settled)."""
    pairs: Counter[tuple[str, str]] = Counter()
    sizes: Counter[str] = Counter()
    for t, p, s in zip(truth.tolist(), pred, status):
        if s == "auto":
            pairs[(p, t)] += 1
            sizes[p] += 1
    tp = sum(v * (v - 1) / 2 for v in pairs.values())
    pp = sum(v * (v - 1) / 2 for v in sizes.values())
    return tp / pp if pp else 1.0


def run_graphcluster(cell: Cell) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="gc-robust-")
    recheck = watch_recheck()
    try:
        t0 = time.perf_counter()
        with GraphCluster.open(tmp) as gc:
            for start in range(0, len(cell.ids), BATCH):
                gc.add_faces(cell.vectors[start:start + BATCH], ids=cell.ids[start:start + BATCH])
            secs = time.perf_counter() - t0
            recheck_s, _rechecked = recheck.take()
            detail = gc.assignments(detail=True)
            th = gc.stats().thresholds
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    pred, status = [], []
    for fid in cell.ids:
        a = detail.get(fid)
        status.append(a.status if a is not None else "unassigned")
        pred.append(a.cluster_id if a is not None and a.cluster_id is not None else f"u:{fid}")
    s = scores(cell.labels, pred)
    st = Counter(status)
    return dict(s, autoP=auto_precision(cell.labels, pred, status), unassigned=st["unassigned"] / len(pred),
                auto=st["auto"] / len(pred), seconds=secs, recheck_seconds=recheck_s, link=th.get("link"), review=th.get("review"),
                source=th.get("source"), confidence=(th.get("confidence") or {}).get("level"),
                refits=(th.get("confidence") or {}).get("refits"))


# -- peers (label-picked single thresholds) -----------------------------------------------------
def _scale(cell: Cell) -> float:
    """Median random-pair distance of the cell: the sweeps are laid out in its units."""
    rng = np.random.default_rng(0)
    v = cell.vectors
    i, j = rng.integers(0, len(v), 4000), rng.integers(0, len(v), 4000)
    keep = i != j
    return float(np.median(np.linalg.norm(v[i[keep]] - v[j[keep]], axis=1)))


def _sweep(cell: Cell, fn, grid: np.ndarray) -> tuple[float, dict[str, float]]:
    """Best BCubed F over ``grid``, refined once around the best point."""
    best: tuple[float, dict[str, float]] | None = None
    step = float(grid[1] - grid[0])
    for g in (grid, None):
        if g is None:
            assert best is not None
            g = best[0] + step * np.array([-0.75, -0.5, -0.25, 0.25, 0.5, 0.75])
        for th in g:
            s = fn(float(th))
            if s is None:
                break
            if best is None or s["bF"] > best[1]["bF"]:
                best = (float(th), s)
    assert best is not None
    return best


def run_peers(cell: Cell, hdbscan: bool) -> dict[str, Any]:
    truth, x, n = cell.labels, cell.vectors, len(cell.ids)
    grid = _scale(cell) * np.linspace(0.40, 0.85, 19)
    out: dict[str, Any] = {}

    def cw(th: float) -> dict[str, float] | None:
        ii, jj = pairs_under(x, th)
        if len(ii) > MAX_PAIRS:
            return None
        return scores(truth, dlib_chinese_whispers(n, ii, jj))

    th, s = _sweep(cell, cw, grid)
    out["batch CW"] = dict(s, threshold=th)
    say(f"  {cell.name}: batch CW best L2 < {th:.3f}: bF {s['bF']:.4f}")
    idx, d2 = prior_knn(x)
    th, s = _sweep(cell, lambda t: scores(truth, seed_reference(idx, d2, t * t)), grid)
    out["kNN loop"] = dict(s, threshold=th)
    say(f"  {cell.name}: kNN loop best L2 < {th:.3f}: bF {s['bF']:.4f}")
    if hdbscan:
        from sklearn.cluster import HDBSCAN

        lab = HDBSCAN(min_cluster_size=2, min_samples=1, copy=True).fit_predict(x)
        s = scores(truth, [f"n{i}" if c < 0 else str(int(c)) for i, c in enumerate(lab)])
        out["HDBSCAN"] = dict(s, threshold=None)
        say(f"  {cell.name}: HDBSCAN bF {s['bF']:.4f}")
    return out


# -- one cell -----------------------------------------------------------------------------------
def one(job: tuple[str, int, bool, bool, dict[str, Any] | None]) -> dict[str, Any]:
    name, seed, peers, hdbscan, cached = job
    cell = CELLS[name](seed)
    say(f"{name} seed {seed}: {len(cell.ids)} faces, {cell.vectors.shape[1]}-D, singletons {cell.singleton_share:.3f}")
    gcr = run_graphcluster(cell)
    say(f"{name} seed {seed}: graphcluster autoP {gcr['autoP']:.4f} F {gcr['F']:.4f} bF {gcr['bF']:.4f} "
        f"unassigned {gcr['unassigned']:.3f} link {gcr['link']} ({gcr['source']}) in {gcr['seconds']:.0f} s")
    peer = cached
    if peers and (peer is None or (hdbscan and "HDBSCAN" not in peer)):
        peer = run_peers(cell, hdbscan)
    return {"cell": name, "seed": seed, "n": len(cell.ids), "dim": int(cell.vectors.shape[1]),
            "singletons": cell.singleton_share, "graphcluster": gcr, "peers": peer or {}}


# -- report -------------------------------------------------------------------------------------
def _mean(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.fmean(vals) if vals else None


def _f(x: Any, fmt: str = ".3f") -> str:
    return "–" if x is None else format(x, fmt)


def table(results: list[dict[str, Any]], cells: list[str]) -> tuple[list[str], dict[str, dict[str, float]]]:
    lines = ["| cell | faces | seeds | singletons | graphcluster auto P | pairwise P | F | BCubed F | unassigned "
             "| link / review (source) | confidence | best peer BCubed F (method, threshold) | bar |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    plot: dict[str, dict[str, float]] = {}
    for name in cells:
        rs = [r for r in results if r["cell"] == name]
        if not rs:
            continue
        g = [r["graphcluster"] for r in rs]
        m = {k: _mean([x[k] for x in g]) for k in ("autoP", "P", "F", "bF", "unassigned", "link", "review")}
        single = _mean([r["singletons"] for r in rs]) or 0.0
        peer_means: dict[str, tuple[float, float | None]] = {}
        for method in ("batch CW", "kNN loop", "HDBSCAN"):
            vals = [r["peers"][method] for r in rs if method in r["peers"]]
            if len(vals) == len(rs):
                peer_means[method] = (statistics.fmean(v["bF"] for v in vals), _mean([v["threshold"] for v in vals]))
        plot[name] = {"graphcluster": m["bF"] or 0.0} | {k: v[0] for k, v in peer_means.items()}
        if peer_means:
            best = max(peer_means, key=lambda k: peer_means[k][0])
            bval, bth = peer_means[best]
            peer_txt = f"{bval:.4f} ({best}{', L2 < ' + format(bth, '.3f') if bth else ''})"
        else:
            best, bval, peer_txt = "", None, "–"
        ok = [m["autoP"] is not None and m["autoP"] >= 0.99, m["unassigned"] is not None
              and m["unassigned"] <= single + 0.05]
        if bval is not None:
            ok.append(m["bF"] is not None and m["bF"] >= bval)
        fails = [w for w, o in zip(("auto P", "unassigned", "BCubed F"), ok) if not o]
        bar = "met" if not fails else "missed: " + ", ".join(fails)
        sources = ", ".join(sorted({str(x["source"]) for x in g}))
        conf = ", ".join(sorted({str(x["confidence"]) for x in g}))
        lines.append(f"| {name} | {rs[0]['n']:,} ({rs[0]['dim']}-D) | {len(rs)} | {single:.3f} | {_f(m['autoP'], '.4f')} "
                     f"| {_f(m['P'], '.4f')} | {_f(m['F'], '.4f')} | {_f(m['bF'], '.4f')} | {_f(m['unassigned'])} "
                     f"| {_f(m['link'])} / {_f(m['review'])} ({sources}) | {conf} | {peer_txt} | {bar} |")
    return lines, plot


def draw(plot: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = ["graphcluster", "batch CW", "kNN loop", "HDBSCAN"]
    names = list(plot)
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(names)), 4.2))
    w = 0.2
    for i, m in enumerate(methods):
        vals = [plot[c].get(m, np.nan) for c in names]
        label = {"graphcluster": "graphcluster (defaults, no labels)", "HDBSCAN": "HDBSCAN (min_cluster_size 2)"}.get(
            m, m + " (threshold picked with labels)")
        ax.bar(np.arange(len(names)) + (i - 1.5) * w, vals, w, label=label)
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylabel("BCubed F (mean over seeds)")
    ax.set_ylim(0.7, 1.0)
    ax.set_title("Default settings on collections graphcluster was not developed on")
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    say(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-hdbscan", action="store_true")
    ap.add_argument("--fresh-peers", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    cache: dict[str, Any] = {}
    if PEER_CACHE.exists() and not args.fresh_peers:
        cache = json.loads(PEER_CACHE.read_text())
    jobs = [(c, s, not args.no_peers, not args.no_hdbscan, cache.get(f"{c}:{s}")) for c in args.cells
            for s in args.seeds]
    say(f"{len(jobs)} runs; {machine()}")
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, jobs))
    for r in results:
        if r["peers"]:
            cache[f"{r['cell']}:{r['seed']}"] = r["peers"]
    PEER_CACHE.parent.mkdir(parents=True, exist_ok=True)
    PEER_CACHE.write_text(json.dumps(cache, indent=1))
    lines, plot = table(results, args.cells)
    print("\n".join(lines))
    if args.no_write:
        return
    draw(plot, DOCS / "robustness.png")
    doc = [
        "## Robustness: default settings on collections it was not developed on",
        "",
        f"Command: `.venv/bin/python benchmarks/robustness.py --cells {' '.join(args.cells)} --seeds "
        f"{' '.join(map(str, args.seeds))}` ({time.perf_counter() - started:.0f} s). Machine: {machine()}; "
        f"{code_version()}.",
        "",
        "Every cell is built from lfw_dlib128 only (`benchmarks/cells.py` says how). graphcluster runs "
        "through the product API with default settings (embedded store, default index, no threshold, no "
        "human input), batches of 100 in the cell's arrival order. The peers' single threshold is picked "
        "with the labels (best BCubed F of a sweep): an advantage graphcluster does not get. Values are "
        "means over the seeds; unassigned faces count as singletons. auto P is the pairwise precision "
        "among the faces graphcluster marked `auto`. The peers do not depend on graphcluster's code: "
        "they are read from `var/robustness-peers.json` when a run with `--fresh-peers` left them there.",
        "",
        "Bar per cell: auto P >= 0.99; BCubed F >= the best label-picked peer; unassigned share <= the "
        "cell's true singleton share + 0.05.",
        "",
        *lines,
        "",
        "![BCubed F per cell and method](../robustness.png)",
        "",
        "Per seed (graphcluster). s: seconds of the whole ingest; re-check: the seconds of it spent in the",
        "growth re-check (`Reclusterer.recheck_grown`, docs/clustering.md) and their share, measured in the same run.",
        "",
        "| cell | seed | auto P | pairwise F | BCubed F | unassigned | link | source | confidence | re-fits | s | re-check s (share) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        g = r["graphcluster"]
        doc.append(f"| {r['cell']} | {r['seed']} | {g['autoP']:.4f} | {g['F']:.4f} | {g['bF']:.4f} | "
                   f"{g['unassigned']:.3f} | {_f(g['link'])} | {g['source']} | {g['confidence']} | "
                   f"{_f(g['refits'], 'd') if isinstance(g['refits'], int) else '–'} | {g['seconds']:.0f} | "
                   + (f"{g['recheck_seconds']:.1f} ({g['recheck_seconds'] / max(g['seconds'], 1e-9):.0%}) |"
                      if g.get("recheck_seconds") is not None else "– |"))
    write_section("robustness", doc)


if __name__ == "__main__":
    main()
