"""The first import: one ``add_faces`` call into an empty database (graphcluster/bootstrap.py).

Two parts, in one run:

1. **Same results as incremental ingest** (lfw_dlib128, ``--seeds`` shuffles): each shuffle
   ingested into a fresh embedded store in batches of 100 (``Settings(bootstrap_min=0)``: the
   incremental path) and in one call (the first-import path), default settings otherwise;
   pairwise P / F, BCubed F, unassigned share and seconds of both.
2. **Scale** (``--sizes``, synthetic FaceNet-like faces of ``graphcluster.synth.make_faces``,
   128-D): per size, in a child process of its own (so its peak RSS is its own), one call of
   ``n`` faces into an empty embedded store, timed by phase from the call's progress (index and
   neighbour lookup, writing, clustering), then one more batch of 1,000 new faces into the
   database it built (an ordinary increment), and the child's peak RSS.

Writes docs/benchmarks/bootstrap.md.

Usage::

    .venv/bin/python benchmarks/bootstrap.py [--seeds 0 1 2] [--sizes 100000 1000000] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cells import dev  # noqa: E402
from common import code_version, machine, predictions, say, scores, write_section  # noqa: E402

from graphcluster import GraphCluster, Settings  # noqa: E402

BATCH = 100
INCREMENT = 1000


def equivalence(seed: int) -> list[dict[str, Any]]:
    cell = dev(seed)
    rows = []
    for path, settings in (("incremental (batches of 100)", Settings(bootstrap_min=0)), ("first import (one call)", Settings())):
        tmp = tempfile.mkdtemp(prefix="gc-boot-")
        try:
            t0 = time.perf_counter()
            with GraphCluster.open(tmp, settings=settings) as gc:
                if settings.bootstrap_min:
                    first = gc.add_faces(cell.vectors, ids=cell.ids).first_import
                else:
                    first = False
                    for s in range(0, len(cell.ids), BATCH):
                        gc.add_faces(cell.vectors[s:s + BATCH], ids=cell.ids[s:s + BATCH])
                secs = time.perf_counter() - t0
                pred, share = predictions(gc, cell.ids)
                link = gc.stats().thresholds.get("link")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rows.append(dict(scores(cell.labels, pred), path=path, seed=seed, seconds=secs, first=first, link=link, **share))
        say(f"seed {seed} {path}: bF {rows[-1]['bF']:.4f} in {secs:.0f} s")
    return rows


def scale_child(n: int) -> None:
    """In a child process: one call of ``n`` synthetic faces, then an increment; prints JSON."""
    from graphcluster.synth import make_faces

    data = make_faces(n + INCREMENT, dim=128, seed=1)
    ids = [f"s{i}" for i in range(n + INCREMENT)]
    tmp = tempfile.mkdtemp(prefix="gc-boot-scale-")
    marks: dict[str, float] = {}
    try:
        t0 = time.perf_counter()

        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter() - t0
            if "first_write" not in marks:
                say(f"  {n:,}: index and neighbours done at {now:.0f} s")
            marks.setdefault("first_write", now)
            if done >= total // 2 and "written" not in marks:
                say(f"  {n:,}: written at {now:.0f} s")
            if done >= total // 2:
                marks.setdefault("written", now)
            if now - last[0] > 60:
                last[0] = now
                say(f"  {n:,}: {100 * done / total:.0f} % at {now:.0f} s")

        with GraphCluster.open(tmp) as gc:
            report = gc.add_faces(data.vectors[:n], ids=ids[:n], progress=progress)
            total = time.perf_counter() - t0
            t1 = time.perf_counter()
            gc.add_faces(data.vectors[n:], ids=ids[n:])
            increment = time.perf_counter() - t1
            st = gc.stats()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({
        "n": n, "first_import": report.first_import, "seconds": total,
        "index_knn": marks.get("first_write", total), "write": marks.get("written", total) - marks.get("first_write", 0.0),
        "cluster": total - marks.get("written", total), "increment": increment,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "clusters": st.clusters,
        "by_status": dict(st.by_status),
    }))


def scale(n: int) -> dict[str, Any]:
    say(f"first import of {n:,} synthetic faces (a child process) ...")
    out = subprocess.run([sys.executable, __file__, "--child", str(n)], stdout=subprocess.PIPE, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"the child for {n:,} faces failed (exit {out.returncode}; its stderr is above)")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    say(f"{n:,} faces: {row['seconds']:.0f} s, +{INCREMENT} faces {row['increment']:.1f} s, peak RSS {row['rss_mb']:.0f} MB")
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000])
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        scale_child(args.child)
        return
    code = code_version()
    eq = [r for s in args.seeds for r in equivalence(s)]
    big = [scale(n) for n in args.sizes]

    lines = [
        "## First import: one call into an empty database",
        "",
        f"Command: `.venv/bin/python benchmarks/bootstrap.py --seeds {' '.join(map(str, args.seeds))} "
        f"--sizes {' '.join(map(str, args.sizes))}`. Machine: {machine()}; {code}.",
        "",
        "An `add_faces` of at least `Settings.bootstrap_min` (5,000) faces into an empty database is clustered in one",
        "pass over the whole kNN graph (graphcluster/bootstrap.py, docs/architecture.md).",
    ]
    if eq:
        lines += [
            "Below: the same faces through the incremental path (batches of 100, `bootstrap_min=0`) and in one call,",
            "default settings otherwise, embedded store; lfw_dlib128 in shuffles (`benchmarks/cells.py` `dev`).",
            "Unassigned faces count as singletons.",
            "",
            "| seed | path | seconds | link | pairwise P | pairwise F | BCubed F | unassigned | auto |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
    for r in eq:
        lines.append(f"| {r['seed']} | {r['path']} | {r['seconds']:.1f} | {r['link']:.4f} | {r['P']:.4f} | {r['F']:.4f} | "
                     f"{r['bF']:.4f} | {r['unassigned']:.3f} | {r['auto']:.3f} |")
    if eq:
        inc = [r for r in eq if not r["first"]]
        one = [r for r in eq if r["first"]]
        mean = lambda rows, k: sum(r[k] for r in rows) / len(rows)  # noqa: E731
        lines += ["", f"Mean over the seeds: BCubed F {mean(inc, 'bF'):.4f} incremental, {mean(one, 'bF'):.4f} first "
                  f"import ({mean(one, 'bF') - mean(inc, 'bF'):+.4f}); pairwise F {mean(inc, 'F'):.4f} and "
                  f"{mean(one, 'F'):.4f}; the first import took {mean(one, 'seconds') / mean(inc, 'seconds'):.2f} x "
                  "the time of the batches, in the same run."]
    if big:
        lines += [
            "",
            f"Scale: synthetic 128-D faces (`make_faces(n + {INCREMENT}, seed=1)`), one call of n into an empty embedded",
            "store in a child process, then one batch of the next 1,000 faces into the database it built; phases from the",
            "call's progress; peak RSS of the child (`ru_maxrss`).",
            "",
            "| faces | first import s | index + neighbours s | writing s | clustering s | +1,000 faces s | peak RSS MB | clusters |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in big:
            lines.append(f"| {r['n']:,} | {r['seconds']:.0f} | {r['index_knn']:.0f} | {r['write']:.0f} | {r['cluster']:.0f} | "
                         f"{r['increment']:.2f} | {r['rss_mb']:.0f} | {r['clusters']:,} |")
    for line in lines:
        print(line)
    if not args.no_write:
        write_section("bootstrap", lines)


if __name__ == "__main__":
    main()
