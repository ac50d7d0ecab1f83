"""The kill -9 workload: a child process that uses graphcluster, and the parent's checks.

The child (``python workload.py child ...``) opens a database and keeps calling the public API
as a user would: batches of faces (some of more than one 1,000-face chunk, some faces sharing a
photo), review answers, must-links, cannot-links, assign, remove, lock, unlock, name, merge,
undo and cleanup. Before each call it appends a ``begin`` line to an acknowledgement log and
after it an ``ack`` line (what the call returned), each written and fsync'd before the next
call, so the log holds exactly what was acknowledged. It dies by SIGKILL: sent by the parent
after a random delay, or sent to itself right after the N-th write it made to the store (a
``kill`` line names that write first), or when the parent kills the Neo4j server under it.

The parent (``run_points``) starts a child per point, kills it, reopens the database (which
repairs what the crash left half-done) and ``check_point`` verifies, against the log: every
acknowledged face is stored exactly once with the vector sent; a face nobody acknowledged is
only one of the call in flight, and of it whole 1,000-face chunks only, reported by
``stats().interrupted_add`` when part of it is missing; every acknowledged decision is there
exactly once and in force unless acknowledged undone; no decision of an unacknowledged call but
the one in flight; must-linked faces share a cluster, cannot-linked faces do not; a locked
cluster keeps its members unless a human decision was in flight; ``GraphCluster.check()`` is
clean. The next child run starts with a batch, so every point also checks that the next batch
works on the reopened database.

Used by tests/faults/test_kill9.py (short runs) and benchmarks/faults.py (the long run).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
LFW = Path(os.environ.get("GRAPHCLUSTER_SAMPLE_DATA", REPO.parent / "shared/data/lfw_dlib128"))
CHUNK = 1000  # graphcluster.ingest.CHUNK, the unit of the crash contract
WRITES = ("add_faces", "apply_clustering", "add_decision", "undo_decision", "set_meta", "put_reviews",
          "update_cluster", "set_review_status")
DECISION_OPS = ("same_person", "different_person", "assign", "remove", "lock", "unlock", "name", "merge")


# -- the faces ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Faces:
    """The vectors a run draws from, in a fixed order: lfw_dlib128 when present, else synthetic."""

    vectors: np.ndarray
    labels: list[str]
    ids: list[str]
    source: str

    def rows(self, ids: list[str]) -> np.ndarray:
        pos = self.position
        return self.vectors[[pos[i] for i in ids]]

    @property
    def position(self) -> dict[str, int]:
        return {fid: i for i, fid in enumerate(self.ids)}


def load_faces(seed: int, limit: int) -> Faces:
    if (LFW / "embeddings.npy").exists():
        x = np.load(LFW / "embeddings.npy").astype(np.float32)
        with open(LFW / "faces.csv", newline="") as fh:
            labels = [row["identity"] for row in csv.DictReader(fh)]
        perm = np.random.default_rng(seed).permutation(len(x))[:limit]
        return Faces(x[perm], [labels[i] for i in perm], [f"lfw{int(i):05d}" for i in perm], "lfw_dlib128")
    from graphcluster.synth import make_faces

    s = make_faces(limit, seed=seed)
    return Faces(s.vectors, [str(v) for v in s.labels], [f"s{i:05d}" for i in range(limit)], "synthetic")


def metadata_for(fid: str, position: int) -> dict[str, Any]:
    """Every 12th face shares its photo with the one before it (a same-image cannot-link)."""
    photo = position - 1 if position % 12 == 11 else position
    return {"image": f"photo{photo:05d}.jpg", "source": "faults"}


# -- the acknowledgement log -------------------------------------------------------------------
class AckLog:
    """Append-only JSON lines, each fsync'd before the call that follows it."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "a", encoding="utf-8")

    def write(self, **entry: Any) -> None:
        self._fh.write(json.dumps(entry, sort_keys=True) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by the kill was never acknowledged
            continue
    return out


# -- the child ---------------------------------------------------------------------------------
def open_database(target: str, index_dir: str | None) -> Any:
    from graphcluster import GraphCluster, Settings

    settings = Settings(index_dir=Path(index_dir)) if index_dir else Settings()
    return GraphCluster.open(target, settings=settings)


def _die_after_writes(store: Any, n: int, log: AckLog, run: int) -> None:
    """SIGKILL this process right after its ``n``-th write to the store has returned."""
    count = [0]
    for name in WRITES:
        real = getattr(store, name)

        def wrapped(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            out = _real(*args, **kwargs)
            count[0] += 1
            if count[0] >= n:
                log.write(phase="kill", run=run, after=_name, writes=count[0])
                os.kill(os.getpid(), signal.SIGKILL)
            return out

        setattr(store, name, wrapped)


def _locked_snapshot(gc: Any) -> dict[str, list[str]]:
    locked = [c.id for c in gc.clusters() if c.locked]
    return {cid: sorted(m) for cid, m in gc.store.cluster_members(locked).items()}


class Child:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.faces = load_faces(args.data_seed, args.max_faces)
        self.pos = self.faces.position
        self.label = dict(zip(self.faces.ids, self.faces.labels))
        self.log = AckLog(Path(args.log))
        self.run = args.run
        self.seq = 0

    def call(self, op: str, fn: Any, **info: Any) -> Any:
        from graphcluster.errors import ConstraintConflict, InvalidInput, NotFound

        self.seq += 1
        tag = f"r{self.run}n{self.seq}"
        self.log.write(phase="begin", run=self.run, seq=self.seq, tag=tag, op=op, **info)
        try:
            result = fn(tag)
        except (ConstraintConflict, InvalidInput, NotFound) as exc:
            # a refused call changes nothing in force; a bulk answer refused part-way leaves the
            # decisions it made undone in the audit trail (all or nothing, docs/reliability.md)
            made = [d.id for d in self.gc.decisions() if d.by == tag]
            self.log.write(phase="ack", run=self.run, seq=self.seq, tag=tag, op=op, refused=type(exc).__name__,
                           decisions=made, locked=_locked_snapshot(self.gc))
            return None
        mine = [d.id for d in self.gc.decisions() if d.by == tag]
        self.log.write(phase="ack", run=self.run, seq=self.seq, tag=tag, op=op, result=result, decisions=mine,
                       locked=_locked_snapshot(self.gc))
        return result

    # -- operations ----------------------------------------------------------------------------
    def add(self, ids: list[str]) -> None:
        fresh = sorted(set(ids) - self.gc.store.existing_face_ids(ids), key=ids.index)

        def go(tag: str) -> dict[str, Any]:
            meta = [metadata_for(f, self.pos[f]) for f in ids]
            r = self.gc.add_faces(self.faces.rows(ids), ids=ids, metadata=meta)
            return {"added": r.added, "skipped": len(r.skipped), "skipped_changed": r.skipped_changed,
                    "completed_interrupted": r.completed_interrupted}

        self.call("add", go, ids=ids, fresh=fresh)

    def next_ids(self, stored: set[str], n: int) -> list[str]:
        return [f for f in self.faces.ids if f not in stored][:n]

    def step(self) -> None:
        gc, rng = self.gc, self.rng
        stored = set(gc.store.face_ids())
        members = {f: c for f, c in gc.assignments().items()}
        clustered = sorted(f for f, c in members.items() if c)
        clusters = [c.id for c in gc.clusters()]
        roll = rng.random()
        room = self.args.max_faces - len(stored)
        if roll < 0.34 and room > 0:
            n = rng.choice([1100, 1400]) if rng.random() < self.args.big_share else rng.choice([20, 50, 100, 150])
            self.add(self.next_ids(stored, min(n, room)))
        elif roll < 0.42 and len(clustered) >= 2:
            by_label: dict[str, list[str]] = {}
            for f in clustered:
                by_label.setdefault(self.label[f], []).append(f)
            groups = [g for g in by_label.values() if len(g) >= 2]
            a, b = rng.sample(rng.choice(groups), 2) if groups else rng.sample(clustered, 2)
            self.call("same_person", lambda tag: gc.same_person(a, b, by=tag).id, a=a, b=b)
        elif roll < 0.50 and len(clustered) >= 2:
            mixed = [(f, g) for c in clusters[:50] for f in gc.store.cluster_members([c])[c][:1]
                     for g in gc.store.cluster_members([c])[c][1:] if self.label[f] != self.label[g]]
            a, b = rng.choice(mixed) if mixed else rng.sample(clustered, 2)
            self.call("different_person", lambda tag: gc.different_person(a, b, by=tag).id, a=a, b=b)
        elif roll < 0.55 and clustered and len(clusters) >= 2:
            f, c = rng.choice(clustered), rng.choice(clusters)
            self.call("assign", lambda tag: gc.assign(f, c, by=tag).id, a=f, b=c)
        elif roll < 0.59 and clustered:
            f = rng.choice(clustered)
            self.call("remove", lambda tag: gc.remove(f, by=tag).id, a=f, b=members[f])
        elif roll < 0.65 and clusters:
            c = rng.choice(clusters[:20])
            self.call("lock", lambda tag: gc.lock(c, by=tag).id, a=c)
        elif roll < 0.68 and clusters:
            locked = [x.id for x in gc.clusters() if x.locked]
            c = rng.choice(locked or clusters)
            self.call("unlock", lambda tag: gc.unlock(c, by=tag).id, a=c)
        elif roll < 0.71 and clusters:
            c = rng.choice(clusters)
            self.call("name", lambda tag: gc.name(c, f"person {rng.randrange(1000)}", by=tag).id, a=c)
        elif roll < 0.75 and len(clusters) >= 2:
            ca, cb = rng.sample(clusters[:30], 2) if len(clusters) >= 30 else rng.sample(clusters, 2)
            self.call("merge", lambda tag: gc.merge(ca, cb, by=tag).id, a=ca, b=cb)
        elif roll < 0.82:
            mine = [d for d in gc.decisions() if not d.undone and (d.by or "").startswith("r")]
            if mine:
                d = rng.choice(mine)
                self.call("undo", lambda tag: gc.undo(d.id, by=tag).id, target=d.id, kind=d.kind)
        elif roll < 0.94:
            items = gc.review_queue(limit=5)
            if items:
                item = rng.choice(items)
                faces = item.faces_a + item.faces_b
                same = len({self.label[f] for f in faces if f in self.label}) == 1
                reply = "skip" if rng.random() < 0.1 else ("yes" if same else "no")

                def go(tag: str) -> str | None:
                    d = gc.answer(item.id, reply, by=tag)
                    return d.id if d is not None else None

                self.call("answer", go, review=item.id, reply=reply, kind=item.kind)
        else:
            self.call("cleanup", lambda tag: gc.cleanup().faces_moved)

    def main(self) -> None:
        self.gc = open_database(self.args.target, self.args.index_dir)
        self.log.write(phase="open", run=self.run)
        if self.args.die_after:
            _die_after_writes(self.gc.store, self.args.die_after, self.log, self.run)
        # a user re-sends a call that was cut off; a fresh run starts with a batch
        unfinished = last_unacked_add(read_log(Path(self.args.log)))
        if unfinished is not None and self.gc.stats().interrupted_add:
            self.add(unfinished)
        else:
            stored = set(self.gc.store.face_ids())
            batch = self.next_ids(stored, 50)
            if batch:
                self.add(batch)
        for _ in range(self.args.ops):
            self.step()
        self.gc.close()
        self.log.write(phase="done", run=self.run)


def last_unacked_add(entries: list[dict[str, Any]]) -> list[str] | None:
    """The ids of the last ``add`` that began and was never acknowledged (None if there is none)."""
    acked = {(e["run"], e["seq"]) for e in entries if e.get("phase") == "ack"}
    for e in reversed(entries):
        if e.get("phase") == "begin" and e["op"] == "add":
            return None if (e["run"], e["seq"]) in acked else list(e["ids"])
    return None


def child_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="workload.py child")
    p.add_argument("--target", required=True)
    p.add_argument("--index-dir")
    p.add_argument("--log", required=True)
    p.add_argument("--run", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--max-faces", type=int, default=2500)
    p.add_argument("--ops", type=int, default=400)
    p.add_argument("--big-share", type=float, default=0.04)
    p.add_argument("--die-after", type=int, default=0, help="SIGKILL itself after this many store writes")
    Child(p.parse_args(argv)).main()


# -- the parent: the state the log promises ----------------------------------------------------
@dataclass
class Promised:
    """What the acknowledgement log says must hold, and what a killed call may have left."""

    faces: set[str] = field(default_factory=set)  # acknowledged
    tolerated_faces: set[str] = field(default_factory=set)  # of calls cut off at earlier points
    decisions: dict[str, tuple[str, list[str], str | None]] = field(default_factory=dict)  # tag -> op, ids, main id
    undone: set[str] = field(default_factory=set)  # acknowledged undos
    tolerated_tags: set[str] = field(default_factory=set)
    tolerated_undos: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)  # tags of refused calls: none of their decisions in force
    locked: dict[str, list[str]] = field(default_factory=dict)  # after the last acknowledged call


def promised_from(entries: list[dict[str, Any]], run: int) -> tuple[Promised, dict[str, Any] | None]:
    """The promises of the log, and the call run ``run`` had in flight (None when there was none)."""
    p = Promised()
    begun: dict[tuple[int, int], dict[str, Any]] = {}
    for e in entries:
        key = (e.get("run", -1), e.get("seq", -1))
        if e.get("phase") == "begin":
            begun[key] = e
        elif e.get("phase") == "ack":
            b = begun.pop(key)
            if e["run"] == run:  # earlier runs' snapshots predate the repairs of their cut-off calls
                p.locked = e.get("locked", {})
            if e.get("refused"):
                p.decisions[e["tag"]] = (e["op"], e.get("decisions", []), None)
                p.refused.add(e["tag"])
                continue
            if e["op"] == "add":
                p.faces |= set(b["ids"])
            elif e["op"] == "undo":
                p.undone.add(b["target"])
                p.decisions[e["tag"]] = ("undo", e.get("decisions", []), None)
            elif e["op"] != "cleanup":
                p.decisions[e["tag"]] = (e["op"], e.get("decisions", []), e.get("result"))
    flight = None
    for key, b in sorted(begun.items()):
        if key[0] == run:
            flight = b
        else:  # cut off at an earlier point
            _tolerate(p, b)
    return p, flight


def _tolerate(p: Promised, b: dict[str, Any]) -> None:
    if b["op"] == "add":
        p.tolerated_faces |= set(b["ids"])
    p.tolerated_tags.add(b["tag"])
    if b["op"] == "undo":
        p.tolerated_undos.add(b["target"])


def check_point(gc: Any, entries: list[dict[str, Any]], faces: Faces, run: int) -> tuple[list[str], str]:
    """Violations of the promises after run ``run`` was killed (empty when all hold), and what
    became of the call it had in flight."""
    p, flight = promised_from(entries, run)
    problems: list[str] = []
    report = gc.check()
    problems += [f"check(): {line}" for line in report.problems]

    stored_list = gc.store.face_ids()
    stored = set(stored_list)
    if len(stored_list) != len(stored):
        problems.append(f"face ids stored twice: {[f for f, n in Counter(stored_list).items() if n > 1][:5]}")
    lost = sorted(p.faces - stored)
    if lost:
        problems.append(f"{len(lost)} acknowledged faces lost, e.g. {lost[:5]}")
    extra = stored - p.faces - p.tolerated_faces
    outcome = "nothing in flight"
    if flight is not None and flight["op"] == "add":
        # the ids the call found unstored (faces of an earlier cut-off call included: a batch
        # may send them again), in the order its chunks take them
        fresh = list(flight["fresh"])
        got = [f for f in fresh if f in stored]
        extra -= set(fresh)
        whole = {len(fresh)} | set(range(0, len(fresh), CHUNK))
        if len(got) not in whole or got != fresh[: len(got)]:
            problems.append(f"add in flight stored {len(got)} of {len(fresh)} faces: not whole {CHUNK}-face chunks")
        interrupted = gc.stats().interrupted_add
        if 0 < len(got) < len(fresh):
            outcome = f"add: {len(got) // CHUNK} of {-(-len(fresh) // CHUNK)} chunks stored"
            if not interrupted or interrupted["missing"] < len(fresh) - len(got):
                problems.append(f"add in flight is partly stored ({len(got)} of {len(fresh)}) but stats() "
                                f"reports {interrupted}")
        else:
            outcome = "add: stored whole" if got else "add: not stored"
    if extra:
        problems.append(f"{len(extra)} faces stored that no call acknowledged or had in flight, e.g. {sorted(extra)[:5]}")
    sample = sorted(p.faces & stored)[:: max(1, len(p.faces) // 50)]
    if sample:
        got_vec = gc.store.get_faces(sample, with_embedding=True)
        bad = [f for f in sample if got_vec[f].embedding is None
               or float(np.max(np.abs(np.asarray(got_vec[f].embedding) - faces.rows([f])[0]))) > 1e-5]
        if bad:
            problems.append(f"stored vectors differ from the ones sent: {bad[:5]}")

    decisions = gc.decisions()
    by_tag: dict[str, list[Any]] = {}
    for d in decisions:
        by_tag.setdefault(d.by or "", []).append(d)
    ids = {d.id: d for d in decisions}
    if len(ids) != len(decisions):
        problems.append("a decision id is stored twice")
    for tag, (op, mine, main) in p.decisions.items():
        have = sorted(d.id for d in by_tag.get(tag, []))
        if have != sorted(mine):
            problems.append(f"acknowledged {op} {tag}: decisions {sorted(mine)} promised, {have} stored")
        if tag in p.refused and any(not d.undone for d in by_tag.get(tag, [])):
            problems.append(f"refused {op} {tag}: its decisions {have} are in force")
        if op in ("same_person", "different_person") and isinstance(main, str):
            d = ids.get(main)
            if d is not None and d.undone and main not in p.undone | p.tolerated_undos and \
                    (flight is None or flight.get("target") != main):
                problems.append(f"acknowledged {op} {main} is undone, no acknowledged undo says so")
    for target in p.undone:
        if target in ids and not ids[target].undone:
            problems.append(f"acknowledged undo of {target}: still in force")
    flight_tag = flight["tag"] if flight else None
    for tag in by_tag:
        if tag.startswith("r") and tag not in p.decisions and tag not in p.tolerated_tags and tag != flight_tag:
            problems.append(f"decisions of call {tag}, which nobody acknowledged: {[d.id for d in by_tag[tag]]}")
    if flight is not None and flight["op"] not in ("add", "cleanup"):
        done = by_tag.get(flight_tag or "") or (flight["op"] == "undo" and flight["target"] in ids
                                               and ids[flight["target"]].undone)
        outcome = f"{flight['op']}: {'in force' if done else 'not recorded'}"
    elif flight is not None and flight["op"] == "cleanup":
        outcome = "cleanup: cut off"

    cluster_of = {f: m for f, m in gc.assignments().items()}
    must, cannot = gc.store.constraint_links(sorted(cluster_of))
    for a, b, lid in must:
        if cluster_of.get(a) != cluster_of.get(b):
            problems.append(f"must-link {lid}: {a} in {cluster_of.get(a)}, {b} in {cluster_of.get(b)}")
    for a, b, lid in cannot:
        if cluster_of.get(a) is not None and cluster_of.get(a) == cluster_of.get(b):
            problems.append(f"cannot-link {lid}: {a} and {b} share {cluster_of.get(a)}")
    if flight is None or flight["op"] in ("add", "cleanup"):
        now = gc.store.get_clusters(list(p.locked))
        for cid, before in p.locked.items():
            if cid not in now or not now[cid].locked:
                problems.append(f"locked cluster {cid} is gone or unlocked with no human decision in flight")
                continue
            left = set(before) - {f for f, c in cluster_of.items() if c == cid}
            if left:
                problems.append(f"locked cluster {cid} lost members {sorted(left)[:5]} with no human decision in flight")
    return problems, outcome


# -- the parent: points ------------------------------------------------------------------------
@dataclass
class Point:
    n: int
    how: str  # "timer", "after store.<write>", "server"
    op: str  # the call in flight, or "-"
    outcome: str
    repaired: list[str]  # journals found before the reopen
    problems: list[str]
    open_seconds: float


class Neo4jServer:
    """The test server of scripts/neo4j: its pid file is in its data folder."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.env = env

    @classmethod
    def from_environment(cls) -> Neo4jServer | None:
        data = os.environ.get("NEO4J_DATA_DIR")
        if not data or not (Path(data) / "neo4j.pid").exists():
            return None
        ports = (Path(data) / "neo4j.ports").read_text().split()
        env = {**os.environ, "NEO4J_DATA_DIR": data, "NEO4J_BOLT_PORT": ports[0], "NEO4J_HTTP_PORT": ports[1]}
        return cls(Path(data), env)

    def pid(self) -> int:
        return int((self.data_dir / "neo4j.pid").read_text().strip())

    def kill9(self) -> None:
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def start(self) -> float:
        t0 = time.perf_counter()
        subprocess.run([str(REPO / "scripts/neo4j"), "start"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return time.perf_counter() - t0


def _wait_for(path: Path, phase: str, run: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(e.get("phase") == phase and e.get("run") == run for e in read_log(path)[-50:]):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def _journals(target: str) -> list[str]:
    """The journals the crash left (read before the reopen repairs them)."""
    from graphcluster.store import open_store

    store = open_store(target)
    try:
        meta = store.get_meta()
    finally:
        store.close()
    found = []
    if meta.get("pending"):
        found.append("batch chunk")
    if meta.get("add_call"):
        found.append("add call")
    found += [f"decision:{e.get('op')}" for e in meta.get("decision_journal") or []]
    return found


def run_points(
    target: str,
    workdir: Path,
    points: int,
    *,
    seed: int = 0,
    index_dir: str | None = None,
    server: Neo4jServer | None = None,
    server_every: int = 0,
    max_faces: int = 2500,
    big_share: float = 0.04,
    delay: tuple[float, float] = (0.2, 3.0),
    say: Any = None,
) -> Iterator[Point]:
    """Kill a child at ``points`` points and check the database after each; yields each point.

    Points alternate between a timer (a random delay after the child opened the database) and a
    self-kill after a random number of store writes; with ``server``, every ``server_every``-th
    point kills the Neo4j server with SIGKILL instead (then the child) and starts it again.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "ack.jsonl"
    rng = random.Random(seed)
    faces = load_faces(seed, max_faces)
    env = dict(server.env if server is not None else os.environ)
    for n in range(1, points + 1):
        server_kill = server is not None and server_every > 0 and n % server_every == 0
        die_after = 0 if server_kill or n % 2 else rng.randint(1, 80)
        cmd = [sys.executable, str(Path(__file__).resolve()), "child", "--target", target, "--log", str(log),
               "--run", str(n), "--seed", str(seed * 100_000 + n), "--data-seed", str(seed),
               "--max-faces", str(max_faces), "--big-share", str(big_share), "--die-after", str(die_after)]
        if index_dir:
            cmd += ["--index-dir", index_dir]
        errors = workdir / f"child-{n}.err"
        with open(errors, "wb") as err:
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        how = "timer"
        if _wait_for(log, "open", n, proc, timeout=120):
            wait = rng.uniform(*delay)
            if die_after:
                how = "store writes"
                try:
                    proc.wait(timeout=max(60.0, wait * 20))
                except subprocess.TimeoutExpired:
                    pass
            else:
                time.sleep(wait)
            if server_kill:
                assert server is not None
                how = "server"
                server.kill9()
                time.sleep(rng.uniform(0.0, 1.0))
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.returncode != -signal.SIGKILL and not server_kill:
            raise RuntimeError(f"point {n}: the child ended with {proc.returncode}, not SIGKILL; "
                               f"its stderr: {errors.read_text()[-3000:]}")
        errors.unlink(missing_ok=True)
        entries = read_log(log)
        killed = [e for e in entries if e.get("phase") == "kill" and e.get("run") == n]
        if killed:
            how = f"after store.{killed[-1]['after']}"
        if server_kill:
            assert server is not None
            server.start()
        repaired = _journals(target)
        t0 = time.perf_counter()
        gc = open_database(target, index_dir)
        opened = time.perf_counter() - t0
        try:
            problems, outcome = check_point(gc, entries, faces, n)
        finally:
            gc.close()
        _, flight = promised_from(entries, n)
        point = Point(n, how, flight["op"] if flight else "-", outcome, repaired, problems, opened)
        if say is not None:
            say(point)
        yield point


def final_batch(target: str, index_dir: str | None, workdir: Path, seed: int, max_faces: int) -> list[str]:
    """After the last point: one more batch of faces nobody sent yet, then ``check()``."""
    from graphcluster.synth import make_faces

    gc = open_database(target, index_dir)
    try:
        dim = gc.dim or 128
        s = make_faces(40, dim=dim, seed=seed + 7)
        report = gc.add_faces(s.vectors, ids=[f"final{i}" for i in range(40)])
        problems = [] if report.added == 40 else [f"the batch after the last point added {report.added} of 40"]
        problems += gc.check().problems
    finally:
        gc.close()
    return problems


# -- one add_faces call killed at a chosen point (the crash contract) ---------------------------
KILL_POINTS = {
    "after chunk 1": "the first chunk stored and clustered, the second not begun",
    "chunk 2 indexed, not stored": "the second chunk in the index's log, not yet in the store",
    "chunk 2 stored, not clustered": "the second chunk's faces and edges stored, its region not re-clustered",
}


def add_call_main(argv: list[str]) -> None:
    """``workload.py add-call``: one ``add_faces`` call of ``--n`` faces, SIGKILLed at ``--kill``."""
    p = argparse.ArgumentParser(prog="workload.py add-call")
    p.add_argument("--target", required=True)
    p.add_argument("--index-dir")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kill", choices=sorted(KILL_POINTS), required=True)
    args = p.parse_args(argv)
    faces = load_faces(args.seed, args.n)
    gc = open_database(args.target, args.index_dir)
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)  # noqa: E731
    real_add = gc.store.add_faces
    calls = [0]

    def add_faces(*a: Any, **kw: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2 and args.kill == "chunk 2 indexed, not stored":
            die()
        out = real_add(*a, **kw)
        if calls[0] == 2 and args.kill == "chunk 2 stored, not clustered":
            die()
        return out

    gc.store.add_faces = add_faces

    def progress(done: int, total: int) -> None:
        if done == CHUNK and args.kill == "after chunk 1":
            die()

    pos = faces.position
    gc.add_faces(faces.vectors, ids=faces.ids, metadata=[metadata_for(f, pos[f]) for f in faces.ids],
                 progress=progress)
    sys.exit("the add_faces call ended without being killed")


# -- a first import (graphcluster.bootstrap) killed at a chosen point ---------------------------
FIRST_IMPORT_KILLS = {
    "2 chunks written": "two of the three 1,000-face chunks written, none clustered",
    "1 chunk clustered": "every face written, the first chunk's region clustered",
}


def first_import_main(argv: list[str]) -> None:
    """``workload.py first-import``: one ``add_faces`` of ``--n`` faces into an empty database
    with ``Settings(bootstrap_min=CHUNK)`` (the one-pass first import), SIGKILLed at ``--kill``."""
    from graphcluster import GraphCluster, Settings

    p = argparse.ArgumentParser(prog="workload.py first-import")
    p.add_argument("--target", required=True)
    p.add_argument("--index-dir")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--kill", choices=sorted(FIRST_IMPORT_KILLS), required=True)
    args = p.parse_args(argv)
    faces = load_faces(0, args.n)
    settings = Settings(bootstrap_min=CHUNK, **({"index_dir": Path(args.index_dir)} if args.index_dir else {}))
    gc = GraphCluster.open(args.target, settings=settings)
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)  # noqa: E731
    real_add, real_meta = gc.store.add_faces, gc.store.set_meta
    calls = [0]

    def add_faces(*a: Any, **kw: Any) -> Any:
        out = real_add(*a, **kw)
        calls[0] += 1
        if calls[0] == 2 and args.kill == "2 chunks written":
            die()
        return out

    def set_meta(values: dict[str, Any]) -> Any:
        out = real_meta(values)
        note = values.get("bootstrap") or {}
        if note.get("phase") == "cluster" and note.get("done") == 1 and args.kill == "1 chunk clustered":
            die()
        return out

    gc.store.add_faces, gc.store.set_meta = add_faces, set_meta
    pos = faces.position
    gc.add_faces(faces.vectors, ids=faces.ids, metadata=[metadata_for(f, pos[f]) for f in faces.ids])
    sys.exit("the add_faces call ended without being killed")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("child", "add-call", "first-import"):
        sys.path.insert(0, str(REPO))
        {"child": child_main, "add-call": add_call_main, "first-import": first_import_main}[sys.argv[1]](sys.argv[2:])
    else:
        sys.exit("usage: workload.py child --target T --log L --run N --seed S [...] | add-call --target T --n N --kill K"
                 " | first-import --target T --n N --kill K")
