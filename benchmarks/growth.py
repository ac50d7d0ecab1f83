"""Cost as the database grows: one batch of 1,000 at N faces, against a full re-run at N.

Steps (each configuration runs in a fresh subprocess, so peak RSS is its own):

1. ``make_faces(N + 2000, dim)`` (graphcluster.synth: FaceNet-like identities of varied size,
   look-alikes, junk faces);
2. bootstrap: ``add_faces`` of the first N faces in calls of ``--chunk`` (the engine works in
   chunks of 1,000 inside), timed (faces/s);
3. time ``add_faces`` of the last 1,000 (one batch), under cProfile when asked;
4. time ``cleanup()`` (the whole graph reclustered from scratch: what a nightly re-run costs);
5. peak RSS (``resource.getrusage``) of the process;
6. the driver prints the table, writes docs/benchmarks/growth.md and plots docs/growth.png.

Stores: the embedded one (a temporary directory) or Neo4j (``--neo4j bolt://...``; the database is
cleared first, the index lives in a temporary directory).

With ``--pad-from N0`` only the first N0 faces go through ``add_faces``; the rest of each N is
written directly through the store and the index (``common.write_direct``: every face in the
cluster that holds most of its identity, SIMILAR edges to the nearest faces of its identity).
That is how the 1M rows are made: a 1M bootstrap through ``add_faces`` takes hours here (the
Annoy queries), so the batch and ``cleanup()`` columns are measured on a graph and an index of 1M
faces, and the bootstrap column says it was padded. Checked at N = 20,000 in one run: a batch
of 1,000 cost 3.14 s on a graph padded from 10,000 and 3.54 s after a full bootstrap.

Usage::

    .venv/bin/python benchmarks/growth.py [--sizes 10000 100000] [--dims 128 512] [--neo4j URI]
        [--neo4j-sizes 10000] [--million] [--pad-from 10000] [--profile] [--results FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DOCS, code_version, machine, pad_to, peak_rss_mb, say, watch_recheck, write_section  # noqa: E402

BATCH = 1000
TARGETS = {"embedded": 2.0, "neo4j": 5.0}  # seconds for 1,000 faces at 1M (the targets of the page)
RESULTS = Path("/tmp/gc-growth-results.jsonl")


def one(store: str, n: int, dim: int, chunk: int, profile: bool, uri: str | None,
        threshold: float | None, overrides: dict[str, Any] | None = None,
        cleanup: bool = True, pad_from: int | None = None) -> dict[str, Any]:
    """Bootstrap n faces, add one batch, clean up; returns the measurements.

    With ``pad_from``: only the first ``pad_from`` faces go through ``add_faces``; the rest are
    written directly (``common.write_direct``: the cluster that holds most of their identity, edges
    to the nearest faces of their identity), so that the measured batch meets a graph and an index
    of N faces without hours of bootstrap. The bootstrap time of such a row is not a pipeline rate.
    """
    from graphcluster import GraphCluster
    from graphcluster.settings import Settings
    from graphcluster.synth import make_faces

    data = make_faces(n + 2 * BATCH, dim=dim, seed=1)
    tmp = tempfile.mkdtemp(prefix=f"gc-growth-{store}-")
    out: dict[str, Any] = {"store": store, "n": n, "dim": dim, "settings": dict(overrides or {})}
    extra = dict(overrides or {})
    try:
        if store == "neo4j":
            # empty the database first: opening a non-empty one would reconcile its faces into the new index
            from graphcluster.store.neo4j import Neo4jStore

            bare = Neo4jStore(uri or "")
            bare.clear()
            bare.close()
            gc = GraphCluster.open(uri or "", settings=Settings(index_dir=Path(tmp) / "index", threshold=threshold, **extra))
        else:
            gc = GraphCluster.open(tmp, settings=Settings(threshold=threshold, **extra))
        recheck = watch_recheck()
        with gc:
            t0 = time.perf_counter()
            last = [t0]
            through = min(n, pad_from) if pad_from else n
            for start in range(0, through, chunk):
                stop = min(through, start + chunk)
                gc.add_faces(data.vectors[start:stop], ids=data.ids[start:stop])
                if time.perf_counter() - last[0] > 20 or stop == through:
                    el = time.perf_counter() - t0
                    say(f"{store} {dim}-D: bootstrap {stop:,}/{n:,} faces, {el:.0f} s ({stop / el:.0f} faces/s)")
                    last[0] = time.perf_counter()
            out["bootstrap_s"] = time.perf_counter() - t0
            out["recheck_boot_s"], out["recheck_boot_clusters"] = recheck.take()
            if through < n:
                out["pad_from"] = through
                out["pad_s"] = pad_to(gc, data, through, n)
            # the measured batch runs without the profiler (cProfile slows Python-heavy code ~2x)
            seen = _watch_region()
            t1 = time.perf_counter()
            rep = gc.add_faces(data.vectors[n:n + BATCH], ids=data.ids[n:n + BATCH])
            out["add_s"] = time.perf_counter() - t1
            out.update(seen.pop())
            out["recheck_add_s"], out["recheck_add_clusters"] = recheck.take()
            out["add_created"] = rep.clusters_created
            if profile:  # a second batch of 1,000, profiled, only to show where the time goes
                prof = cProfile.Profile()
                t1 = time.perf_counter()
                prof.enable()
                gc.add_faces(data.vectors[n + BATCH:], ids=data.ids[n + BATCH:])
                prof.disable()
                out["profiled_add_s"] = time.perf_counter() - t1
                buf = io.StringIO()
                pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(18)
                out["profile"] = _trim(buf.getvalue())
            say(f"{store} {dim}-D N={n:,}: add 1,000 in {out['add_s']:.2f} s" + ("; cleanup ..." if cleanup else ""))
            st = gc.stats()  # the state after the batch (before any cleanup)
            out["clusters"] = st.clusters
            out["by_status"] = st.by_status
            out["link"] = st.thresholds.get("link") if isinstance(st.thresholds, dict) else None
            out["link_source"] = st.thresholds.get("source") if isinstance(st.thresholds, dict) else None
            out["index"] = {k: v for k, v in st.index.items() if k in ("kind", "segments", "delta")} \
                if isinstance(st.index, dict) else str(st.index)
            out["peak_rss_mb"] = out["peak_rss_before_cleanup_mb"] = peak_rss_mb()
            print(json.dumps(out), flush=True)  # the row so far, in case cleanup is stopped by hand
            if cleanup:
                t2 = time.perf_counter()
                crep = gc.cleanup()
                out["cleanup_s"] = time.perf_counter() - t2
                out["cleanup_moved"] = crep.faces_moved
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


class _Watch:
    """What ``build_region`` and ``recluster`` did during one ``add_faces`` (see ``_watch_region``)."""

    def __init__(self) -> None:
        self.faces = self.edges = self.seeds = 0
        self.region_s = self.recluster_s = 0.0
        self.undo: list[Any] = []
        self.parts: dict[str, int] = {}

    def pop(self) -> dict[str, Any]:
        for undo in self.undo:
            undo()
        return {"region_faces": self.faces, "region_edges": self.edges, "region_seeds": self.seeds,
                "build_region_s": round(self.region_s, 3), "recluster_s": round(self.recluster_s, 3),
                "region_parts": self.parts}


def _watch_region() -> _Watch:
    """Count the region's faces and time ``build_region`` / ``recluster`` as graphcluster calls them.

    ``graphcluster.regions`` calls them through its module globals, so wrapping those is
    enough; ``pop`` restores them and returns the counts.
    """
    import graphcluster.regions as caller

    watch = _Watch()
    build, reclust = caller.build_region, caller.recluster

    def timed_build(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        region = build(*a, **k)
        watch.region_s += time.perf_counter() - t
        watch.faces += len(region.faces)
        watch.edges += len(region.edges)
        watch.seeds += len(region.seeds)
        for key, count in region.parts.items():
            watch.parts[key] = watch.parts.get(key, 0) + count
        return region

    def timed_recluster(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        result = reclust(*a, **k)
        watch.recluster_s += time.perf_counter() - t
        return result

    caller.build_region, caller.recluster = timed_build, timed_recluster
    watch.undo.append(lambda: setattr(caller, "build_region", build))
    watch.undo.append(lambda: setattr(caller, "recluster", reclust))
    return watch


def _overrides(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> Settings overrides (values parsed as JSON when they parse)."""
    out: dict[str, Any] = {}
    for kv in pairs:
        key, sep, value = kv.partition("=")
        if not sep:
            raise SystemExit(f"--set wants KEY=VALUE, got {kv!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _trim(text: str) -> str:
    """Keep the table of a pstats print, with paths shortened to the package."""
    keep = []
    started = False
    for line in text.splitlines():
        if line.strip().startswith("ncalls"):
            started = True
        if started and line.strip():
            keep.append(line.replace(str(Path(__file__).resolve().parent.parent) + "/", "")
                        .replace(sys.prefix + "/lib/python3.11/site-packages/", ""))
    return "\n".join(keep)


def drive(args: argparse.Namespace) -> None:
    configs = [("embedded", n, d) for d in args.dims for n in args.sizes if not args.neo4j_only]
    if args.million:
        configs += [("embedded", 1_000_000, d) for d in args.dims[:1]]
    if args.neo4j:
        configs += [("neo4j", n, 128) for n in args.neo4j_sizes]
    code = code_version()
    results = []
    if args.append:  # keep the rows already in the file (e.g. embedded first, Neo4j later)
        results = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()] \
            if args.results.exists() else []
    else:
        args.results.unlink(missing_ok=True)
    for store, n, dim in configs:
        say(f"--- {store} {dim}-D N={n:,}")
        cmd = [sys.executable, __file__, "--one", store, str(n), str(dim), "--chunk", str(args.chunk)]
        if args.profile:
            cmd.append("--profile")
        if args.threshold is not None:
            cmd += ["--threshold", str(args.threshold)]
        for kv in args.set:
            cmd += ["--set", kv]
        if args.no_cleanup:
            cmd.append("--no-cleanup")
        if args.pad_from and n > args.pad_from:
            cmd += ["--pad-from", str(args.pad_from)]
        if store == "neo4j":
            cmd += ["--neo4j", args.neo4j]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)  # progress (stderr) streams through
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            results.append({"store": store, "n": n, "dim": dim, "error": f"exit code {proc.returncode} (see stderr)"})
        else:
            results.append(json.loads(lines[-1]))
            if proc.returncode:
                results[-1]["cleanup_stopped"] = f"exit code {proc.returncode}"
        results[-1]["command"] = ".venv/bin/python benchmarks/growth.py " + " ".join(sys.argv[1:])
        results[-1]["code"] = code
        with args.results.open("a") as fh:
            fh.write(json.dumps(results[-1]) + "\n")
        print(table_row(results[-1]), flush=True)
    if not args.no_write:
        write(args, results)


HEADER = ("| store | dim | settings | N | bootstrap s (faces/s) | add 1,000 s | vs 10k | cleanup() s | cleanup / add | "
          "clusters | unassigned | link (source) | peak RSS MiB | code |")


def table_row(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"| {r['store']} | {r['dim']} | {_settings(r)} | {r['n']:,} | failed: {r['error']} |  |  |  |  |  |  |  |  |  |"
    ratio = r.get("vs10k")
    clean = (f"{r['cleanup_s']:.1f} | x{r['cleanup_s'] / r['add_s']:.1f}" if "cleanup_s" in r else
             f"stopped ({r['cleanup_stopped']}) | –" if r.get("cleanup_stopped") else "not run | –")
    boot = (f"padded: {r['pad_from']:,} via add_faces in {r['bootstrap_s']:.0f} s, the rest written directly in "
            f"{r['pad_s']:.0f} s" if r.get("pad_from") else f"{r['bootstrap_s']:.0f} ({r['n'] / r['bootstrap_s']:.0f})")
    return (f"| {r['store']} | {r['dim']} | {_settings(r)} | {r['n']:,} | {boot} | "
            f"{r['add_s']:.2f} | {f'x{ratio:.2f}' if ratio else '–'} | {clean} | {r['clusters']:,} | "
            f"{r['by_status'].get('unassigned', 0) / max(sum(r['by_status'].values()), 1):.2f} | {r.get('link') or 0:.3f} ({r.get('link_source')}) | "
            f"{r['peak_rss_mb']:.0f} | {str(r.get('code', '?')).split(' with')[0].replace('commit ', '')} |")


PARTS = ("near", "small", "large", "audit")


def region_table(rows: list[dict[str, Any]]) -> list[str]:
    """The clustering share of the measured batch: its region and the two steps' seconds."""
    rows = [r for r in rows if r.get("region_faces")]
    if not rows:
        return []
    out = ["The clustering part of the measured batch (its cost must not grow with N): the faces of",
           "its region (`build_region`) by where they came from (`Region.parts`: the seeds' neighbours closer",
           "than `review`, whole small clusters, the nearest members of large clusters, whole-cluster audits),",
           "and the seconds of `build_region` and `recluster` within the add. The growth re-check",
           "(`Reclusterer.recheck_grown`: clusters that crossed a size level re-clustered whole, docs/clustering.md)",
           "is part of those seconds; its own seconds (the clusters it re-checked) are shown for the add and for",
           "the whole bootstrap, with their share of each.", "",
           "| store | N | region faces (per new face) | " + " | ".join(PARTS) + " | SIMILAR edges | build_region s | recluster s "
           "| re-check s in the add (clusters, share) | re-check s in the bootstrap (clusters, share) | code |",
           "|" + "---|" * (9 + len(PARTS))]
    for r in rows:
        parts = r.get("region_parts") or {}
        out.append(f"| {r['store']} | {r['n']:,} | {r['region_faces']:,} ({r['region_faces'] / max(r['region_seeds'], 1):.1f}) | "
                   + " | ".join(f"{parts.get(p, 0):,}" for p in PARTS)
                   + f" | {r['region_edges']:,} | {r['build_region_s']:.2f} | {r['recluster_s']:.2f} | "
                   f"{_recheck(r, 'add')} | {_recheck(r, 'boot')} | "
                   f"{str(r.get('code', '?')).split(' with')[0].replace('commit ', '')} |")
    return out + [""]


def _recheck(r: dict[str, Any], part: str) -> str:
    seconds, total = r.get(f"recheck_{part}_s"), r["add_s" if part == "add" else "bootstrap_s"]
    if seconds is None or r.get("pad_from") and part == "boot":
        return "–"
    return f"{seconds:.2f} ({r[f'recheck_{part}_clusters']:,}, {seconds / total:.0%})"


def write(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    ok = [r for r in results if "error" not in r]
    # the 10k baseline of a row: same store, dimension, settings and code (the calibration may
    # differ with N: see the notes)
    key = lambda r: (r["store"], r["dim"], _settings(r), r.get("code"))  # noqa: E731
    base = {key(r): r["add_s"] for r in ok if r["n"] == 10_000}
    for r in ok:
        b = base.get(key(r))
        r["vs10k"] = r["add_s"] / b if b and r["n"] != 10_000 else None
    cmd = (f"`.venv/bin/python benchmarks/growth.py --sizes {' '.join(map(str, args.sizes))} --dims "
           f"{' '.join(map(str, args.dims))}" + (f" --neo4j {args.neo4j} --neo4j-sizes "
                                                  f"{' '.join(map(str, args.neo4j_sizes))}" if args.neo4j else "")
           + (" --million" if args.million else "") + (f" --threshold {args.threshold}" if args.threshold else "") + (" --profile" if args.profile else "") + "`")
    ran = sorted({r["command"] for r in results if r.get("command")})
    if ran:
        cmd = "; ".join(f"`{c}`" for c in ran)
    lines = [
        "## Cost as the database grows",
        "",
        f"Command: {cmd}. Machine: {machine()}; "
        + "; ".join(sorted({r.get("code", code_version()) for r in results})) + ".",
        "",
        "Synthetic FaceNet-like faces (`graphcluster.synth.make_faces`, seed 1: heavy-tailed identity sizes,",
        "10% look-alike identities, 3% junk). Bootstrap = `add_faces` of N faces in calls of "
        f"{args.chunk:,}; then one",
        "`add_faces` of 1,000 new faces (timed alone, no profiler); with `--profile` a second batch of 1,000",
        "runs under cProfile (its profile is shown below; it is not the timed one); then `cleanup()`, the",
        "full constraint-aware pass over everything (what a from-scratch re-run costs). "
        + (f"`Settings(threshold={args.threshold})`, other settings default: on this synthetic data the calibration "
           "falls back to a link of about 0.02 and clusters nothing (see the report), so the link is set by hand "
           "(same-person pairs are about 0.45 apart here, other people 1.1-1.4)." if args.threshold else
           "Default settings.") + " Neo4j rows use a local",
        "Neo4j 5.26 Community (`scripts/neo4j`, page cache 512 MiB) with the index in a temporary",
        "directory. Each row is a fresh process (peak RSS is its own; for Neo4j, the Python side only).",
        "",
        HEADER,
        "|" + "---|" * (HEADER.count("|") - 1),
        *[table_row(r) for r in results],
        "",
        *region_table(ok),
        "Targets: add 1,000 at 1M <= 2 s embedded, <= 5 s Neo4j, and <= 2x its cost at 10k;",
        "bootstrap of 1M <= 15 min embedded.",
        "",
        *verdicts(args, ok),
        "",
    ]
    profiles = [r for r in ok if r.get("profile")]
    if profiles:
        worst = [p for p in profiles if p["n"] == max(q["n"] for q in profiles)]
        for r in worst:
            lines += [f"Profile of a 1,000-face `add_faces` at N = {r['n'] + BATCH:,} ({r['store']}, {r['dim']}-D, "
                      f"code {str(r.get('code', '?')).split(' with')[0].replace('commit ', '')}), "
                      f"cProfile, cumulative ({r['profiled_add_s']:.1f} s under the profiler):", "", "```", r["profile"], "```", ""]
    lines += notes(ok)
    lines.append("![cost vs N](../growth.png)")
    write_section("growth", lines)
    plot(ok, DOCS / "growth.png")
    plot_region(ok, DOCS / "region.png")


def notes(ok: list[dict[str, Any]]) -> list[str]:
    """How to read the rows: true of any run of this script, with the parts that depend on the
    rows (padding, the calibration's source at each N) read from them."""
    out = ["Reading the table:", ""]
    if any(r.get("pad_from") for r in ok):
        out += [
            "- **Padded rows** (`--pad-from`): the first faces go through `add_faces`, the rest are written",
            "  directly with their identity's cluster and edges (`common.write_direct`), into the same store and",
            "  the same segmented index. The batch and `cleanup()` columns are measured on that graph; the",
            "  bootstrap column is not a pipeline rate.",
        ]
    sources = sorted({(r["store"], r["n"], r.get("link_source")) for r in ok}, key=lambda x: (x[0], x[1]))
    out += [
        "- **The neighbour search**: Annoy segments scan their vectors when the calibrated effort passes",
        "  `SCAN_FRACTION` of the segment, and the exact top-k uses chunk maxima (docs/index.md, step 4;",
        "  docs/benchmarks/annoy_scan.md); segments calibrate to the neighbours closer than `review`.",
        "  `--set index=hnsw` measures the sublinear index (docs/benchmarks/index.md).",
        "- **The region is bounded per new face**, not by N: it grows with N only until the seeds of a batch",
        "  stop sharing clusters (docs/clustering.md, \"The region as the graph grows\").",
        "- **The calibration** of this synthetic data, by row: "
        + "; ".join(f"{store} {n:,}: {src}" for store, n, src in sources) + ".",
        *fallback_note([f"{store} {n:,}" for store, n, src in sources if src == "fallback"]),
        "- **Neo4j**: the region is the same as embedded; reading it over Bolt is the difference (the",
        "  profile shows it under `build_region`). The driver's Rust codec (`pip install graphcluster[fast]`)",
        "  decodes the rows faster.",
        "- **`cleanup()`** (the whole graph reclustered: what a from-scratch re-run costs) holds the whole",
        "  graph in memory; the peak RSS column includes it (and the process also holds the generated vectors).",
        "- **Bootstrap** through `add_faces` slows as the graph grows, so a linear projection of the",
        "  bootstrap rate to 1M is a lower bound.",
        "",
    ]
    return out


def fallback_note(rows: list[str]) -> list[str]:
    """The rows whose link ended as a fallback: the growth re-check did not run in their measured
    batch (docs/clustering.md), so they do not show its cost."""
    if not rows:
        return []
    return [f"  In {', '.join(rows)} the link is a fallback: the growth re-check does not run there, so those",
            "  rows do not show its cost; docs/benchmarks/robustness.md times it on real faces."]


def verdicts(args: argparse.Namespace, ok: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in ok:
        tgt = TARGETS[r["store"]]
        if r["n"] >= 1_000_000:
            out.append(f"- {r['store']} {r['dim']}-D at 1M: add 1,000 {r['add_s']:.2f} s vs target {tgt} s "
                       f"({'met' if r['add_s'] <= tgt else 'missed by x%.1f' % (r['add_s'] / tgt)}); "
                       + ("bootstrap not measured (padded graph)" if r.get("pad_from") else
                          f"bootstrap {r['bootstrap_s'] / 60:.1f} min vs 15 min"))
        if r.get("vs10k"):
            out.append(f"- {r['store']} {r['dim']}-D: add 1,000 at {r['n']:,} costs x{r['vs10k']:.2f} its cost at 10k "
                       f"(target <= x2: {'met' if r['vs10k'] <= 2 else 'missed'}); absolute {r['add_s']:.2f} s vs the "
                       f"1M target {tgt} s ({'within' if r['add_s'] <= tgt else 'already above'})")
        largest = max((q["n"] for q in ok if _series(q) == _series(r) and not q.get("pad_from")), default=0)
        if r["store"] == "embedded" and r["n"] == largest < 1_000_000 and not r.get("pad_from"):
            proj = r["bootstrap_s"] / r["n"] * 1_000_000 / 60
            out.append(f"- embedded {r['dim']}-D: bootstrap of {r['n']:,} ran at {r['n'] / r['bootstrap_s']:.0f} faces/s; "
                       f"at that rate 1M would take {proj:.0f} min (linear projection, not a measurement; target 15 min)")
    for k in sorted({_series(r) for r in ok}):
        rs = sorted((r for r in ok if _series(r) == k and not r.get("pad_from")), key=lambda r: r["n"])
        store, dim = k[0], k[1]
        if len(rs) >= 2 and rs[0]["n"] != rs[-1]["n"]:
            a, b = rs[0], rs[-1]
            out.append(f"- {store} {dim}-D bootstrap rate fell from {a['n'] / a['bootstrap_s']:.0f} faces/s "
                       f"(N = {a['n']:,}) to {b['n'] / b['bootstrap_s']:.0f} faces/s (N = {b['n']:,}): "
                       "the cost per face grows with N, so the linear projection above is a lower bound")
    have = {(r["store"], r["n"], r["dim"]) for r in ok}
    missing = [f"{d}-D N = {n:,}" for d in args.dims for n in args.sizes if ("embedded", n, d) not in have]
    if missing:
        out.append(f"- not in the rows: embedded {', '.join(missing)}.")
    if not any(r["n"] >= 1_000_000 for r in ok):
        out.append("- no 1M row (it needs `--million`): the 1M targets are not measured.")
    elif not any(r["n"] >= 1_000_000 and not r.get("pad_from") for r in ok):
        out.append("- the 1M rows are padded (`--pad-from`): the add and cleanup columns are measured on a graph and "
                   "an index of 1M faces; a 1M bootstrap through `add_faces` was not run (see the projections).")
    return out


def _series(r: dict[str, Any]) -> tuple[str, int, str, str]:
    """Rows of one line in the plot: same store, dimension, settings and code."""
    return r["store"], r["dim"], _settings(r), str(r.get("code", "?")).split(" with")[0].replace("commit ", "")


def _settings(r: dict[str, Any]) -> str:
    """The Settings overrides of a row, as written on the command line ('default' when none)."""
    return " ".join(f"{k}={v}" for k, v in sorted((r.get("settings") or {}).items())) or "default"


def plot(ok: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:grey")
    for k, colour in zip(sorted({_series(r) for r in ok}), colours):
        rs = sorted((r for r in ok if _series(r) == k), key=lambda r: r["n"])
        ns = [r["n"] for r in rs]
        tag = f"{k[0]}, {k[1]}-D, {k[2]}, {k[3]}"
        ax.plot(ns, [r["add_s"] for r in rs], "o-", color=colour, label=f"add 1,000 ({tag})")
        cl = [r for r in rs if "cleanup_s" in r]
        if cl:
            ax.plot([r["n"] for r in cl], [r["cleanup_s"] for r in cl], "s--", color=colour, label=f"cleanup() ({tag})")
    for store, t in TARGETS.items():
        ax.axhline(t, color="grey", lw=0.7, ls=":")
        ax.text(0.01, t, f"target at 1M, {store}", fontsize=7, va="bottom", transform=ax.get_yaxis_transform())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("faces already in the database (N)")
    ax.set_ylabel("seconds")
    ax.set_title("Adding one batch of 1,000 vs reclustering everything")
    ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    say(f"wrote {path}")


def plot_region(rows: list[dict[str, Any]], path: Path) -> None:
    """Stacked bars: the region of the measured batch by where its faces came from, per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted((r for r in rows if r.get("region_faces")), key=lambda r: (r["store"], r["n"]))
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    names = [f"{r['store']}\nN = {r['n']:,}" for r in rows]
    bottom = [0.0] * len(rows)
    for part, colour in zip(("seeds",) + PARTS, ("tab:grey", "tab:blue", "tab:green", "tab:orange", "tab:red")):
        vals = [float((r.get("region_parts") or {}).get(part, 0)) for r in rows]
        ax.bar(names, vals, bottom=bottom, color=colour, label=part)
        bottom = [b + v for b, v in zip(bottom, vals)]
    for i, r in enumerate(rows):
        ax.text(i, bottom[i], f"{r['region_faces']:,} faces\n{r['build_region_s'] + r['recluster_s']:.2f} s",
                ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, max(bottom) * 1.2)
    ax.set_ylabel("faces in the region of one batch of 1,000")
    ax.set_title("Where a batch's region comes from as the graph grows\n(label: region faces, build_region + recluster seconds)",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    say(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--dims", type=int, nargs="+", default=[128, 512])
    ap.add_argument("--neo4j", default=None, help="bolt URI of a Neo4j server to measure too (it is cleared!)")
    ap.add_argument("--neo4j-sizes", type=int, nargs="+", default=[10_000])
    ap.add_argument("--neo4j-only", action="store_true", help="skip the embedded rows")
    ap.add_argument("--results", type=Path, default=RESULTS, help=f"the rows file (default {RESULTS})")
    ap.add_argument("--append", action="store_true", help="add to the rows already in the rows file")
    ap.add_argument("--million", action="store_true", help="also N = 1,000,000 (embedded, first dim)")
    ap.add_argument("--chunk", type=int, default=10_000, help="faces per bootstrap add_faces call")
    ap.add_argument("--profile", action="store_true", help="cProfile the 1,000-face batch")
    ap.add_argument("--threshold", type=float, default=None,
                    help="Settings(threshold=...); None = calibrate (see docs/benchmarks/growth.md on synthetic data)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a Settings override for every row (repeatable), e.g. --set index=hnsw --set region_limit=30")
    ap.add_argument("--no-cleanup", action="store_true", help="skip the cleanup() column (slow at 1M)")
    ap.add_argument("--pad-from", type=int, default=None, metavar="N0",
                    help="bootstrap only N0 faces through add_faces and write the rest of each N directly "
                         "(ground-truth clusters, edges within identities): the add and cleanup columns are "
                         "measured on a graph of N faces, the bootstrap column is not a pipeline rate")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--render", action="store_true",
                    help="only rewrite the section and plot from the rows file, running nothing")
    ap.add_argument("--plot-region", type=Path, default=None, metavar="PNG",
                    help="only plot the region parts of the rows in the rows file (e.g. docs/region.png)")
    ap.add_argument("--one", nargs=3, metavar=("STORE", "N", "DIM"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        store, n, dim = args.one[0], int(args.one[1]), int(args.one[2])
        print(json.dumps(one(store, n, dim, args.chunk, args.profile, args.neo4j, args.threshold,
                             _overrides(args.set), not args.no_cleanup, args.pad_from)), flush=True)
        return
    if args.plot_region:
        plot_region([json.loads(line) for line in args.results.read_text().splitlines() if line.strip()], args.plot_region)
        return
    if args.render:
        write(args, [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()])
        return
    drive(args)


if __name__ == "__main__":
    main()
