"""Latency of the review page at 100,000 faces: the people page, a person's page, the unassigned
faces and a review page, p50 and p99, through the real HTTP server, on the embedded store and Neo4j.

Steps, per store:

1. ``make_faces(N, 128)`` (graphcluster.synth); the first ``--bootstrap`` faces go through
   ``add_faces`` (so the review queue holds the questions the pipeline asks), the rest are written
   directly (``common.pad_to``: each face in the cluster of its identity, SIMILAR edges to its
   identity's nearest faces) — the fastest honest way to a 100k graph here; the pages read the
   store, not how it was filled;
2. ``graphcluster serve`` is started as a subprocess on a free loopback port (uvicorn, its own
   process, so the client does not share its interpreter);
3. each page is fetched ``--warmup`` times, then ``--requests`` times one after another with
   urllib (a new connection each, as a browser's first visit); the wall time of each request, from
   sending it to the last byte of the body, is recorded;
4. prints the table and writes docs/benchmarks/web.md.

Usage::

    .venv/bin/python benchmarks/web.py [--n 100000] [--bootstrap 5000] [--requests 100]
        [--neo4j bolt://127.0.0.1:7687] [--no-embedded]

Neo4j's password is found as the CLI finds it (NEO4J_PASSWORD_FILE, or ./var/neo4j for a
loopback URI); the database is emptied first.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, code_version, machine, pad_to, say, write_section  # noqa: E402

TARGET_MS = 300.0  # p50 of every page at 100k faces


def build(target: str, n: int, bootstrap: int, neo4j: bool, index_dir: Path) -> dict[str, Any]:
    """Fill ``target`` with ``n`` faces (see the module docstring); returns what was built."""
    from graphcluster import GraphCluster
    from graphcluster.settings import Settings
    from graphcluster.synth import make_faces

    data = make_faces(n, dim=128, seed=1)
    if neo4j:
        from graphcluster.store.neo4j import Neo4jStore

        bare = Neo4jStore(target)
        bare.clear()
        bare.close()
    settings = Settings(index_dir=index_dir) if neo4j else Settings()
    t0 = time.perf_counter()
    with GraphCluster.open(target, settings=settings) as gc:
        for lo in range(0, bootstrap, 1000):
            gc.add_faces(data.vectors[lo : lo + 1000], ids=data.ids[lo : lo + 1000])
        say(f"bootstrap {bootstrap:,} faces through add_faces: {time.perf_counter() - t0:.0f} s")
        pad_to(gc, data, bootstrap, n)
        st = gc.stats()
        return {"faces": st.faces, "clusters": st.clusters, "by_status": dict(st.by_status),
                "questions": len(gc.review_queue(limit=1000)), "build_s": time.perf_counter() - t0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(target: str, index_dir: Path | None) -> tuple[subprocess.Popen[bytes], str]:
    """``graphcluster serve`` on a free port; returns the process and its URL once it answers."""
    port = free_port()
    cmd = [str(Path(sys.executable).with_name("graphcluster")), "--store", target]
    if index_dir is not None:
        cmd += ["--set", f"index_dir={index_dir}"]
    proc = subprocess.Popen([*cmd, "serve", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"graphcluster serve exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            fetch(url + "/people")
            return proc, url
        except OSError:
            if time.monotonic() > deadline:
                proc.terminate()
                raise SystemExit("graphcluster serve did not answer within 300 s") from None
            time.sleep(0.5)


def fetch(url: str) -> tuple[float, bytes]:
    """One GET on a new connection; returns the milliseconds to the body's last byte and the body."""
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:  # noqa: S310 (a loopback URL we built)
        body = r.read()
        if r.status != 200:
            raise OSError(f"{url}: HTTP {r.status}")
    return (time.perf_counter() - t0) * 1000, body


def measure(url: str, paths: dict[str, str], warmup: int, requests: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for name, path in paths.items():
        for _ in range(warmup):
            fetch(url + path)
        out[name] = [fetch(url + path)[0] for _ in range(requests)]
        say(f"{name}: p50 {np.percentile(out[name], 50):.1f} ms, p99 {np.percentile(out[name], 99):.1f} ms")
    return out


def pages_to_time(url: str) -> dict[str, str]:
    """The pages measured: the first and a middle people page, the largest person, the unassigned
    faces, the first review page (a face, merge or new-person question per row)."""
    people = fetch(url + "/people")[1].decode()
    total = int(m.group(1)) if (m := re.search(r"page 1 of (\d+)", people)) else 1
    largest = re.search(r'data-cluster="([^"]+)"', people)
    if largest is None:
        raise SystemExit("the people page shows no person: nothing to measure")
    review = fetch(url + "/review")[1].decode()
    if "data-item=" not in review:
        say("warning: the review page shows no question")
    return {"/people": "/people", f"/people?page={max(1, total // 2)}": f"/people?page={max(1, total // 2)}",
            "/people/<largest>": f"/people/{largest.group(1)}", "/unassigned": "/unassigned", "/review": "/review"}


def run_store(label: str, target: str, a: argparse.Namespace, neo4j: bool) -> tuple[dict[str, Any], dict[str, list[float]]]:
    index_dir = Path(tempfile.mkdtemp(prefix="gc-web-index-")) / "index" if neo4j else None
    try:
        say(f"{label}: building {a.n:,} faces")
        built = build(target, a.n, a.bootstrap, neo4j, index_dir or Path())
        say(f"{label}: built in {built['build_s']:.0f} s: {built['clusters']:,} people, {built['questions']} questions")
        proc, url = serve(target, index_dir)
        try:
            times = measure(url, pages_to_time(url), a.warmup, a.requests)
        finally:
            proc.terminate()
            proc.wait(30)
        return built, times
    finally:
        if index_dir is not None:
            shutil.rmtree(index_dir.parent, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--bootstrap", type=int, default=5_000, help="faces that go through add_faces first")
    ap.add_argument("--requests", type=int, default=100, help="timed requests per page")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--neo4j", default=None, help="bolt URI of a Neo4j to empty and measure on")
    ap.add_argument("--no-embedded", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    a = ap.parse_args()

    results: list[tuple[str, dict[str, Any], dict[str, list[float]]]] = []
    if not a.no_embedded:
        tmp = tempfile.mkdtemp(prefix="gc-web-")
        try:
            results.append(("embedded", *run_store("embedded", tmp, a, neo4j=False)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if a.neo4j:
        results.append(("neo4j", *run_store("neo4j", a.neo4j, a, neo4j=True)))

    command = ".venv/bin/python benchmarks/web.py " + " ".join(sys.argv[1:])
    if a.neo4j:
        command = command.replace(a.neo4j, "bolt://...")
    lines = ["# The review page at 100,000 faces", "",
             f"Made by `{command}` ({code_version()}).", "",
             f"Machine: {machine()}. Neo4j 5.26 Community (scripts/neo4j) on the same machine.", "",
             f"Each page fetched {a.requests} times one after another (after {a.warmup} warm-up fetches) over a new "
             "loopback connection from `graphcluster serve` running as its own process; time from sending the "
             "request to the last byte of the HTML. Target: p50 <= 300 ms.", ""]
    for store, built, _ in results:
        lines.append(f"- {store}: {built['faces']:,} faces ({a.bootstrap:,} through `add_faces`, the rest written "
                     f"directly by `common.pad_to`), {built['clusters']:,} people, {built['by_status']}, "
                     f"{built['questions']} open questions; built in {built['build_s']:.0f} s.")
    rows = [("store", "page", "p50 ms", "p99 ms", "max ms", "p50 <= 300 ms")]
    for store, _, times in results:
        for page, ms in times.items():
            p50 = float(np.percentile(ms, 50))
            rows.append((store, f"`{page}`", f"{p50:.1f}", f"{np.percentile(ms, 99):.1f}", f"{max(ms):.1f}",
                         "yes" if p50 <= TARGET_MS else "**no**"))
    table = ["| " + " | ".join(r) + " |" for r in rows]
    table.insert(1, "| " + " | ".join("---" for _ in rows[0]) + " |")
    lines += ["", *table, "",
              "`/people` and `/people?page=K` read one page of 48 people (`Store.cluster_page`) and up to 30 "
              "members of each for the covers; `/people/<largest>` reads the largest person's members and "
              "shows 60; `/unassigned` reads one page of faces in no cluster (`Store.unassigned_faces`); "
              "`/review` reads 11 questions of the queue and the clusters they name."]
    print("\n".join(table))
    if not a.no_write:
        write_section("web", lines)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
