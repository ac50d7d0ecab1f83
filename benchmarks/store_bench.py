"""Store write throughput and read latency, for every store.

Steps:
1. Grow the store to each size in ``--sizes`` in batches of ``--batch`` faces: each face has a
   128-D float32 embedding and ``--k`` SIMILAR edges to random earlier faces (or faces of its own
   batch); each batch is also assigned to clusters of ~20 faces with ``apply_clustering``.
   Writing is timed per call: faces/s and edges/s of ``add_faces``, memberships/s of
   ``apply_clustering``.
2. At each size, time the reads the engine makes per batch, for ``--batch`` random stored ids:
   ``existing_face_ids``, ``similar_edges``, ``memberships``, ``constraint_links``; the best of
   ``--repeats`` runs. A read that does not grow with the size is what the indexes are for.
3. Print a table and write ``docs/benchmarks/stores.md``.

Run: ``.venv/bin/python benchmarks/store_bench.py --sizes 10000 100000 --neo4j bolt://127.0.0.1:7687``
(omit ``--neo4j`` to measure SQLite only).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from graphcluster.models import ClusterRecord, FaceRecord, Membership, SimilarEdge
from graphcluster.store import Neo4jStore, SQLiteStore
from graphcluster.store.base import Store

READS = ("existing_face_ids", "similar_edges", "memberships", "constraint_links")


def grow(store: Store, start: int, stop: int, batch: int, k: int, rng: np.random.Generator,
         timings: dict[str, list[float]]) -> None:
    """Add faces ``start..stop`` in batches, timing ``add_faces`` and ``apply_clustering``."""
    for lo in range(start, stop, batch):
        hi = min(lo + batch, stop)
        vecs = rng.standard_normal((hi - lo, 128)).astype(np.float32)
        faces = [FaceRecord(id=f"f{i:07d}", dim=128, image=f"img/{i // 3}.jpg", batch=f"b{lo}",
                            metadata={"camera": "c1"}, embedding=vecs[i - lo].tolist()) for i in range(lo, hi)]
        edges = []
        for i in range(lo, hi):
            for j in rng.integers(0, max(i, 1), size=k) if i > 0 else []:
                if j != i:
                    d = float(rng.uniform(0.2, 1.0))
                    edges.append(SimilarEdge(a=f"f{i:07d}", b=f"f{int(j):07d}", distance=d, weight=1 - d / 2))
        t = time.perf_counter()
        store.add_faces(faces, edges)
        dt = time.perf_counter() - t
        timings["faces"].append(len(faces) / dt)
        timings["edges"].append(len(edges) / dt)
        clusters = [ClusterRecord(id=f"c{lo}_{c}") for c in range(0, hi - lo, 20)]
        ms = [Membership(face_id=f.id, cluster_id=f"c{lo}_{(n // 20) * 20}", status="auto", confidence=0.8)
              for n, f in enumerate(faces)]
        t = time.perf_counter()
        store.apply_clustering(ms, clusters)
        timings["memberships"].append(len(ms) / (time.perf_counter() - t))


def read_latency(store: Store, n: int, batch: int, repeats: int, rng: np.random.Generator) -> dict[str, float]:
    """Best-of-``repeats`` milliseconds of each read for ``batch`` random stored ids.

    The minimum, as timeit recommends: on a shared machine the slower runs measure the neighbours.
    """
    out: dict[str, float] = {}
    for name in READS:
        fn: Callable[[list[str]], object] = getattr(store, name)
        times = []
        for _ in range(repeats):
            ids = [f"f{int(i):07d}" for i in rng.choice(n, size=min(batch, n), replace=False)]
            t = time.perf_counter()
            fn(ids)
            times.append(time.perf_counter() - t)
        out[name] = min(times) * 1000
    ids = [f"f{int(i):07d}" for i in rng.choice(n, size=min(batch, n), replace=False)]
    out["edges_per_read"] = float(len(store.similar_edges(ids)))
    return out


def run(kind: str, make: Callable[[], Store], sizes: list[int], batch: int, k: int, repeats: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    rows = []
    store = make()
    try:
        store.clear()
        done = 0
        for n in sizes:
            timings: dict[str, list[float]] = {"faces": [], "edges": [], "memberships": []}
            grow(store, done, n, batch, k, rng, timings)
            done = n
            row = {"store": kind, "n": n, **{f"{k_}/s": statistics.median(v) for k_, v in timings.items()}}
            row.update(read_latency(store, n, batch, repeats, rng))
            rows.append(row)
            print(fmt_row(row), flush=True)
        store.clear()
    finally:
        store.close()
    return rows


HEADER = ("| store | faces in store | add_faces faces/s | add_faces edges/s | apply_clustering memberships/s | "
          + " | ".join(f"{r} ms" for r in READS) + " | edges per similar_edges read |")


def fmt_row(r: dict[str, Any]) -> str:
    return (f"| {r['store']} | {r['n']:,} | {r['faces/s']:,.0f} | {r['edges/s']:,.0f} | {r['memberships/s']:,.0f} | "
            + " | ".join(f"{r[x]:.1f}" for x in READS) + f" | {r['edges_per_read']:,.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--neo4j", help="bolt:// URI of a Neo4j server to measure too; it is EMPTIED, so never "
                    "point it at a server holding data (start a spare one: NEO4J_BOLT_PORT=17687 "
                    "NEO4J_DATA_DIR=/tmp/bench-neo4j scripts/neo4j start)")
    ap.add_argument("--user", default=None)
    ap.add_argument("--password", default=None)
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/stores.md"))
    args = ap.parse_args()
    sizes = sorted(args.sizes)
    print(HEADER)
    print("|" + "---|" * HEADER.count(" | ") + "---|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += run("sqlite", lambda: SQLiteStore(Path(tmp)), sizes, args.batch, args.k, args.repeats)
    if args.neo4j:
        auth = (args.user, args.password) if args.user else None
        rows += run("neo4j", lambda: Neo4jStore(args.neo4j, auth=auth), sizes, args.batch, args.k, args.repeats)
    write(args, rows)


def growth(rows: list[dict[str, Any]]) -> list[str]:
    """One line per store: each read's latency at the largest size over the smallest (1.0 = flat)."""
    out = []
    for kind in dict.fromkeys(r["store"] for r in rows):
        mine = [r for r in rows if r["store"] == kind]
        if len(mine) > 1:
            lo, hi = mine[0], mine[-1]
            ratios = ", ".join(f"{x} x{hi[x] / lo[x]:.2f}" for x in READS)
            out.append(f"- {kind}, read latency at {hi['n']:,} faces / at {lo['n']:,} faces: {ratios}")
    return out


def environment() -> str:
    """Versions that change the figures beside ``machine()``'s: SQLite, the Neo4j driver and its Rust codec."""
    from importlib import metadata

    try:
        rust = "with neo4j-rust-ext " + metadata.version("neo4j-rust-ext")
    except metadata.PackageNotFoundError:
        rust = "without neo4j-rust-ext"
    return (f"SQLite {sqlite3.sqlite_version}, neo4j driver "
            f"{metadata.version('neo4j')} {rust}")


def write(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import code_version, machine

    cmd = ".venv/bin/python benchmarks/store_bench.py --sizes " + " ".join(map(str, args.sizes))
    if args.neo4j:
        cmd += f" --neo4j {args.neo4j}"
    server = ("; Neo4j 5.26 Community (neo4j-harness, as `scripts/neo4j start` runs it, page cache 512 MiB) on "
              "the same machine" if args.neo4j else "")
    intro = (
        f"Command: `{cmd}`. Machine: {machine()}; {code_version()}.\n\n"
        f"Batches of {args.batch} faces (128-D embedding stored), {args.k} SIMILAR edges per face, "
        f"clusters of 20 written with `apply_clustering`; each read is the best of {args.repeats} runs, each run "
        f"with {args.batch} fresh random stored ids. {environment()}{server}. The cores are shared with other "
        "work: compare rows within one table."
    )
    outro = (
        "Reads of a 1,000-face batch should cost about the same at every size: each is an index seek per id "
        "(SQLite: `json_each` joined to a B-tree index; Neo4j: `UNWIND` + a uniqueness-constraint seek), "
        "never a scan."
    )
    lines = [
        "## Stores: write throughput and per-batch read latency",
        "",
        intro,
        "",
        HEADER,
        "|" + "---|" * (HEADER.count(" | ") + 1),
        *[fmt_row(r) for r in rows],
        "",
        *growth(rows),
        "",
        outro,
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
