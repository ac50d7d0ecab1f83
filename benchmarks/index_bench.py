"""Neighbour-index benchmark: segmented Annoy vs hnswlib vs exact numpy, side by side.

Steps, for each dimension (128, 512) and size N:

1. Generate FaceNet-like data: identities are centres in a common cone on the unit sphere
   (real embeddings are not centred), faces are noisy members with a per-identity and per-face
   spread, identity sizes are skewed (many small, a few large). Queries are *new* faces of
   known identities, as in an ingest batch.
2. Ground truth by exact batched search; the clustering threshold is the equal-error distance
   between same-identity and different-identity pairs of the generator.
3. Per engine: sustained adds (batches of ``--batch``, every segment build and compaction
   included), close, reopen (open + first query), single-row queries on one thread (p50/p99),
   recall@10 against exact, recall of the exact top-10 neighbours within the threshold, disk
   and resident memory per vector.
4. Print one table and write docs/benchmarks/index.md.

Run: ``.venv/bin/python benchmarks/index_bench.py`` (100k; add ``--million`` for 1M).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread for queries: set before numpy loads BLAS

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from graphcluster.index import ExactIndex, SegmentedAnnoyIndex, SegmentedHnswIndex  # noqa: E402

K = 10
ENGINES: dict[str, Any] = {"annoy": SegmentedAnnoyIndex, "hnsw": SegmentedHnswIndex, "exact-index": ExactIndex}


# ------------------------------------------------------------------ synthetic data
def generate(
    n: int, d: int, seed: int = 0, mean_size: float = 8.0, decay: float = 0.35
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors and their identity labels.

    Variation (between identities and within one) follows a power-law spectrum, std of the
    j-th principal direction ~ (j+1)**-decay in a random basis, as in real face embeddings
    (their PCA spectra decay; isotropic noise, ``decay=0``, is the worst case for tree-based
    search and is available with ``--isotropic``).
    """
    rng = np.random.default_rng(seed)
    # spread s and cone rho give same-person / different-person distances like a 128-D dlib
    # model (~0.3 / ~0.6) or a 512-D FaceNet model (~0.85 / ~1.25) on unit vectors
    s, rho = (0.23, 0.87) if d <= 256 else (0.75, 0.24)
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    scale = (np.arange(d) + 1.0) ** -decay
    scale *= np.sqrt(d / np.sum(scale**2))  # mean square 1: s keeps its meaning

    def shaped(m: int) -> np.ndarray:
        return (rng.normal(size=(m, d)) * scale) @ basis.T / np.sqrt(d)

    n_id = max(1, int(n / mean_size))
    mu = rng.normal(size=d)
    mu /= np.linalg.norm(mu)
    r = shaped(n_id)
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    centres = np.sqrt(rho) * mu + np.sqrt(1 - rho) * r
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = rng.lognormal(0, 1.0, n_id)
    ident = rng.choice(n_id, size=n, p=weights / weights.sum())
    spread = s * rng.lognormal(0, 0.25, n_id)[ident] * rng.lognormal(0, 0.15, n)
    x = np.empty((n, d), dtype=np.float32)
    for lo in range(0, n, 100_000):  # chunks keep the float64 temporaries small
        hi = min(n, lo + 100_000)
        v = centres[ident[lo:hi]] + spread[lo:hi, None] * shaped(hi - lo)
        x[lo:hi] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return x, ident


def threshold(x: np.ndarray, ident: np.ndarray, seed: int = 1) -> tuple[float, float, float]:
    """The link threshold (0.1% of different-identity pairs below it) and the two medians."""
    rng = np.random.default_rng(seed)
    order = np.argsort(ident, kind="stable")
    starts = np.searchsorted(ident[order], ident)
    counts = np.bincount(ident)[ident]
    a = rng.integers(0, len(x), 200_000)
    b_same = order[starts[a] + rng.integers(0, counts[a])]
    keep = b_same != a
    same = np.linalg.norm(x[a[keep]] - x[b_same[keep]], axis=1)
    b = rng.integers(0, len(x), 200_000)
    diff = np.linalg.norm(x[a] - x[b], axis=1)[ident[a] != ident[b]]
    # a high-precision link threshold: 1 in 1,000 different-identity pairs falls below it
    t = float(np.quantile(diff, 0.001))
    return t, float(np.median(same)), float(np.median(diff))


def exact_truth(x: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k rows and distances (batched matrix products)."""
    top = np.zeros((len(q), k), dtype=np.int64)
    dist = np.zeros((len(q), k), dtype=np.float32)
    for lo in range(0, len(q), 256):
        sims = q[lo : lo + 256] @ x.T
        part = np.argpartition(-sims, k, axis=1)[:, :k]
        ps = np.take_along_axis(sims, part, axis=1)
        o = np.argsort(-ps, axis=1)
        top[lo : lo + 256] = np.take_along_axis(part, o, axis=1)
        dist[lo : lo + 256] = np.sqrt(np.maximum(0, 2 - 2 * np.take_along_axis(ps, o, axis=1)))
    return top, dist


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def disk(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# ------------------------------------------------------------------ engines
@dataclass
class Result:
    engine: str
    settings: str
    adds_per_s: float = float("nan")
    reopen_s: float = float("nan")
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    recall10: float = float("nan")
    recall_t: float = float("nan")
    disk_b: float = float("nan")
    mem_b: float = float("nan")
    extra: dict[str, Any] = field(default_factory=dict)


def score(found: list[np.ndarray], top: np.ndarray, dist: np.ndarray, t: float, res: Result) -> None:
    hits = within = within_hit = 0
    for f, tr, dd in zip(found, top, dist):
        fs = set(f.tolist())
        hits += len(fs & set(tr.tolist()))
        near = tr[dd <= t]
        within += len(near)
        within_hit += len(fs & set(near.tolist()))
    res.recall10 = hits / top.size
    res.recall_t = within_hit / max(within, 1)
    res.extra["within_per_query"] = within / len(top)


def timed_queries(fn: Any, q: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    out, ms = [], np.zeros(len(q))
    for i in range(len(q)):
        row = q[i : i + 1]
        t0 = time.perf_counter()
        out.append(fn(row))
        ms[i] = (time.perf_counter() - t0) * 1e3
    return out, ms


def open_engine(kind: str, path: Path, dim: int, opts: dict[str, Any]) -> tuple[Any, Any]:
    """(object to keep alive, single-row query function returning int ids) for a built index."""
    if kind == "hnswlib":
        import hnswlib

        index = hnswlib.Index(space="l2", dim=dim)
        index.load_index(str(path), max_elements=0)
        index.set_ef(opts["ef"])
        index.set_num_threads(1)
        return index, lambda row: index.knn_query(row, K, num_threads=1)[0][0].astype(np.int64)
    cls = ENGINES[kind]
    gc_index = cls(path, **opts)
    return gc_index, lambda row: np.array([int(f) for f in gc_index.query(row, K)[0][0]], dtype=np.int64)


def serve(args: Any) -> None:
    """Child process: reopen an index, time single-row queries, report RSS (a fresh process)."""
    opts = json.loads(args.opts)
    q = np.load(args.qfile)
    before = rss()
    t0 = time.perf_counter()
    index, fn = open_engine(args.serve, args.path, q.shape[1], opts)
    fn(q[:1])
    reopen = time.perf_counter() - t0
    got, ms = timed_queries(fn, q)
    found = np.full((len(q), K), -1, dtype=np.int64)
    for i, g in enumerate(got):
        found[i, : len(g)] = g
    np.savez(args.result, found=found, ms=ms, reopen=reopen, mem=rss() - before)
    if hasattr(index, "close"):
        index.close()


def reopen_and_query(kind: str, path: Path, q: np.ndarray, opts: dict[str, Any], work: Path, res: Result,
                     truth: Any, t: float, n: int) -> None:
    qfile, result = work / "q.npy", work / "result.npz"
    np.save(qfile, q)
    subprocess.run([sys.executable, __file__, "--serve", kind, "--path", str(path), "--qfile", str(qfile),
                    "--opts", json.dumps(opts), "--result", str(result)], check=True)
    with np.load(result) as r:
        res.reopen_s, res.mem_b = float(r["reopen"]), float(r["mem"]) / n
        ms = r["ms"]
        res.p50_ms, res.p99_ms = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
        score(list(r["found"]), *truth, t, res)


def run_segmented(kind: str, x: np.ndarray, q: np.ndarray, truth: Any, t: float, args: Any, work: Path,
                  opts: dict[str, Any]) -> Result:
    path = work / kind
    cls = ENGINES[kind]
    res = Result(f"graphcluster {kind}", ", ".join(f"{k}={v}" for k, v in opts.items()) or "defaults")
    ids = [str(i) for i in range(len(x))]
    t0 = time.perf_counter()
    with cls(path, x.shape[1], **opts) as index:
        for lo in range(0, len(x), args.batch):
            index.add(ids[lo : lo + args.batch], x[lo : lo + args.batch])
        index.flush()
        res.adds_per_s = len(x) / (time.perf_counter() - t0)
        info = index.info()
        res.extra["segments"] = info["segments"]
        res.extra["delta"] = info["delta"]
    built = [seg.get("built", {}) for seg in json.loads((path / "manifest.json").read_text())["segments"]]
    tuned = [b.get("search_k", b.get("ef")) for b in built if "search_k" in b or "ef" in b]
    if tuned:
        res.extra["calibrated search_k/ef per segment"] = tuned
    reopen_and_query(kind, path, q, opts, work, res, truth, t, len(x))
    res.disk_b = disk(path) / len(x)
    shutil.rmtree(path)
    return res


def run_hnswlib(x: np.ndarray, q: np.ndarray, truth: Any, t: float, args: Any, work: Path) -> Result:
    import hnswlib

    m, efc, ef = args.hnsw_m, args.hnsw_efc, args.hnsw_ef
    res = Result("hnswlib (one graph)", f"M={m}, ef_construction={efc}, ef={ef}; add threads=1")
    index = hnswlib.Index(space="l2", dim=x.shape[1])
    t0 = time.perf_counter()
    index.init_index(max_elements=len(x), M=m, ef_construction=efc, random_seed=0)
    for lo in range(0, len(x), args.batch):
        index.add_items(x[lo : lo + args.batch], np.arange(lo, min(len(x), lo + args.batch)), num_threads=1)
    path = work / "hnsw.bin"
    index.save_index(str(path))
    res.adds_per_s = len(x) / (time.perf_counter() - t0)
    del index
    reopen_and_query("hnswlib", path, q, {"ef": ef}, work, res, truth, t, len(x))
    res.disk_b = path.stat().st_size / len(x)
    path.unlink()
    return res


def run_numpy(x: np.ndarray, q: np.ndarray, n_single: int) -> Result:
    res = Result("exact numpy", f"{n_single} single rows timed", recall10=1.0, recall_t=1.0)
    _, ms = timed_queries(lambda row: exact_truth(x, row, K), q[:n_single])
    res.p50_ms, res.p99_ms = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
    t0 = time.perf_counter()
    exact_truth(x, q, K)
    res.extra["batched_ms_per_query"] = (time.perf_counter() - t0) * 1e3 / len(q)
    res.mem_b = res.disk_b = x.shape[1] * 4.0
    return res


# ------------------------------------------------------------------ report
HEADER = ("| dim | N | engine | settings | adds/s | reopen s | p50 ms | p99 ms | recall@10 | recall ≤ t "
          "| disk B/vec | RSS B/vec |\n|---|---|---|---|---|---|---|---|---|---|---|---|")


def row(d: int, n: int, r: Result) -> str:
    def f(v: float, fmt: str) -> str:
        return "–" if v != v else format(v, fmt)

    return (f"| {d} | {n:,} | {r.engine} | {r.settings} | {f(r.adds_per_s, ',.0f')} | {f(r.reopen_s, '.3f')} "
            f"| {f(r.p50_ms, '.3f')} | {f(r.p99_ms, '.3f')} | {f(r.recall10, '.4f')} | {f(r.recall_t, '.4f')} "
            f"| {f(r.disk_b, ',.0f')} | {f(r.mem_b, ',.0f')} |")


def parse_opts(text: str | None) -> dict[str, Any]:
    """``"n_trees=20,search_k=5000"`` -> ``{"n_trees": 20, "search_k": 5000}``."""
    out: dict[str, Any] = {}
    for part in filter(None, (text or "").split(",")):
        key, value = part.split("=")
        out[key] = json.loads(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[100_000])
    ap.add_argument("--million", action="store_true", help="also run N = 1,000,000")
    ap.add_argument("--dims", type=int, nargs="+", default=[128, 512])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=1000, help="rows per add() call")
    ap.add_argument("--engines", default="annoy,hnsw,hnswlib,exact",
                    help="comma list of annoy, hnsw (graphcluster engines), exact-index, hnswlib, exact (numpy)")
    ap.add_argument("--annoy", default=None, help="SegmentedAnnoyIndex options, e.g. n_trees=20,search_k=10000")
    ap.add_argument("--hnsw", default=None, help="SegmentedHnswIndex options, e.g. ef=128,delta_size=5000")
    ap.add_argument("--hnsw-m", type=int, default=16)
    ap.add_argument("--hnsw-ef", type=int, default=256)
    ap.add_argument("--hnsw-efc", type=int, default=100)
    ap.add_argument("--isotropic", action="store_true", help="isotropic noise (worst case for trees)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs/benchmarks/index.md")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--qfile", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--opts", help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args)
        return
    sizes = sorted(set(args.n + ([1_000_000] if args.million else [])))
    engines = args.engines.split(",")
    opts = {"annoy": parse_opts(args.annoy), "hnsw": parse_opts(args.hnsw), "exact-index": {}}
    work = Path(tempfile.mkdtemp(prefix="index-bench-", dir=args.workdir))
    lines, notes = [], []
    print(HEADER)
    try:
        for d in args.dims:
            for n in sizes:
                allx, ident = generate(n + args.queries, d, decay=0.0 if args.isotropic else 0.35)
                x, q = allx[:n], allx[n:]
                t, same, diff = threshold(x, ident[:n])
                truth = exact_truth(x, q, K)
                notes.append(f"- {d}-D, N={n:,}: threshold t = {t:.3f} (median same-identity distance {same:.3f}, "
                             f"different {diff:.3f}); exact top-{K} neighbours within t per query: "
                             f"{(truth[1] <= t).sum() / len(q):.1f}")
                for engine in engines:
                    if engine in ENGINES:
                        r = run_segmented(engine, x, q, truth, t, args, work, opts[engine])
                    elif engine == "hnswlib":
                        r = run_hnswlib(x, q, truth, t, args, work)
                    elif engine == "exact":
                        r = run_numpy(x, q, min(len(q), 200 if n <= 200_000 else 50))
                    else:
                        raise SystemExit(f"unknown engine {engine!r}")
                    line = row(d, n, r)
                    lines.append(line)
                    print(line, flush=True)
                    if r.extra:
                        notes.append(f"  - {r.engine}: " + ", ".join(
                            f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.extra.items()))
                del allx, x, q
                gc.collect()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for note in notes:
        print(note)
    write_report(args, lines, notes)


# How to read the page (written by hand, kept by every rerun; the figures are in the tables above).
NOTES = [
    "Reading the table: the cores are shared with other work, so absolute times move from run to",
    "run; compare engines within one run. `recall@10` is against the exact top 10; `recall ≤ t` counts",
    "only the exact top-10 neighbours closer than the threshold t, the neighbours that can join a",
    "cluster. The segmented engines (defaults) calibrate their search effort per segment to recall@10",
    "0.97 on a sample of the segment's vectors (docs/index.md), so their query cost follows the data.",
    "`disk B/vec` includes the raw float32 vectors and the ids the segments keep; `RSS B/vec` is",
    "measured after reopening and running the queries.",
]


def write_report(args: Any, lines: list[str], notes: list[str]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import code_version, machine

    cmd = ".venv/bin/python benchmarks/index_bench.py " + " ".join(sys.argv[1:])
    text = [
        "## Neighbour index",
        "",
        f"Command: `{cmd.strip()}`. Machine: {machine()}; {code_version()}.",
        "",
        f"One query thread, single-row queries, k = {K}, "
        f"{args.queries} queries (new faces of known identities), adds in batches of {args.batch} "
        "(segment builds and compactions included); reopen, queries and RSS measured in a fresh process "
        "(RSS counts the pages a process touched: memory-mapped Annoy pages only when used).",
        "",
        HEADER,
        *lines,
        "",
        "Data and per-engine details:",
        "",
        *notes,
        "",
        *NOTES,
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
