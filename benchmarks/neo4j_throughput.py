"""Neo4j throughput: faces/s and SIMILAR edges/s written against batch size; review round trips.

Steps:

1. open ``GraphCluster`` on a Neo4j server (the database is cleared first; the index lives in
   a temporary directory) and bootstrap ``--base`` synthetic faces (graphcluster.synth);
2. for each batch size: ``add_faces`` of that many new faces, ``--reps`` times; faces/s is the
   whole call (index, clustering and writes), SIMILAR edges/s counts the relationships it
   created (read back after the call: the edges with an endpoint among the batch's faces);
3. for each batch size, the store alone: ``store.add_faces`` of FaceRecords (128-D embedding
   stored) and 10 SIMILAR edges each to random stored faces, what one transaction writes;
4. review round trip: ``review_queue(20)`` latency and ``answer()`` latency per item on a graph of
   real faces (lfw_dlib128), answered by the simulated reviewer of benchmarks/effort.py from the
   labels; with ``--pad N...`` the graph is then grown with synthetic background faces to each
   size N and the round trip measured again (``round_trips``);
5. print the tables and write docs/benchmarks/neo4j.md (``--skip-throughput``: only step 4,
   written to docs/benchmarks/neo4j_review.md).

Usage::

    .venv/bin/python benchmarks/neo4j_throughput.py --neo4j bolt://127.0.0.1:7711 [--base 5000]
        [--batches 100 1000 5000] [--reps 2]
    .venv/bin/python benchmarks/neo4j_throughput.py --neo4j bolt://127.0.0.1:7711 --skip-throughput \
        --pad 100000 1000000
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cells import Cell  # noqa: E402
from common import background_faces, clear_neo4j, code_version, load_lfw, machine  # noqa: E402
from common import pad_background, say, with_background, write_section  # noqa: E402
from effort import Reviewer  # noqa: E402

from graphcluster import GraphCluster  # noqa: E402
from graphcluster.errors import GraphClusterError  # noqa: E402
from graphcluster.models import FaceRecord, SimilarEdge  # noqa: E402
from graphcluster.settings import Settings  # noqa: E402
from graphcluster.synth import make_faces  # noqa: E402


def batch_edges(gc: GraphCluster, ids: list[str]) -> int:
    """The SIMILAR edges a batch created: every edge with an endpoint among its new faces."""
    return len(gc.store.similar_pairs(ids))


def throughput(args: argparse.Namespace, index_dir: Path) -> tuple[list[Any], list[Any]]:
    """End-to-end add_faces and store-only writes against batch size."""
    total = args.base + sum(b * args.reps for b in args.batches)
    data = make_faces(total, dim=128, seed=2)
    api_rows, store_rows = [], []
    clear_neo4j(args.neo4j)
    with GraphCluster.open(args.neo4j, settings=Settings(index_dir=index_dir, threshold=args.threshold)) as gc:
        gc.store.clear()
        t0 = time.perf_counter()
        for start in range(0, args.base, 1000):
            gc.add_faces(data.vectors[start:start + 1000], ids=data.ids[start:start + 1000])
            say(f"bootstrap {min(start + 1000, args.base):,}/{args.base:,} ({time.perf_counter() - t0:.0f} s)")
        pos = args.base
        for b in args.batches:
            for rep in range(args.reps):
                t1 = time.perf_counter()
                gc.add_faces(data.vectors[pos:pos + b], ids=data.ids[pos:pos + b])
                secs = time.perf_counter() - t1
                edges = batch_edges(gc, data.ids[pos:pos + b])
                api_rows.append((b, rep, pos, secs, edges))
                say(f"add_faces batch {b} (rep {rep}) at {pos:,}: {secs:.2f} s, {edges} edges")
                pos += b

        # the store alone: one transaction of faces + edges
        rng = np.random.default_rng(3)
        existing = data.ids[:pos]
        for b in args.store_batches:
            vecs = rng.standard_normal((b, 128)).astype(np.float32)
            faces = [FaceRecord(id=f"tp{b}_{i}", dim=128, embedding=[float(v) for v in vecs[i]])
                     for i in range(b)]
            edges = []
            for i in range(b):
                for j in rng.choice(len(existing), size=10, replace=False):
                    a, c = sorted((faces[i].id, existing[int(j)]))
                    edges.append(SimilarEdge(a=a, b=c, distance=0.5, weight=0.5))
            t1 = time.perf_counter()
            gc.store.add_faces(faces, edges)
            secs = time.perf_counter() - t1
            store_rows.append((b, secs, len(edges)))
            say(f"store.add_faces {b}: {secs:.2f} s")
        gc.store.clear()
    return api_rows, store_rows


def round_trips(args: argparse.Namespace, index_dir: Path) -> list[Any]:
    """review_queue / answer latency on a graph of real faces, then again after padding the graph
    with synthetic background faces (``--pad``) so that the graph is large.

    The questions come from real faces (lfw_dlib128, default settings, calibrated), so they are
    realistic. Background faces are written through the store (faces with their embedding, 10
    SIMILAR edges each to faces of their own synthetic identity, one cluster per identity) and
    added to the index; they are far from every real face (another embedding scale), so they
    change the size of the graph and of its indexes, not the questions. The index is exact here
    (a 1M Annoy build is not what this measures).
    """
    rows = []
    settings = Settings(index_dir=index_dir, index="exact")
    clear_neo4j(args.neo4j)
    with GraphCluster.open(args.neo4j, settings=settings) as gc:
        gc.store.clear()
        x, truth, ids = load_lfw(0, args.review_faces)
        t0 = time.perf_counter()
        for start in range(0, len(ids), 1000):
            gc.add_faces(x[start:start + 1000], ids=ids[start:start + 1000])
            say(f"lfw {min(start + 1000, len(ids)):,}/{len(ids):,} ({time.perf_counter() - t0:.0f} s)")
        background = background_faces(max(args.pad)) if args.pad else None
        vectors, labels, known = with_background(x, truth, ids, background)  # the review sweep reaches them
        rv = Reviewer(gc, Cell(name="lfw", vectors=vectors, labels=labels, ids=known), "ranked", 0)
        rows.append(_round_trip(gc, rv))
        padded = 0
        for target in args.pad:
            padded = pad_background(gc, background, padded, target)
            rows.append(_round_trip(gc, rv))
        gc.store.clear()
    return rows


def _round_trip(gc: GraphCluster, rv: Reviewer) -> tuple[int, list[float], list[float], list[str]]:
    q_ms, a_ms, kinds = [], [], []
    for _ in range(3):
        t1 = time.perf_counter()
        queue = gc.review_queue(20)
        q_ms.append(1000 * (time.perf_counter() - t1))
        for item in queue:
            t2 = time.perf_counter()
            reply, faces = rv.reply(item)  # bulk questions with the true subset
            try:
                gc.answer(item.id, reply, faces=faces, by="benchmark")
            except GraphClusterError:
                continue
            a_ms.append(1000 * (time.perf_counter() - t2))
            kinds.append(item.kind)
    n = gc.store.count_faces()
    say(f"round trip at {n:,} faces: queue {statistics.median(q_ms):.0f} ms, "
        f"answer median {statistics.median(a_ms) if a_ms else float('nan'):.0f} ms ({len(a_ms)} answers)")
    return n, q_ms, a_ms, kinds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neo4j", required=True, help="bolt URI (the database is cleared!)")
    ap.add_argument("--base", type=int, default=5000)
    ap.add_argument("--batches", type=int, nargs="+", default=[100, 1000, 5000])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--store-batches", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--review-faces", type=int, default=5000, help="lfw faces in the review round-trip graph")
    ap.add_argument("--threshold", type=float, default=None, help="Settings(threshold=...); None = calibrate")
    ap.add_argument("--pad", type=int, nargs="*", default=[],
                    help="grow the review graph with synthetic background faces to these sizes (e.g. 100000 "
                         "1000000) and measure the round trip again at each size")
    ap.add_argument("--skip-throughput", action="store_true", help="only the review round trips (keeps no table)")
    args = ap.parse_args()
    logging.getLogger("neo4j").setLevel(logging.ERROR)  # the driver's schema notifications are noise here
    code = code_version()
    tmp = tempfile.mkdtemp(prefix="gc-neo4j-tp-")
    api_rows: list[tuple[int, int, int, float, int]] = []
    store_rows: list[tuple[int, float, int]] = []
    try:
        if not args.skip_throughput:
            api_rows, store_rows = throughput(args, Path(tmp) / "index")
        rt_rows = round_trips(args, Path(tmp) / "index2")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    api_table = ["| batch size | faces in graph before | add_faces s | faces/s | SIMILAR edges created | edges/s |",
                 "|---|---|---|---|---|---|"]
    for b, rep, pos, secs, e in api_rows:
        api_table.append(f"| {b:,} | {pos:,} | {secs:.2f} | {b / secs:.0f} | {e:,} | {e / secs:.0f} |")
    store_table = ["| batch size (one transaction) | faces | SIMILAR edges | s | faces/s | edges/s |",
                   "|---|---|---|---|---|---|"]
    for b, secs, e in store_rows:
        store_table.append(f"| {b:,} | {b:,} | {e:,} | {secs:.2f} | {b / secs:.0f} | {e / secs:.0f} |")
    rt = ["| faces in graph | review_queue(20) ms (median of 3) | answers | answer() ms median | p90 | max | kinds |",
          "|---|---|---|---|---|---|---|"]
    for n_faces, q_ms, a_ms, kinds in rt_rows:
        rt.append(f"| {n_faces:,} | {statistics.median(q_ms):.0f} | {len(a_ms)} | "
                  + (f"{statistics.median(a_ms):.0f} | {np.percentile(a_ms, 90):.0f} | {max(a_ms):.0f}" if a_ms
                     else "– | – | –")
                  + f" | {', '.join(f'{k} {kinds.count(k)}' for k in sorted(set(kinds))) or 'queue empty'} |")
    largest = max(r[0] for r in rt_rows)
    print("\n".join(api_table + [""] + store_table + [""] + rt))
    if args.no_write:
        return
    if args.skip_throughput:
        write_section("neo4j_review", [
            "## Neo4j review round trips on a large graph",
            "",
            f"Command: `.venv/bin/python benchmarks/neo4j_throughput.py --neo4j {args.neo4j} --skip-throughput "
            f"--review-faces {args.review_faces} --pad {' '.join(map(str, args.pad))}`. Machine: {machine()}; {code}.",
            "Server: local Neo4j 5.26 Community (`scripts/neo4j start`, page cache 512 MiB, heap 1 GiB) on the",
            "same 2 cores as the client.",
            "",
            f"{args.review_faces:,} real faces (lfw_dlib128, seed 0, default settings but the exact index) are",
            "ingested; the simulated reviewer of `benchmarks/effort.py` answers 3 rounds of `review_queue(20)`;",
            "then the graph is padded with synthetic background faces written through the store (each with its",
            "embedding, 10 SIMILAR edges to faces of its own identity and a cluster per identity, and added to",
            "the index) and the next 3 rounds are answered, at each size. The background is far from every real",
            "face, so it changes the size of the graph and its indexes, not the kind of question.",
            "",
            *rt,
            "",
        ])
        return
    cmd = (f"`.venv/bin/python benchmarks/neo4j_throughput.py --neo4j {args.neo4j} --base {args.base} --batches "
           f"{' '.join(map(str, args.batches))} --reps {args.reps} --store-batches "
           f"{' '.join(map(str, args.store_batches))} --review-faces {args.review_faces}" + (f" --threshold {args.threshold}" if args.threshold else "") + "`")
    write_section("neo4j", [
        "## Neo4j throughput and review round trips",
        "",
        f"Command: {cmd}. Machine: {machine()}; {code}. Server: local Neo4j 5.26 Community",
        "(`scripts/neo4j start`, page cache 512 MiB, heap 1 GiB) on the same 2 cores as the client.",
        "",
        f"Synthetic 128-D faces (`make_faces`, seed 2), {args.base:,} bootstrapped first"
        + (f"; `Settings(threshold={args.threshold})` because calibration falls back to a tiny link on this"
           " synthetic data (see the growth section)" if args.threshold else "") + ". End to end (`add_faces`:",
        "index, clustering, writes; SIMILAR edges counted with Cypher before and after):",
        "",
        *api_table,
        "",
        "The store alone (`Neo4jStore.add_faces`, one transaction: faces with their 128-D embedding and 10",
        "SIMILAR edges each to random stored faces):",
        "",
        *store_table,
        "",
        f"Review round trip: a separate graph of {args.review_faces:,} real faces (lfw_dlib128, seed 0, default settings;",
        "real faces, so the questions are realistic); the simulated reviewer of `benchmarks/effort.py` answers from the labels:",
        "",
        *rt,
        "",
        f"The target is the round trip on a 1M-face graph; the largest graph measured here has {largest:,} faces"
        " (see also the neo4j_review section, `--skip-throughput --pad ...`).",
        "",
    ])


if __name__ == "__main__":
    main()
