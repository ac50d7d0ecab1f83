"""Review latency: review_queue(20) and answer() milliseconds, embedded and on Neo4j, at 10k and 100k faces.

Steps:

1. for each store and each size of ``--sizes``, a fresh database (Neo4j: the database is
   cleared and graphcluster's index lives in a temporary directory): the first ``--real``
   faces of lfw_dlib128 (shuffled with ``--seed``, ``common.load_lfw``; fewer when the smallest
   size is smaller) through ``add_faces`` in batches of ``--batch`` with default settings;
2. the graph brought to the size with synthetic background faces written through the store and
   the index (``common.pad_background``, the padding of ``neo4j_throughput.py --pad``: each face
   with its embedding, 10 SIMILAR edges to faces of its own synthetic identity, a cluster per
   identity; one background set of the largest size, a smaller size takes its first faces);
   they are far from every real face, so they change the size of the graph and its indexes,
   not the questions about real faces;
3. the simulated reviewer of benchmarks/effort.py (``Reviewer``, the ranked queue) takes a
   page of ``gc.review_queue(limit=20)``, answers it in order from the labels with
   ``gc.answer(...)`` (bulk questions with the subset the labels say; it knows the background
   faces' identities too), takes the next page, until ``--answers`` answers are given or
   nothing is left to ask; every size starts from the same real faces, so it answers the same
   questions at every size (the page counts how many review items two sizes share);
4. only the two public calls are timed (not the reviewer looking up labels and cluster
   members): answer() p50 / p90 / p99 / max, review_queue(20) p50 / p99, the kinds answered
   and the answer time per kind; the bar of issue 16 (answer p50 <= 100 ms embedded, <= 300 ms
   on Neo4j, at 100,000 faces) is computed from them;
5. print the tables and write docs/benchmarks/review_latency.md (not with ``--no-write`` or
   ``--profile``, which times answers under cProfile and prints the top functions instead).

Usage::

    .venv/bin/python benchmarks/review_latency.py [--sizes 10000 100000] [--neo4j bolt://127.0.0.1:7791]
        [--answers 200] [--real 10000] [--batch 100] [--seed 0] [--no-write] [--profile 30]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cells import Cell  # noqa: E402
from common import background_faces, clear_neo4j, code_version, ingest, load_lfw, machine  # noqa: E402
from common import pad_background, say, with_background, write_section  # noqa: E402
from effort import PAGE, Reviewer  # noqa: E402

from graphcluster import GraphCluster  # noqa: E402
from graphcluster.errors import GraphClusterError  # noqa: E402
from graphcluster.settings import Settings  # noqa: E402

BAR_SIZE = 100_000
BAR_MS = {"embedded": 100.0, "neo4j": 300.0}  # answer() p50 at BAR_SIZE faces (issue 16, item 5)
CODE = code_version()  # taken at start: the tree may change while a run goes on

NOTES = [
    "How to read it: the background faces are a random direction each, about 1.4 from every real face (all",
    "real pairs are closer than about 0.8), so no real face has a background neighbour: they make the store's",
    "tables, indexes and cluster list 10x larger, and the review sweep (which walks clusters largest first)",
    "would meet them once the real questions ran out, but the questions answered here are the ones the real",
    "faces ask, the same at both sizes. The background adds faces, edges and clusters but no open questions",
    "(the counts above), so a cost that follows the number of open questions is the 10k one at both sizes;",
    "a database grown to 100k by real arrivals would have about ten times the open questions, larger clusters",
    "and denser regions. What this isolates is the cost of the database's size.",
    "Timings are wall-clock on 2 shared cores; the Neo4j server runs on the same cores as the client.",
]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def open_store(store: str, uri: str | None, tmp: Path) -> GraphCluster:
    if store == "neo4j":
        assert uri
        clear_neo4j(uri)
        return GraphCluster.open(uri, settings=Settings(index_dir=tmp / "index"))
    return GraphCluster.open(tmp / "store")


def measure(gc: GraphCluster, rv: Reviewer, want: int, label: str, profile: bool = False) -> dict[str, Any]:
    """Answer pages of review_queue(20) until ``want`` answers; only the two calls are timed.

    ``profile``: each answer() runs under its own cProfile; the result keeps all of them together
    (``profile_all``) and the slowest answer's alone (``profile_slowest``: ms, kind, profile)."""
    q_ms: list[float] = []
    a_ms: list[float] = []
    by_kind: dict[str, list[float]] = defaultdict(list)
    refused: list[str] = []
    asked: list[str] = []  # the review items answered, in order
    pages, dry, background = 0, False, 0
    together: pstats.Stats | None = None
    slowest: tuple[float, str, cProfile.Profile] | None = None
    while len(a_ms) < want:
        t0 = time.perf_counter()
        page = gc.review_queue(limit=PAGE)
        q_ms.append(1000 * (time.perf_counter() - t0))
        if not page:
            dry = True
            break
        pages += 1
        for item in page:
            if len(a_ms) >= want:
                break
            reply, faces = rv.reply(item)
            prof = cProfile.Profile() if profile else None
            if prof is not None:
                prof.enable()
            t1 = time.perf_counter()
            try:
                gc.answer(item.id, reply, faces=faces, by="latency-benchmark")
            except GraphClusterError as exc:
                refused.append(f"{item.kind}: {type(exc).__name__}: {str(exc)[:120]}")
                continue
            finally:
                if prof is not None:
                    prof.disable()
            ms = 1000 * (time.perf_counter() - t1)
            if prof is not None:
                together = pstats.Stats(prof) if together is None else together.add(prof)
                if slowest is None or ms > slowest[0]:
                    slowest = (ms, item.kind, prof)
            a_ms.append(ms)
            asked.append(item.id)
            by_kind[item.kind].append(ms)
            background += any(f.startswith("bg") for f in item.faces_a + item.faces_b)
        say(f"{label}: page {pages}: review_queue {q_ms[-1]:.0f} ms; {len(a_ms)} answers, "
            f"p50 {pct(a_ms, 50):.0f} ms, max {max(a_ms) if a_ms else float('nan'):.0f} ms")
    return {"q_ms": q_ms, "a_ms": a_ms, "by_kind": dict(by_kind), "refused": refused, "pages": pages, "dry": dry,
            "about_background": background, "asked": asked,
            "profile_all": together, "profile_slowest": slowest}


def print_profiles(r: dict[str, Any], label: str, top: int) -> None:
    """The profile of every answer() together and of the slowest one alone, on stderr."""
    if r["profile_all"] is None:
        return
    out = io.StringIO()
    r["profile_all"].stream = out
    r["profile_all"].sort_stats("cumulative").print_stats(top)
    ms, kind, prof = r["profile_slowest"]
    out.write(f"\n{label}: the slowest answer alone ({kind}, {ms:.0f} ms under the profiler):\n")
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    say(f"{label}: profile of {len(r['a_ms'])} answer() calls together, by cumulative time:\n{out.getvalue()}")


def run_store(store: str, args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    """One fresh database per size: the same real faces, then padded to the size, then answered."""
    sizes = sorted(args.sizes)
    real = min(args.real, sizes[0])
    x, truth, ids = load_lfw(args.seed, real)
    n_bg = sizes[-1] - real
    bg = background_faces(n_bg) if n_bg > 0 else None
    vectors, labels, known = with_background(x, truth, ids, bg)
    cell = Cell(name="lfw+background", vectors=vectors, labels=labels, ids=known)
    rows: list[dict[str, Any]] = []
    t_store = time.perf_counter()
    for size in sizes:
        with open_store(store, args.neo4j, tmp / f"{store}-{size}") as gc:
            ingest_s = ingest(gc, x, ids, args.batch, label=f"{store} for {size:,}: real faces")
            st = gc.stats()
            say(f"{store} for {size:,}: {real:,} real faces ingested in {ingest_s:.0f} s; {st.clusters:,} clusters, "
                f"{st.open_reviews} open questions")
            t0 = time.perf_counter()
            have = pad_background(gc, bg, 0, size - real) if size > real else 0
            pad_s = time.perf_counter() - t0
            rv = Reviewer(gc, cell, "ranked", args.seed)
            before = gc.stats()
            faces = before.faces
            label = f"{store} {faces:,} faces"
            r = measure(gc, rv, args.answers, label, bool(args.profile))
            r.update(store=store, size=faces, real=real, background=have, ingest_s=ingest_s, pad_s=pad_s,
                     clusters=before.clusters, open_reviews=before.open_reviews,
                     load=os.getloadavg()[0])  # the machine is shared: how busy it was while answering
            rows.append(r)
            print(row(r), flush=True)
            if args.profile:
                print_profiles(r, label, args.profile)
    say(f"{store}: done in {time.perf_counter() - t_store:.0f} s")
    return rows


def bar(r: dict[str, Any]) -> str:
    if r["size"] != BAR_SIZE:
        return "–"
    limit = BAR_MS[r["store"]]
    return f"{'met' if pct(r['a_ms'], 50) <= limit else 'missed'} (<= {limit:.0f})"


def row(r: dict[str, Any]) -> str:
    a, q = r["a_ms"], r["q_ms"]
    kinds = ", ".join(f"{k} {len(v)}" for k, v in sorted(r["by_kind"].items())) or "none"
    if r["about_background"]:
        kinds += f" ({r['about_background']} about background faces)"
    return (f"| {r['store']} | {r['size']:,} | {len(a)}{' (queue ran dry)' if r['dry'] else ''} | {len(r['refused'])} "
            f"| {pct(a, 50):.0f} | {pct(a, 90):.0f} | {pct(a, 99):.0f} | {max(a) if a else float('nan'):.0f} "
            f"| {pct(q, 50):.0f} | {pct(q, 99):.0f} ({len(q)} calls) | {kinds} | {r['load']:.1f} | {bar(r)} |")


HEADER = ["| store | faces | answers | refused | answer() p50 ms | p90 | p99 | max | review_queue(20) p50 ms | p99 "
          "| kinds answered | load | bar: answer p50 at 100k |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]


def kind_rows(rows: list[dict[str, Any]]) -> list[str]:
    out = ["| store | faces | kind | answers | p50 ms | max ms |", "|---|---|---|---|---|---|"]
    for r in rows:
        for k, v in sorted(r["by_kind"].items()):
            out.append(f"| {r['store']} | {r['size']:,} | {k} | {len(v)} | {pct(v, 50):.0f} | {max(v):.0f} |")
    return out


def reading(rows: list[dict[str, Any]]) -> list[str]:
    """A few sentences computed from the numbers."""
    lines = []
    for store in ("embedded", "neo4j"):
        mine = [r for r in rows if r["store"] == store]
        if not mine:
            continue
        at_bar = [r for r in mine if r["size"] == BAR_SIZE]
        if at_bar:
            r = at_bar[0]
            p50 = pct(r["a_ms"], 50)
            verdict = "met" if p50 <= BAR_MS[store] else "missed"
            lines.append(f"- {store} at {BAR_SIZE:,} faces: answer() p50 {p50:.0f} ms against the bar of "
                         f"{BAR_MS[store]:.0f} ms: **{verdict}** ({p50 / BAR_MS[store]:.0%} of it); p99 "
                         f"{pct(r['a_ms'], 99):.0f} ms, max {max(r['a_ms']):.0f} ms over {len(r['a_ms'])} answers.")
        else:
            lines.append(f"- {store}: not measured at {BAR_SIZE:,} faces, so the bar is not judged.")
        if len(mine) >= 2:
            lo, hi = mine[0], mine[-1]
            lines.append(f"- {store}: from {lo['size']:,} to {hi['size']:,} faces the answer() p50 goes "
                         f"{pct(lo['a_ms'], 50):.0f} -> {pct(hi['a_ms'], 50):.0f} ms "
                         f"(x{pct(hi['a_ms'], 50) / pct(lo['a_ms'], 50):.2f}) and review_queue(20) p50 "
                         f"{pct(lo['q_ms'], 50):.0f} -> {pct(hi['q_ms'], 50):.0f} ms.")
        if len(mine) >= 2:
            first = set(mine[0]["asked"])
            same = [len(first & set(r["asked"])) for r in mine[1:]]
            lines.append(f"- {store}: of the {len(mine[0]['asked'])} questions answered at {mine[0]['size']:,} faces, "
                         + ", ".join(f"{n} were answered at {r['size']:,}" for n, r in zip(same, mine[1:]))
                         + " (the same review items).")
        slow = max(((r, k, v) for r in mine for k, v in r["by_kind"].items() if len(v) >= 3),
                   key=lambda t: pct(t[2], 50), default=None)
        if slow:
            r, k, v = slow
            lines.append(f"- {store}: the slowest kind by median is `{k}` at {r['size']:,} faces "
                         f"(p50 {pct(v, 50):.0f} ms, max {max(v):.0f} ms, {len(v)} answers; kinds with 3 or more).")
    sizes = sorted({r["size"] for r in rows})
    for size in sizes:
        pair = {r["store"]: r for r in rows if r["size"] == size}
        if len(pair) == 2:
            e, n = pct(pair["embedded"]["a_ms"], 50), pct(pair["neo4j"]["a_ms"], 50)
            shared = len(set(pair["embedded"]["asked"]) & set(pair["neo4j"]["asked"]))
            lines.append(f"- at {size:,} faces Neo4j's answer() p50 is x{n / e:.1f} the embedded store's "
                         f"({shared} of {len(pair['embedded']['asked'])} review items answered on both).")
    n = min(len(r["a_ms"]) for r in rows)
    if n >= 2:
        k = n - 1 - int(0.99 * (n - 1))  # p99 lies between the k-th and the (k+1)-th slowest answer
        lines.append(f"- with {n} answers or more per row, p99 lies between the {ordinal(k)} and the {ordinal(k + 1)} "
                     "slowest answer: it reads the slow tail, not a stable percentile.")
    refused = sum(len(r["refused"]) for r in rows)
    lines.append(f"- answers refused: {refused} of {sum(len(r['a_ms']) + len(r['refused']) for r in rows)}.")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="faces in the database")
    ap.add_argument("--neo4j", default=None, help="also measure on this Neo4j server (bolt URI; the database is cleared!)")
    ap.add_argument("--answers", type=int, default=200, help="answers per store and size")
    ap.add_argument("--real", type=int, default=10_000, help="lfw_dlib128 faces through add_faces (at most 11,733)")
    ap.add_argument("--batch", type=int, default=100, help="add_faces batch size for the real faces")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="time answers under cProfile and print its top N functions (does not write the page)")
    args = ap.parse_args()
    logging.getLogger("neo4j").setLevel(logging.ERROR)  # the driver's schema notifications are noise here
    started = time.perf_counter()
    stores = ["embedded"] + (["neo4j"] if args.neo4j else [])
    tmp = Path(tempfile.mkdtemp(prefix="gc-latency-"))
    rows: list[dict[str, Any]] = []
    try:
        for store in stores:
            rows += run_store(store, args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    minutes = (time.perf_counter() - started) / 60
    table = HEADER + [row(r) for r in rows]
    kinds = kind_rows(rows)
    read = reading(rows)
    print("\n".join(["", *table, "", *kinds, "", *read, "", f"run time {minutes:.1f} min"]))
    for r in rows:
        for msg in r["refused"][:5]:
            say(f"{r['store']} {r['size']:,}: refused {msg}")
    if args.no_write or args.profile:
        return
    builds = [f"- {r['store']} at {r['size']:,} faces: {r['real']:,} real faces through `add_faces` in {r['ingest_s']:.0f} s"
              + (f", then {r['background']:,} background faces written directly in {r['pad_s']:.0f} s" if r["background"]
                 else ", no background")
              + f"; {r['clusters']:,} clusters and {r['open_reviews']:,} open questions before the first answer." for r in rows]
    cmd = ".venv/bin/python benchmarks/review_latency.py " + " ".join(sys.argv[1:])
    real = rows[0]["real"]
    lines = [
        "## Review latency: review_queue(20) and answer() against database size",
        "",
        f"Command: `{cmd.strip()}`. Machine: {machine()}; {CODE}. Run time {minutes:.0f} min.",
        *(["Neo4j: a local Neo4j 5.26 Community server (`scripts/neo4j start --no-auth`, its defaults: heap 1 GiB,",
           "page cache 512 MiB) on the same 2 cores as the client; graphcluster's index in a temporary directory."]
          if args.neo4j else []),
        "",
        f"The database, built afresh for each store and size: the first {real:,} faces of lfw_dlib128 (real, labelled;",
        f"shuffled with seed {args.seed}) through `add_faces` in batches of {args.batch} with default settings; then, to reach",
        "the size, synthetic background faces (`graphcluster.synth.make_faces`, 128-D, seed 7) written straight",
        "through the store and the index (`common.pad_background`, as `neo4j_throughput.py --pad`: each face with its",
        "embedding, 10 SIMILAR edges to faces of its own synthetic identity, one cluster per identity, no kNN query):",
        "",
        *builds,
        "",
        "At each size the simulated reviewer of `benchmarks/effort.py` (`Reviewer`, the ranked queue) takes a page of",
        f"`review_queue(limit={PAGE})`, answers it in order from the labels through `answer()` (bulk questions with the",
        f"subset the labels say), and takes the next page, up to {args.answers} answers per store and size. Only the",
        "two calls are timed. Percentiles are numpy's (linear between the ranks). *load*: the machine's 1-minute load",
        "average when the row's answers ended, this run's client and server included (2 cores shared with other work).",
        "",
        *table,
        "",
        "answer() by kind:",
        "",
        *kinds,
        "",
        "Reading (computed from the tables):",
        "",
        *read,
        "",
        *NOTES,
    ]
    write_section("review_latency", lines)


if __name__ == "__main__":
    main()
