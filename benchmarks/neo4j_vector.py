"""Neo4j's vector index against the segmented Annoy index: recall@10 and query latency at 100k,
and the cost of a +1,000-face batch with index='neo4j' vs 'annoy' on the Neo4j store.

Steps:

1. ``--n`` synthetic FaceNet-like faces (graphcluster.synth, 128-D) and ``--queries`` more of
   the same people held out as queries; exact numpy (one matrix product) is the ground truth;
2. segmented Annoy (graphcluster's default engine and settings, 50 trees) built by adding the
   faces in 10,000-face batches, as ingest does; queries batched and one at a time;
3. the same faces written as Face nodes with embeddings (``store.add_faces``, no edges) into an
   emptied Neo4j, whose vector index ``face_embedding`` indexes them as they commit; then
   ``Neo4jVectorIndex`` queried with each ``--candidates`` value (neighbours asked of Neo4j per
   query), batched and one at a time;
4. batch cost: for each index kind, an emptied database, ``--base`` faces bootstrapped through
   ``add_faces`` in 1,000-face batches, then ``--reps`` timed ``add_faces`` of 1,000 new faces;
5. print the tables and write docs/benchmarks/neo4j_vector.md.

Usage::

    .venv/bin/python benchmarks/neo4j_vector.py --neo4j bolt://127.0.0.1:7687 [--n 100000]
        [--queries 500] [--candidates 10 50 100 200] [--base 10000] [--reps 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import code_version, machine, say, write_section  # noqa: E402

from graphcluster import GraphCluster, Settings  # noqa: E402
from graphcluster.index import SegmentedAnnoyIndex  # noqa: E402
from graphcluster.models import FaceRecord  # noqa: E402
from graphcluster.store import Neo4jStore  # noqa: E402
from graphcluster.store.neo4j_vectors import Neo4jVectorIndex  # noqa: E402
from graphcluster.synth import make_faces  # noqa: E402

K = 10


def recall(got: list[list[str]], truth: list[set[str]]) -> float:
    return float(np.mean([len(set(g[:K]) & t) / K for g, t in zip(got, truth)]))


def measure(index: object, q: np.ndarray, truth: list[set[str]], singles: int) -> tuple[float, float, float]:
    """recall@10, ms per query batched, ms per query one at a time."""
    t0 = time.perf_counter()
    got, _ = index.query(q, K)  # type: ignore[attr-defined]
    batched = (time.perf_counter() - t0) / len(q) * 1000
    t0 = time.perf_counter()
    for row in q[:singles]:
        index.query(row[None, :], K)  # type: ignore[attr-defined]
    single = (time.perf_counter() - t0) / singles * 1000
    return recall(got, truth), batched, single


def empty(store: Neo4jStore) -> None:
    store.clear()
    Neo4jVectorIndex(store).drop()


def batch_cost(uri: str, kind: str, base: int, reps: int, seed: int) -> list[float]:
    f = make_faces(base + reps * 1000, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index=kind, index_dir=Path(tmp) / "index")
        with GraphCluster.open(uri, settings=settings) as gc:
            gc.reset()
        with GraphCluster.open(uri, settings=settings) as gc:
            for lo in range(0, base, 1000):
                gc.add_faces(f.vectors[lo : lo + 1000], ids=f.ids[lo : lo + 1000])
            say(f"{kind}: bootstrapped {base} faces")
            times = []
            for r in range(reps):
                lo = base + r * 1000
                t0 = time.perf_counter()
                gc.add_faces(f.vectors[lo : lo + 1000], ids=f.ids[lo : lo + 1000])
                times.append(time.perf_counter() - t0)
                say(f"{kind}: +1000 at {lo}: {times[-1]:.1f} s")
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--neo4j", required=True)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--singles", type=int, default=100, help="queries timed one at a time")
    ap.add_argument("--candidates", type=int, nargs="+", default=[10, 50, 100, 200])
    ap.add_argument("--base", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-recall", action="store_true")
    a = ap.parse_args()
    command = "    .venv/bin/python benchmarks/neo4j_vector.py " + " ".join(sys.argv[1:])
    lines = ["# Neo4j's vector index vs the segmented Annoy index", "",
             f"Made by `benchmarks/neo4j_vector.py` ({code_version()}):", "", command.replace(a.neo4j, "bolt://..."),
             "", f"Machine: {machine()}. Neo4j 5.26 Community (scripts/neo4j, heap 2 GB, page cache 1 GB).", ""]

    store = Neo4jStore(a.neo4j)
    if not a.skip_recall:
        f = make_faces(a.n + a.queries, seed=a.seed)
        x, q = f.vectors[: a.n], f.vectors[a.n :]
        ids = f.ids[: a.n]
        sims = q @ x.T
        truth = [set(np.asarray(ids)[np.argpartition(-row, K)[:K]]) for row in sims]
        rows = [("engine", "setting", "recall@10", "ms/query batched", "ms/query single", "build s")]
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            annoy = SegmentedAnnoyIndex(Path(tmp) / "annoy")
            for lo in range(0, a.n, 10_000):
                annoy.add(ids[lo : lo + 10_000], x[lo : lo + 10_000])
            annoy.flush()
            build = time.perf_counter() - t0
            r, b, s = measure(annoy, q, truth, a.singles)
            rows.append(("segmented Annoy", f"50 trees, segments {annoy.info()['segments']}", f"{r:.3f}", f"{b:.2f}",
                         f"{s:.2f}", f"{build:.0f}"))
            say(f"annoy: recall {r:.3f}")
            annoy.close()
        empty(store)
        t0 = time.perf_counter()
        Neo4jVectorIndex(store, int(x.shape[1]))  # creates the vector index before the writes
        for lo in range(0, a.n, 5_000):
            store.add_faces([FaceRecord(id=fid, dim=int(x.shape[1]), embedding=row.tolist())
                             for fid, row in zip(ids[lo : lo + 5_000], x[lo : lo + 5_000])], [])
        build = time.perf_counter() - t0
        say(f"neo4j: wrote {a.n} faces in {build:.0f} s")
        for c in a.candidates:
            vec = Neo4jVectorIndex(store, int(x.shape[1]), candidates=c)
            r, b, s = measure(vec, q, truth, a.singles)
            rows.append(("Neo4j vector index", f"candidates={c}", f"{r:.3f}", f"{b:.2f}", f"{s:.2f}",
                         f"{build:.0f} (writes incl.)"))
            say(f"neo4j candidates={c}: recall {r:.3f}, {b:.2f} ms/query")
        lines += [f"## Recall@10 and latency at {a.n:,} faces ({a.queries} held-out queries, exact numpy truth)", "",
                  "| " + " | ".join(rows[0]) + " |", "|" + " --- |" * len(rows[0])]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        lines += ["", "\"single\" times the first "
                  f"{a.singles} queries one call each (a round trip each for Neo4j); \"batched\" is one call for all. "
                  "Neo4j's build column is the time to write the Face nodes with their embeddings "
                  "(5,000 per transaction), the vector index being maintained as they commit.", ""]
        empty(store)
    store.close()
    if a.base:
        cost = {kind: batch_cost(a.neo4j, kind, a.base, a.reps, a.seed + 1) for kind in ("annoy", "neo4j")}
        lines += [f"## A +1,000-face batch at {a.base:,} faces on the Neo4j store (bootstrapped through add_faces)", "",
                  "| index | seconds per +1,000 (each rep) | median |", "| --- | --- | --- |"]
        for kind, t in cost.items():
            lines.append(f"| {kind} | {', '.join(f'{v:.1f}' for v in t)} | {np.median(t):.1f} |")
        lines += ["", f"Ratio neo4j / annoy (medians): {np.median(cost['neo4j']) / np.median(cost['annoy']):.2f}.", ""]
    out = "\n".join(lines)
    print(out)
    write_section("neo4j_vector", lines)


if __name__ == "__main__":
    main()
