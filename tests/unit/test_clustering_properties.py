"""Hypothesis properties of build_region + recluster on random graphs with random decisions."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphcluster.clustering import ConstraintSet, MemoryGraph, Thresholds, build_region, recluster

T = Thresholds.from_link(0.4, source="settings")
PROFILE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, list]:
    n = draw(st.integers(3, 22))
    faces = [f"f{i:02d}" for i in range(n)]
    pairs = list(itertools.combinations(faces, 2))
    edges = draw(st.lists(st.tuples(st.sampled_from(pairs), st.floats(0.05, 0.5)), max_size=4 * n))
    must_raw = draw(st.lists(st.sampled_from(pairs), max_size=3))
    cannot_raw = draw(st.lists(st.sampled_from(pairs), max_size=4))
    must: list[tuple[str, str, str]] = []
    for i, (a, b) in enumerate(must_raw):
        must.append((a, b, f"m{i}"))
    cs = ConstraintSet(must)
    cannot = [(a, b, f"c{i}") for i, (a, b) in enumerate(cannot_raw) if cs.find(a) != cs.find(b)]
    return {"faces": faces, "edges": [(a, b, d) for (a, b), d in edges], "must": must, "cannot": cannot}


def build(spec: dict[str, list]) -> MemoryGraph:
    g = MemoryGraph()
    g.add_faces(spec["faces"])
    g.add_edges(spec["edges"])
    for a, b, did in spec["must"]:
        g.must_link(a, b, did)
    for a, b, did in spec["cannot"]:
        g.cannot_link(a, b, did)
    return g


def run(g: MemoryGraph, seeds: list[str], *, seed: int = 0, prefix: str = "c", counter=None) -> dict:
    counter = counter if counter is not None else itertools.count()
    region = build_region(g, seeds, T, region_limit=300)
    result = recluster(region, T, seed=seed, new_id=lambda: f"{prefix}{next(counter)}")
    g.apply(result)
    return result


def cluster_of(g: MemoryGraph, f: str) -> str | None:
    return g.labels([f])[f][0]


@PROFILE
@given(graphs(), st.integers(0, 3))
def test_constraints_always_hold(spec: dict[str, list], seed: int) -> None:
    g = build(spec)
    run(g, spec["faces"], seed=seed)
    for a, b, _ in spec["cannot"]:
        ca = cluster_of(g, a)
        assert ca is None or ca != cluster_of(g, b)
    for a, b, _ in spec["must"]:
        assert cluster_of(g, a) is not None and cluster_of(g, a) == cluster_of(g, b)


@PROFILE
@given(graphs(), st.integers(0, 3))
def test_same_seed_same_result_and_untouched_region_is_stable(spec: dict[str, list], seed: int) -> None:
    g1, g2 = build(spec), build(spec)
    r1 = run(g1, spec["faces"], seed=seed)
    r2 = run(g2, spec["faces"], seed=seed)
    assert r1.memberships == r2.memberships and r1.reviews == r2.reviews
    again = run(g1, spec["faces"], seed=seed, prefix="x")
    assert again.memberships == {} and again.new_clusters == [] and again.emptied_clusters == []


@PROFILE
@given(graphs(), st.lists(st.tuples(st.integers(0, 21), st.floats(0.05, 0.45)), min_size=1, max_size=12),
       st.integers(0, 3))
def test_locked_clusters_keep_members_and_never_merge(spec: dict[str, list], new_edges: list, seed: int) -> None:
    g = build(spec)
    counter = itertools.count()
    run(g, spec["faces"], seed=seed, counter=counter)
    locked = {c: set(m) for c, m in g.clusters().items()}
    for c in locked:
        g.lock(c)
    n = len(spec["faces"])
    fresh = [f"n{i}" for i in range(3)]
    g.add_faces(fresh)
    g.add_edges((fresh[i % 3], spec["faces"][j % n], d) for i, (j, d) in enumerate(new_edges))
    g.add_edges([(fresh[0], fresh[1], 0.1)])
    run(g, fresh, seed=seed, counter=counter)
    after = g.clusters()
    for c, members in locked.items():
        assert members <= set(after[c])  # kept every member, and its id
        for d in locked:
            if d != c:
                assert not (set(after[c]) & locked[d])  # never merged with another locked cluster


def blobs(people: int, per: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, 32))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = np.repeat(centres, per, axis=0) + rng.normal(scale=0.03, size=(people * per, 32))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    order = rng.permutation(len(x))
    return x[order], np.repeat(np.arange(people), per)[order]


def feed(x: np.ndarray, batch: int, k: int = 6) -> MemoryGraph:
    g = MemoryGraph()
    names = [f"f{i:03d}" for i in range(len(x))]
    counter = itertools.count()
    for start in range(0, len(x), batch):
        stop = min(len(x), start + batch)
        d = np.sqrt(np.maximum(2 - 2 * x[start:stop] @ x[:stop].T, 0))
        for i in range(stop - start):
            d[i, start + i] = np.inf
            for j in np.argsort(d[i])[:k]:
                if np.isfinite(d[i, j]):
                    g.add_edges([(names[start + i], names[j], float(d[i, j]))])
        run(g, names[start:stop], counter=counter)
    return g


def pair_f(p1: dict[str, str | None], p2: dict[str, str | None]) -> float:
    same1 = {(a, b) for a, b in itertools.combinations(sorted(p1), 2) if p1[a] is not None and p1[a] == p1[b]}
    same2 = {(a, b) for a, b in itertools.combinations(sorted(p2), 2) if p2[a] is not None and p2[a] == p2[b]}
    if not same1 and not same2:
        return 1.0
    return 2 * len(same1 & same2) / (len(same1) + len(same2))


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([5, 10, 25]))
def test_batches_and_all_at_once_agree(seed: int, batch: int) -> None:
    x, truth = blobs(8, 6, seed)
    whole = feed(x, len(x))
    parts = feed(x, batch)
    faces = whole.faces()
    a = {f: c for f, (c, _) in whole.labels(faces).items()}
    b = {f: c for f, (c, _) in parts.labels(faces).items()}
    assert pair_f(a, b) >= 0.9
    assert pair_f(a, {f: str(t) for f, t in zip(sorted(faces), truth)}) >= 0.9  # and both are right


@PROFILE
@given(graphs(), st.integers(1, 6), st.data())
def test_constraints_hold_when_large_clusters_are_held_outside_the_region(spec: dict[str, list], new: int,
                                                                           data: st.DataObject) -> None:
    # a clustered graph, then a batch of new faces whose region holds clusters of more than 3
    # faces only in part: cannot-links and "not this person" bans between the new faces and
    # faces (or clusters) the region may not load must hold all the same
    g = build(spec)
    run(g, spec["faces"])
    old = spec["faces"]
    fresh = [f"n{i}" for i in range(new)]
    g.add_faces(fresh)
    g.add_edges(data.draw(st.lists(st.tuples(st.sampled_from(fresh), st.sampled_from(old + fresh), st.floats(0.05, 0.45)),
                                   min_size=1, max_size=5 * new)))
    cannot = [(a, b, f"k{i}") for i, (a, b) in enumerate(data.draw(st.lists(
        st.tuples(st.sampled_from(fresh), st.sampled_from(old)), max_size=3)))]
    for a, b, did in cannot:
        g.cannot_link(a, b, did)
    clusters = sorted({c for c in g.labels(old).values() for c in [c[0]] if c is not None})
    bans = data.draw(st.lists(st.tuples(st.sampled_from(fresh), st.sampled_from(clusters)), max_size=2)) if clusters else []
    for f, c in bans:
        g.forbid(f, c)
    region = build_region(g, fresh, T, region_limit=3)
    g.apply(recluster(region, T, new_id=lambda c=itertools.count(): f"n-{next(c)}"))
    for a, b, _ in spec["cannot"] + cannot:
        ca = cluster_of(g, a)
        assert ca is None or ca != cluster_of(g, b), (a, b)
    for a, b, _ in spec["must"]:
        assert cluster_of(g, a) == cluster_of(g, b)
    for f, c in bans:
        assert cluster_of(g, f) != c
