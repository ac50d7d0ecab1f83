"""The affected subgraph of a batch or of a decision (``build_region``).

1. Start from the seeds (new faces, or the faces a decision touched).
2. Follow their SIMILAR edges closer than ``review`` to their neighbours.
3. Close over must-links (a group is never split, so it enters whole).
4. Add the clusters those faces belong to: a cluster of at most ``region_limit`` faces enters
   whole; a larger one contributes its members already in the region and, one hop along its
   edges, as many again as ``large_context - 1`` times those (at most ``region_limit`` in all),
   and is otherwise held fixed (its outside members are counted, not loaded) -- except that with
   probability ``region_limit / size`` (reproducible: a hash of the cluster and the seeds) it
   enters whole, so large clusters are still reclustered and re-checked now and then. When many
   large clusters share a region, that probability is scaled down so that the expected faces of
   these audits stay within ``audit_per_seed`` per seed (both fields of ``Tuning``).
5. Load the edges among the region's faces, the constraints, "not this person" decisions,
   pins and locks that touch them; the cluster of a cannot-link partner held outside the
   region is forbidden to its face.

The cost is bounded per seed (its neighbours, their small clusters, ``large_context`` x its
neighbours in each large cluster, ``audit_per_seed`` faces of audit in expectation), never by
the size of the graph; ``Region.parts`` says where a region's faces came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from graphcluster.clustering.constraints import ConstraintSet
from graphcluster.clustering.graph import GraphView
from graphcluster.clustering.thresholds import Thresholds
from graphcluster.clustering.tuning import DEFAULT_TUNING, Tuning
from graphcluster.errors import InvalidInput

__all__ = ["Region", "build_region"]

MUST_CLOSURE_ROUNDS = 20
# The per-seed bounds (``Tuning.audit_per_seed``, ``Tuning.large_context``) keep a batch's region
# flat as the graph grows (docs/clustering.md, "the region"; measured on lfw with 4 shuffles and a
# FaceNet-like set). large_context = 1 (only the seeds' neighbours in a large cluster) relies on
# recluster's support rule for joining a held cluster (``Tuning.held_support``).


@dataclass
class Region:
    """A projection of the graph that ``recluster`` works on (pure data, no I/O).

    Attributes:
        seeds: the faces that caused the region.
        faces: every face in the region.
        labels: face -> (cluster id or None, status) as stored now.
        edges: SIMILAR edges ``(a, b, distance)`` with both ends in ``faces``.
        outside: cluster -> members held outside the region (large clusters).
        locked: the locked clusters among the region's clusters.
        constraints: must-links and cannot-links touching the region.
        forbidden: face -> clusters it must never join: "not this person" decisions, and the
            cluster of each cannot-link partner held outside the region.
        pinned: face -> the cluster a human placed it in.
        parts: where the faces came from (seeds, near, must, small, audit, large: the faces
            each step added), for benchmarks and logs.
    """

    seeds: list[str]
    faces: set[str]
    labels: dict[str, tuple[str | None, str]]
    edges: list[tuple[str, str, float]]
    outside: dict[str, int] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)
    constraints: ConstraintSet = field(default_factory=ConstraintSet)
    forbidden: dict[str, set[str]] = field(default_factory=dict)
    pinned: dict[str, str] = field(default_factory=dict)
    parts: dict[str, int] = field(default_factory=dict)

    def clusters(self) -> set[str]:
        return {c for c, _ in self.labels.values() if c is not None}


def build_region(
    view: GraphView,
    seeds: Iterable[str],
    thresholds: Thresholds,
    *,
    region_limit: int = 30,
    tuning: Tuning = DEFAULT_TUNING,
    unseen: Callable[[str], bool] | None = None,
) -> Region:
    """Collect the affected subgraph around ``seeds``.

    Args:
        view: read access to the graph.
        seeds: new faces, or the faces a decision touched. Passing every face gives the whole
            graph (the cleanup pass), with ``region_limit`` above the largest cluster.
        thresholds: ``review`` bounds how far the region reaches from a seed.
        region_limit: the most faces a large cluster contributes.
        tuning: ``audit_per_seed`` and ``large_context`` bound what large clusters add.
        unseen: faces the region leaves out although they are stored (a first import's faces
            of later chunks: each region sees what incremental ingest would have seen).

    Returns:
        The Region.

    Raises:
        InvalidInput: ``region_limit`` is below 1.
    """
    if region_limit < 1:
        raise InvalidInput(f"region_limit must be at least 1, got {region_limit}")
    seed_list = list(dict.fromkeys(seeds))
    reach = thresholds.review or thresholds.link
    faces: set[str] = set(seed_list)
    seed_edges = view.edges(seed_list)
    near: dict[str, float] = {}  # face -> distance to the closest seed
    for a, b, d in seed_edges:
        if reach is not None and d < reach:
            for x in (a, b):
                if unseen is None or not unseen(x):
                    near[x] = min(d, near.get(x, float("inf")))
    faces |= set(near)
    parts = {"seeds": len(seed_list), "near": len(faces) - len(seed_list)}

    # whole must-link groups enter (bounded: a group is as large as the humans made it)
    must: dict[str, tuple[str, str, str]] = {}
    cannot: dict[str, tuple[str, str, str]] = {}
    frontier = set(faces)
    for _ in range(MUST_CLOSURE_ROUNDS):
        if not frontier:
            break
        m, c = view.constraints(frontier)
        must.update({x[2]: x for x in m})
        cannot.update({x[2]: x for x in c})
        grown = {f for a, b, _ in m for f in (a, b)} - faces
        faces |= grown
        frontier = grown
        parts["must"] = parts.get("must", 0) + len(grown)

    labels = view.labels(faces)
    clusters = sorted({c for c, _ in labels.values() if c is not None})
    members = view.members(clusters)
    outside: dict[str, int] = {}
    large: dict[str, list[str]] = {}
    salt = _salt(seed_list)
    for cid in clusters:
        mem = members.get(cid, [])
        if len(mem) <= region_limit:
            parts["small"] = parts.get("small", 0) + len(set(mem) - faces)
            faces.update(mem)
        else:
            large[cid] = mem
    # whole-cluster audits: each large cluster with probability region_limit / size, scaled down
    # so that the expected audit faces stay within audit_per_seed per seed
    share = 1.0
    if tuning.audit_per_seed and large:
        share = min(1.0, tuning.audit_per_seed * len(seed_list) / (region_limit * len(large)))
    for cid in sorted(large):
        if _audit(cid, salt, len(large[cid]), region_limit * share):
            parts["audit"] = parts.get("audit", 0) + len(set(large[cid]) - faces)
            faces.update(large.pop(cid))
    # a large cluster: its members already in the region (the seeds' neighbours), and, up to
    # ``room``, more of its members nearest the seeds, one hop along its edges from those (one
    # read for every large cluster that has room)
    first = {cid: [f for f in mem if f in faces] for cid, mem in large.items()}
    room = {cid: region_limit if not tuning.large_context else min(region_limit, tuning.large_context * len(inside))
            for cid, inside in first.items()}
    hop = sorted({f for cid, inside in first.items() if room[cid] > len(inside) for f in inside[:region_limit]})
    adj: dict[str, list[tuple[str, float]]] = {}
    for a, b, d in view.edges(hop) if hop else ():
        adj.setdefault(a, []).append((b, d))
        adj.setdefault(b, []).append((a, d))
    for cid, mem in large.items():
        inside = first[cid]
        chosen = inside
        if room[cid] > len(inside):
            mem_set = set(mem)
            score: dict[str, float] = {f: near.get(f, 0.0) for f in inside}
            for x in inside[:region_limit]:
                for y, d in adj.get(x, ()):
                    if y in mem_set and y not in score:
                        score[y] = d + score[x]
            chosen = list(dict.fromkeys(inside + sorted(score, key=lambda f: (score[f], f))[: room[cid]]))[: room[cid]]
        parts["large"] = parts.get("large", 0) + len(set(chosen) - faces)
        faces.update(chosen)
        outside[cid] = len(mem) - len(chosen)

    missing = faces - set(labels)
    if missing:
        labels.update(view.labels(missing))
    faces = {f for f in faces if f in labels} | set(seed_list)
    for f in seed_list:
        labels.setdefault(f, (None, "unassigned"))

    edges = [(a, b, d) for a, b, d in view.edges(faces) if a in faces and b in faces]
    m, c = view.constraints(faces)
    must.update({x[2]: x for x in m})
    cannot.update({x[2]: x for x in c})
    forbidden = view.forbidden(faces)
    # a cannot-link partner held outside the region: its cluster is off limits while it is there
    # (Chinese Whispers only sees partners inside the region)
    away = {y for a, b, _ in cannot.values() for x, y in ((a, b), (b, a)) if x in faces and y not in faces}
    if away:
        where = view.labels(away)
        for a, b, _ in cannot.values():
            for x, y in ((a, b), (b, a)):
                if x in faces and y in where and (partner_cluster := where[y][0]) is not None:
                    forbidden.setdefault(x, set()).add(partner_cluster)
    return Region(
        seeds=seed_list,
        faces=faces,
        labels=labels,
        edges=edges,
        outside=outside,
        locked=view.locked(clusters),
        constraints=ConstraintSet(list(must.values()), list(cannot.values())),
        forbidden=forbidden,
        pinned=view.pinned(faces),
        parts=parts,
    )


def _salt(seeds: list[str]) -> int:
    """A number that depends on the seeds only (so a run is reproducible)."""
    return int.from_bytes(hashlib.blake2b("\x1f".join(sorted(seeds)).encode(), digest_size=8).digest(), "big")


def _audit(cluster: str, salt: int, size: int, expected: float) -> bool:
    """Whether a cluster larger than ``region_limit`` enters whole this time.

    With probability ``expected / size`` (a hash of the cluster id and the seeds, so it is
    reproducible), ``expected`` being ``region_limit`` or less when many large clusters share
    the region's audit budget: a large cluster then costs about ``expected`` faces of audit per
    batch that touches it, whatever its size, and is still reclustered and re-checked whole
    (``split_weak``) once every ``size / expected`` batches that touch it, so a chain of
    look-alikes that grew a large cluster is still found and split.
    """
    h = int.from_bytes(hashlib.blake2b(f"{salt}:{cluster}".encode(), digest_size=8).digest(), "big")
    return (h >> 11) / float(1 << 53) * size < expected
