"""Shared code of the product-level benchmarks (quality, effort, growth, neo4j throughput).

1. ``machine()`` names the machine a table was measured on (cores, CPU, Python, versions);
2. ``load_lfw(seed)`` reads lfw_dlib128 from /work/shared/data and shuffles it with a fixed seed;
3. ``scores(truth, pred)`` pairwise and BCubed P/R/F (re-exported from quality_core.py, so the
   core and product benchmarks measure with one definition);
4. ``ingest(gc, x, ids, batch)`` feeds a ``GraphCluster`` batch by batch with progress output;
5. ``predictions(gc, ids)`` reads ``assignments(detail=True)``: unassigned faces become
   singleton clusters for the metrics, and the share of faces auto / review / unassigned;
6. ``peak_rss_mb()`` and ``write_section(name, lines)`` (docs/benchmarks/<name>.md);
7. ``write_direct(gc, ...)`` writes labelled faces straight through the store and the index, as a
   perfect clusterer would have placed them, to grow a graph to a size the pipeline would take
   hours to reach (the growth and Neo4j round-trip benchmarks pad with it); ``pad_to(gc, data,
   through, n)`` pads a bootstrapped graph with it (growth, web);
8. ``background_faces(n)`` and ``pad_background(gc, data, have, target)`` pad a graph of real
   faces with synthetic background faces far from every real one (Neo4j review round trips,
   review latency), ``with_background`` names them for a reviewer; ``clear_neo4j(uri)`` empties a Neo4j database before a run opens it.
"""

from __future__ import annotations

import csv
import os
import platform
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_core import scores  # noqa: E402  (one metric definition for every benchmark)

__all__ = ["DATA", "DOCS", "machine", "code_version", "load_lfw", "scores", "ingest", "predictions", "peak_rss_mb",
           "write_section", "say", "fmt_scores", "write_direct", "pad_to", "background_faces", "pad_background",
           "with_background", "clear_neo4j"]

DATA = Path("/work/shared/data/lfw_dlib128")
ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def say(msg: str) -> None:
    """Progress line on stderr (tables go to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def machine() -> str:
    """One line naming the machine: cores, CPU model, Python and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} cores (nproc; shared, noisy), {cpu}{mem}, Python {platform.python_version()}, "
            f"numpy {np.__version__}")


def code_version() -> str:
    """The commit measured, and whether graphcluster/ had uncommitted changes (others work in the tree)."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "graphcluster"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"commit {head}" + (" with uncommitted changes in graphcluster/" if dirty else "")


def load_lfw(seed: int, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """lfw_dlib128 shuffled with ``seed``: (vectors, identity labels, face ids ``lfw<row>``)."""
    x = np.load(DATA / "embeddings.npy").astype(np.float32)
    with open(DATA / "faces.csv", newline="") as fh:
        truth = np.array([row["identity"] for row in csv.DictReader(fh)])
    perm = np.random.default_rng(seed).permutation(len(x))
    if limit:
        perm = perm[:limit]
    return x[perm], truth[perm], [f"lfw{int(i):05d}" for i in perm]


def ingest(gc: Any, x: np.ndarray, ids: Sequence[str], batch: int = 100,
           after_batch: Callable[[int], None] | None = None, label: str = "ingest") -> float:
    """Add ``x`` in batches through ``gc.add_faces``; returns the seconds spent in add_faces."""
    spent = 0.0
    n = len(ids)
    last = time.perf_counter()
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        t0 = time.perf_counter()
        gc.add_faces(x[start:stop], ids=list(ids[start:stop]))
        spent += time.perf_counter() - t0
        if after_batch is not None:
            after_batch(stop)
        if time.perf_counter() - last > 15 or stop == n:
            say(f"{label}: {stop}/{n} faces, {spent:.0f} s in add_faces")
            last = time.perf_counter()
    return spent


def predictions(gc: Any, ids: Sequence[str]) -> tuple[list[str], dict[str, float]]:
    """Cluster label per face (unassigned -> its own singleton) and the status shares."""
    detail = gc.assignments(detail=True)
    pred, status = [], Counter()
    for fid in ids:
        a = detail.get(fid)
        cid = a.cluster_id if a is not None else None
        st = a.status if a is not None else "unassigned"
        status[st] += 1
        pred.append(cid if cid is not None else f"u:{fid}")
    n = len(ids)
    return pred, {k: status[k] / n for k in ("auto", "review", "manual", "unassigned")}


def fmt_scores(s: dict[str, float]) -> str:
    return (f"{s['P']:.4f} | {s['R']:.4f} | {s['F']:.4f} | {s['bP']:.4f} | {s['bR']:.4f} | {s['bF']:.4f} | "
            f"{int(s['clusters'])}")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_section(name: str, lines: list[str]) -> Path:
    """Write docs/benchmarks/<name>.md and say where."""
    out = DOCS / "benchmarks" / f"{name}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    say(f"wrote {out}")
    return out


def write_direct(gc: Any, vectors: np.ndarray, ids: Sequence[str], labels: np.ndarray, lo: int, hi: int,
                 cluster_of: Callable[[int], str | None], weight: Callable[[float], float], k: int = 10,
                 chunk: int = 10_000, label: str = "pad") -> float:
    """Write faces ``lo..hi`` straight through ``gc.store`` and ``gc.index``; returns the seconds.

    Each face gets SIMILAR edges to its ``k`` nearest faces *of the same label* among the faces
    written before the end of its chunk of ``chunk`` (no kNN query: that is what makes padding
    fast, and why padded faces have no edges to other people), weighted with
    ``weight(distance)``, and the membership ``cluster_of(label)``
    (``None``: unassigned) with status ``auto``. Clusters that do not exist yet are created.
    Faces ``0..lo`` must already be stored; vectors must be unit length.
    """
    from graphcluster.models import ClusterRecord, FaceRecord, Membership, SimilarEdge

    by_label: dict[int, list[int]] = {}
    for i in range(hi):
        by_label.setdefault(int(labels[i]), []).append(i)
    known = set(gc.store.get_clusters().keys()) if lo else set()
    dim = int(vectors.shape[1])
    t0 = time.perf_counter()
    for start in range(lo, hi, chunk):
        stop = min(hi, start + chunk)
        edges: dict[tuple[str, str], Any] = {}
        for i in range(start, stop):
            mates = [j for j in by_label[int(labels[i])] if j < stop and j != i]
            if not mates:
                continue
            d = np.linalg.norm(vectors[mates] - vectors[i], axis=1)
            for j in np.argsort(d)[:k]:
                a, b = sorted((ids[i], ids[mates[j]]))
                edges[a, b] = SimilarEdge(a=a, b=b, distance=float(d[j]), weight=weight(float(d[j])))
        faces = [FaceRecord(id=ids[i], dim=dim, embedding=vectors[i].tolist()) for i in range(start, stop)]
        gc.index.add(list(ids[start:stop]), vectors[start:stop])
        gc.store.add_faces(faces, list(edges.values()))
        members = [(ids[i], cluster_of(int(labels[i]))) for i in range(start, stop)]
        fresh = sorted({c for _, c in members if c is not None} - known)
        known.update(fresh)
        gc.store.apply_clustering(
            [Membership(face_id=f, cluster_id=c, status="auto", confidence=0.9) for f, c in members if c is not None],
            [ClusterRecord(id=c) for c in fresh],
        )
        say(f"{label}: {stop:,}/{hi:,} faces written directly ({time.perf_counter() - t0:.0f} s)")
    gc.index.flush()
    return time.perf_counter() - t0


def pad_to(gc: Any, data: Any, through: int, n: int) -> float:
    """Grow a graph whose faces ``0..through`` came through ``add_faces`` to ``n`` faces with
    ``write_direct`` (``data``: a ``graphcluster.synth`` dataset); returns the seconds.

    Each padded face joins the cluster that already holds most of its identity, or a new
    ``pad<label>`` cluster; an identity seen once stays unassigned. Edge weights come from the
    thresholds in use.
    """
    from graphcluster.clustering.thresholds import edge_weight

    placed = gc.store.memberships(data.ids[:through])
    votes: dict[int, Counter[str]] = {}
    for i in range(through):
        m = placed.get(data.ids[i])
        if m is not None and m.cluster_id is not None:
            votes.setdefault(int(data.labels[i]), Counter())[m.cluster_id] += 1
    home = {lab: c.most_common(1)[0][0] for lab, c in votes.items()}
    count = Counter(int(x) for x in data.labels[:n])
    thresholds = gc.thresholds.current()
    return write_direct(
        gc, data.vectors, data.ids, data.labels, through, n,
        cluster_of=lambda lab: home.get(lab) or (f"pad{lab}" if count[lab] >= 2 else None),
        weight=lambda d: edge_weight(d, thresholds), label=f"pad to {n:,}")


def background_faces(n: int) -> Any:
    """``n`` synthetic 128-D background faces (``graphcluster.synth.make_faces``, seed 7) for
    ``pad_background``. Random directions on the sphere are far (L2 about 1.4) from every dlib
    face of lfw_dlib128, which lie in a narrow cone (every real pair is closer than about 0.8)."""
    from graphcluster.synth import make_faces

    return make_faces(n, dim=128, seed=7)


def pad_background(gc: Any, data: Any, have: int, target: int) -> int:
    """Write background faces ``bg{i}`` for i in [have, target) of ``data`` (``background_faces``)
    through the store and the index (``write_direct``); returns ``target``.

    ``data`` is one ``background_faces`` set of the largest size, so each step extends the one
    before; every face joins the cluster ``bgc<identity>`` (junk faces a cluster of their own),
    with 10 SIMILAR edges to the nearest faces of its own identity, weighted ``1 - d / 2``.
    """
    ids = [f"bg{i}" for i in range(target)]
    write_direct(gc, data.vectors, ids, data.labels, have, target, cluster_of=lambda lab: f"bgc{lab}",
                 weight=lambda d: max(0.0, 1 - d / 2), label="pad background")
    return target


def with_background(vectors: np.ndarray, labels: np.ndarray, ids: Sequence[str],
                    data: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Real faces followed by every background face of ``data`` as ``pad_background`` names them
    (labels ``bg:<identity>``): what a reviewer answering from the labels must know once the review
    sweep reaches background clusters. ``data`` None: the real faces alone."""
    if data is None:
        return vectors, labels, list(ids)
    bg_labels = np.array([f"bg:{int(v)}" for v in data.labels])
    return (np.concatenate([vectors, data.vectors]), np.concatenate([labels, bg_labels]),
            list(ids) + [f"bg{i}" for i in range(len(data.ids))])


def clear_neo4j(uri: str) -> None:
    """Empty a Neo4j database before ``GraphCluster`` opens it: opening a non-empty one would
    reconcile its faces (and its meta, e.g. an old ``dim``) into the new run."""
    from graphcluster.store import open_store

    store = open_store(uri)
    try:
        store.clear()
    finally:
        store.close()


class RecheckWatch:
    """Seconds spent in the growth re-check (``Reclusterer.recheck_grown``) and the clusters it
    re-checked, since the last ``take``; nothing where the code has no such step."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.clusters = 0
        self.wrapped = False

    def take(self) -> tuple[float | None, int | None]:
        if not self.wrapped:
            return None, None
        out = (round(self.seconds, 3), self.clusters)
        self.seconds, self.clusters = 0.0, 0
        return out


_RECHECK: RecheckWatch | None = None


def watch_recheck() -> RecheckWatch:
    """Time every ``recheck_grown`` call of this process from now on; the watch starts at zero.

    The wrapper stays (a benchmark process measures one configuration at a time): a second call
    resets and returns the same watch instead of wrapping the wrapper."""
    import importlib
    import importlib.util

    global _RECHECK
    if _RECHECK is not None:
        _RECHECK.take()
        return _RECHECK
    watch = _RECHECK = RecheckWatch()
    if not importlib.util.find_spec("graphcluster.regions"):
        return watch
    reclusterer = importlib.import_module("graphcluster.regions").Reclusterer
    inner = getattr(reclusterer, "recheck_grown", None)
    if inner is None:
        return watch

    def timed(self: Any, applied: Any) -> int:
        t = time.perf_counter()
        done = inner(self, applied)
        watch.seconds += time.perf_counter() - t
        watch.clusters += done
        return done

    reclusterer.recheck_grown = timed
    watch.wrapped = True
    return watch
