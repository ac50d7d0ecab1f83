"""Kill -9, the long run: SIGKILL at hundreds of random points per store, the database checked after each.

Steps, per store (tests/faults/workload.py does the work; tests/faults/test_kill9.py is the
short version CI runs):

1. a child process opens the database and keeps using the public API as a user would:
   batches of faces from lfw_dlib128 (some of more than one 1,000-face chunk, some faces
   sharing a photo), review answers, must-links, cannot-links, assign, remove, lock, unlock,
   name, merge, undo and cleanup, logging each call before it starts and after it returns
   (fsync'd), so the log holds exactly what was acknowledged;
2. the parent kills it with SIGKILL: after a random delay, or right after a random number of
   store writes; on Neo4j every ``--server-every``-th point kills the *server* with SIGKILL
   instead (the child dies with its connection) and starts it again;
3. the parent reopens the database (which repairs what the crash left half-done) and checks:
   every acknowledged face is stored once with its vector; nothing unacknowledged is stored
   beyond whole chunks of the call in flight, which ``stats().interrupted_add`` reports; every
   acknowledged decision is there once and in force; must-links, cannot-links and locks hold;
   ``check()`` is clean; the next child run starts with a batch on the reopened database;
4. after the last point one more batch, then ``check()``.

The table counts points by how the process died, the call in flight and what became of it;
a point with any broken promise is a "problem" and is listed below the table.

    .venv/bin/python benchmarks/faults.py [--points 200] [--server-every 10] [--stores embedded,neo4j]

For Neo4j it starts its own server (scripts/neo4j, auth on, data in var/neo4j-faults/, free
ports) and stops it at the end. Writes docs/benchmarks/faults.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "faults"))
from common import ROOT, code_version, machine, say, write_section  # noqa: E402
from workload import Neo4jServer, Point, final_batch, load_faces, run_points  # noqa: E402

NOTES = [
    "How to read it: *how* is what killed the process (a timer, SIGKILL right after the named store",
    "write, or the Neo4j server killed under it); *in flight* is the call the acknowledgement log",
    "shows begun and not acknowledged; *outcome* is what the reopened database holds of it: a",
    "decision either recorded and in force (the open finished applying it) or not recorded at",
    "all, an `add_faces` call stored whole, not at all, or in whole 1,000-face chunks (reported",
    "by `stats().interrupted_add` until re-sent), a cleanup cut off (one transaction: all or",
    "nothing). *Reopen* is the time of the `GraphCluster` open that repaired the crash.",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_neo4j(data_dir: Path) -> tuple[str, Neo4jServer]:
    """A fresh scripts/neo4j server of our own; sets this process's Neo4j credentials."""
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {**os.environ, "NEO4J_DATA_DIR": str(data_dir), "NEO4J_BOLT_PORT": str(_free_port()),
           "NEO4J_HTTP_PORT": str(_free_port())}
    subprocess.run([str(ROOT / "scripts/neo4j"), "start"], env=env, check=True, stdout=sys.stderr)
    os.environ.update({"NEO4J_USER": "neo4j", "NEO4J_PASSWORD_FILE": str(data_dir / "neo4j.password"),
                       "NEO4J_DATA_DIR": str(data_dir)})
    os.environ.pop("NEO4J_PASSWORD", None)
    server = Neo4jServer.from_environment()
    assert server is not None
    return f"bolt://127.0.0.1:{env['NEO4J_BOLT_PORT']}", server


def run_store(label: str, target: str, work: Path, a: argparse.Namespace, server: Neo4jServer | None,
              index_dir: str | None) -> tuple[list[Point], list[str], float]:
    t0 = time.perf_counter()
    points = []
    for p in run_points(target, work, a.points, seed=a.seed, index_dir=index_dir, server=server,
                        server_every=a.server_every if server else 0, max_faces=a.max_faces):
        points.append(p)
        say(f"{label} point {p.n}/{a.points}: {p.how}, {p.op}: {p.outcome}"
            + (f"; PROBLEMS: {p.problems}" if p.problems else ""))
    final = final_batch(target, index_dir, work, a.seed, a.max_faces)
    return points, final, time.perf_counter() - t0


def table(results: list[tuple[str, list[Point], list[str], float]]) -> list[str]:
    lines = ["| store | points | by a timer | after a store write | server killed | points with a problem "
             "| batch after the last point | reopen p50 / max (s) | run (min) |",
             "|---|---:|---:|---:|---:|---:|---|---|---:|"]
    for label, points, final, seconds in results:
        how = Counter("server" if p.how == "server" else "timer" if p.how == "timer" else "write" for p in points)
        opens = [p.open_seconds for p in points]
        lines.append(f"| {label} | {len(points)} | {how['timer']} | {how['write']} | {how['server']} | "
                     f"{sum(1 for p in points if p.problems)} | {'ok, check() clean' if not final else '; '.join(final)} | "
                     f"{statistics.median(opens):.2f} / {max(opens):.2f} | {seconds / 60:.1f} |")
    lines += ["", "| store | how | in flight | outcome | points | with a problem |", "|---|---|---|---|---:|---:|"]
    for label, points, _, _ in results:
        rows = Counter((p.how, p.op, p.outcome) for p in points)
        bad = Counter((p.how, p.op, p.outcome) for p in points if p.problems)
        for (how, op, outcome), n in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
            lines.append(f"| {label} | {how} | {op} | {outcome} | {n} | {bad[(how, op, outcome)]} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200, help="kill points per store")
    ap.add_argument("--server-every", type=int, default=10, help="on Neo4j, kill the server at every n-th point")
    ap.add_argument("--stores", default="embedded,neo4j")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-faces", type=int, default=2500, help="faces a run may store (lfw_dlib128 rows)")
    a = ap.parse_args()
    stores = [s.strip() for s in a.stores.split(",") if s.strip()]
    faces = load_faces(a.seed, a.max_faces)
    say(f"faces from {faces.source}, up to {a.max_faces}")
    results = []
    with tempfile.TemporaryDirectory(prefix="gc-faults-") as tmp:
        for label in stores:
            work = Path(tmp) / label
            if label == "embedded":
                results.append((label, *run_store(label, str(work / "db"), work, a, None, None)))
            elif label == "neo4j":
                uri, server = start_neo4j(ROOT / "var" / "neo4j-faults")
                try:
                    results.append((label, *run_store(label, uri, work, a, server, str(work / "index"))))
                finally:
                    subprocess.run([str(ROOT / "scripts/neo4j"), "stop"], env=server.env, check=False,
                                   stdout=sys.stderr)
            else:
                sys.exit(f"unknown store {label!r}: use embedded and/or neo4j")

    command = "python benchmarks/faults.py " + " ".join(sys.argv[1:])
    lines = [
        "# Kill -9: random SIGKILLs, then the database checked",
        "",
        f"Command: `{command.strip()}`; {code_version()}.",
        f"Machine: {machine()}. Neo4j 5.26 Community (scripts/neo4j) on the same machine.",
        f"Faces: {faces.source}, up to {a.max_faces} stored per run; on Neo4j the server is killed with SIGKILL "
        f"and restarted at every {a.server_every}th point.",
        "",
        *table(results),
        "",
        *NOTES,
    ]
    problems = [(label, p) for label, points, _, _ in results for p in points if p.problems]
    if problems:
        lines += ["", "Points with a problem:", ""]
        lines += [f"- {label} point {p.n} ({p.how}, {p.op}): {'; '.join(p.problems)[:500]}" for label, p in problems]
    print("\n".join(lines))
    if len(stores) == 2:
        write_section("faults", lines)
    else:
        say("one store only: docs/benchmarks/faults.md not written (it holds both stores)")


if __name__ == "__main__":
    main()
