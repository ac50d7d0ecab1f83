"""When an Annoy segment should scan its vectors instead: the cost of a search against its effort.

Steps, for each size N:

1. ``make_faces(N + 1000, dim, seed=1)`` (the growth benchmark's FaceNet-like faces); the first
   N go into a ``SegmentedAnnoyIndex`` (default settings: segments built and calibrated to
   recall@10 0.97 as the engine does), the last 1,000 are the queries (new faces, one batch);
2. exact top 10 of every query over the N faces (the truth for recall);
3. on the largest segment: 1,000 queries at ``search_k`` = a share of the segment (Annoy, on
   the engine's query threads) against one scan of the segment's stored vectors
   (``exact_topk``, BLAS): seconds per batch and recall@10;
4. the whole index queried as the engine does, with the scan switched off
   (every ``Segment.scan_fraction = inf``), with the default, and always on (``0``);
5. print the tables and write docs/benchmarks/annoy_scan.md.

Usage::

    .venv/bin/python benchmarks/annoy_scan.py [--sizes 100000 400000] [--dim 128] [--no-write]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import code_version, machine, say, write_section  # noqa: E402

from graphcluster.index import Segment, SegmentedAnnoyIndex, exact_topk  # noqa: E402
from graphcluster.synth import make_faces  # noqa: E402

K = 10
SHARES = (0.01, 0.03, 0.1, 0.25, 0.5, 1.0)


def brute_top(matrix: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Reference top ``k`` by a plain argpartition per block (independent of ``exact_topk``)."""
    out = []
    for lo in range(0, len(queries), 100):
        sims = queries[lo:lo + 100] @ np.asarray(matrix).T
        out.append(np.argpartition(-sims, k - 1, axis=1)[:, :k])
    return np.concatenate(out)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found.tolist(), truth.tolist())]))


def timed(fn, reps: int = 2):  # type: ignore[no-untyped-def]
    """Best of ``reps`` runs (the machine is shared): (seconds, result)."""
    best, out = float("inf"), None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


@contextmanager
def scan_at(segments: Sequence[Segment], fraction: float) -> Iterator[None]:
    """Set every segment's ``scan_fraction`` for the block (inf: never scan; 0: always scan)."""
    saved = [seg.scan_fraction for seg in segments]
    for seg in segments:
        seg.scan_fraction = fraction
    try:
        yield
    finally:
        for seg, old in zip(segments, saved):
            seg.scan_fraction = old


def run(n: int, dim: int) -> tuple[list[str], list[str], str]:
    data = make_faces(n + 1000, dim=dim, seed=1)
    base, queries = data.vectors[:n], data.vectors[n:]
    tmp = tempfile.mkdtemp(prefix="gc-annoy-scan-")
    try:
        index = SegmentedAnnoyIndex(Path(tmp) / "idx", dim)
        t0 = time.perf_counter()
        for lo in range(0, n, 20_000):
            index.add(data.ids[lo:lo + 20_000], base[lo:lo + 20_000])
        index.flush()
        say(f"N={n:,}: index built in {time.perf_counter() - t0:.0f} s")
        segs = sorted(index.segments, key=lambda s: -s.n)
        default = segs[0].scan_fraction
        layout = ", ".join(f"{s.n:,} (search_k {s.search_k:,} = {s.search_k / s.n:.2f})" for s in segs)
        seg = segs[0]
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        truth_seg = brute_top(seg.vectors, q, K)
        part = []
        scan_s, (items, _) = timed(lambda: exact_topk(seg.vectors, q, K))
        for share in SHARES:
            sk = max(1, int(share * seg.n))
            with scan_at(segs, float("inf")):
                s, (found, _) = timed(lambda: seg.search(q, K, sk))
            part.append(f"| {n:,} | {seg.n:,} | {share:.2f} ({sk:,}) | {s:.2f} | {recall(found, truth_seg):.4f} | "
                        f"{scan_s:.2f} | x{s / scan_s:.2f} |")
            say(part[-1])
        truth_all = brute_top(base / np.linalg.norm(base, axis=1, keepdims=True), q, K)
        ids = np.array(data.ids)
        whole = []
        for label, frac in (("Annoy only (scan off)", float("inf")),
                            (f"default (scan_fraction = {default})", default), ("scan always", 0.0)):
            with scan_at(segs, frac):
                s, (got, _) = timed(lambda: index.query(queries, K))
            pos = {fid: i for i, fid in enumerate(data.ids[:n])}
            found = np.array([[pos[f] for f in row] + [-1] * (K - len(row)) for row in got])
            whole.append(f"| {n:,} | {label} | {s:.2f} | {recall(found, truth_all):.4f} |")
            say(whole[-1])
        del ids
        index.close()
        return part, whole, layout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 400_000])
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    parts, wholes, layouts = [], [], []
    for n in args.sizes:
        p, w, lay = run(n, args.dim)
        parts += p
        wholes += w
        layouts.append(f"- N = {n:,}: segments {lay}")
    head1 = ["| N | largest segment | search_k share (nodes) | Annoy s / 1,000 queries | recall@10 | scan s | "
             "Annoy / scan |", "|---|---|---|---|---|---|---|"]
    head2 = ["| N | search | s / 1,000 queries | recall@10 |", "|---|---|---|---|"]
    print("\n".join(head1 + parts + [""] + head2 + wholes))
    if args.no_write:
        return
    write_section("annoy_scan", [
        "## Annoy search or a scan of the segment",
        "",
        f"Command: `.venv/bin/python benchmarks/annoy_scan.py --sizes {' '.join(map(str, args.sizes))} --dim "
        f"{args.dim}`. Machine: {machine()}; {code_version()}.",
        "",
        f"{args.dim}-D `make_faces` faces (the growth benchmark's), 1,000 new faces queried as one batch (Annoy on "
        "the engine's query threads, the scan a BLAS matrix product over the segment's memory-mapped vectors). "
        "Best of 2 runs each. Calibrated layout (the engine's defaults, recall@10 target 0.97):",
        "",
        *layouts,
        "",
        "On the largest segment, against the share of it Annoy is asked to inspect:",
        "",
        *head1, *parts,
        "",
        "The whole index, as the engine queries it:",
        "",
        *head2, *wholes,
    ])


if __name__ == "__main__":
    main()
