"""Fragments of one person and crowds of several: the two cluster-level checks of ``recluster``.

1. ``merge_fragments`` (average linkage): two labels joined by at least ``merge_support`` x
   the smaller one's size (and at least ``merge_min_edges``) of links, whose mean distance is
   below ``merge_mean`` x ``link``, are one person that the sparse kNN graph split; a lone
   face may join a cluster this way, never the reverse. A merge that a lock or a decision
   forbids becomes a merge question.
2. ``split_weak``: a cluster of at least ``split_min`` nodes held wholly in the region is
   re-checked: Chinese Whispers on its mutual top-3 edges finds its tight parts, which rejoin,
   closest first, while the links between them average below ``split_join`` x ``link`` and
   number at least ``merge_support`` x the smaller part's nodes (the merge rule's support).
   Measured on lfw (docs/benchmarks/quality_core.md): precision 0.954 -> about 0.99. Not run
   when the link is a fallback (no impostor mode): it would split every person. A cluster of
   ``doubt_min`` nodes up to ``split_min`` is judged alike but never split: where the rule
   would take it apart, its faces are assigned as 'review' (the caller's part).
3. ``attach_lone``: a face still alone joins the cluster that all (at least ``attach_min``)
   of its neighbours closer than ``review`` that are in a cluster belong to (unanimous kNN
   agreement; neighbours alone abstain).

The constants are fields of ``Tuning`` (graphcluster/clustering/tuning.py), passed in.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import networkx as nx  # type: ignore[import-untyped]

from graphcluster.clustering.tuning import DEFAULT_TUNING, Tuning
from graphcluster.clustering.whispers import chinese_whispers

__all__ = ["merge_fragments", "split_weak", "attach_lone"]

Review = tuple[str, list[str], list[str], str | None, str | None, float]
Label = tuple[str, str]  # ("c", cluster id) or ("n", node representative)

def merge_fragments(graph: nx.Graph, label: dict[str, Label], clamped: dict[str, Label],
                     partners: dict[str, set[str]], forbidden: dict[str, set[Label]],
                     size_out: dict[Label, int], nodes: dict[str, list[str]], reviews: list[Review],
                     link: float, tuning: Tuning = DEFAULT_TUNING) -> None:
    for _ in range(5):
        size: dict[Label, int] = defaultdict(int)
        holders: dict[Label, list[str]] = defaultdict(list)
        for r, lab in label.items():
            size[lab] += len(nodes[r])
            holders[lab].append(r)
        for lab, n in size_out.items():
            size[lab] += n
        cross: dict[tuple[Label, Label], int] = defaultdict(int)
        cross_d: dict[tuple[Label, Label], float] = defaultdict(float)
        for a, b, attr in graph.edges(data=True):
            la, lb = label[a], label[b]
            if la != lb:
                key = (la, lb) if la < lb else (lb, la)
                cross[key] += attr["n"]
                cross_d[key] += attr["dsum"]
        merged = False
        gone: set[Label] = set()
        for (la, lb), n in sorted(cross.items(), key=lambda x: (-x[1] / min(size[x[0][0]], size[x[0][1]]), x[0])):
            if la in gone or lb in gone:
                continue
            small = min(size[la], size[lb])
            mean = cross_d[(la, lb)] / n
            if n < max(tuning.merge_min_edges, tuning.merge_support * small) or mean > tuning.merge_mean * link:
                continue
            # the side that moves: fully inside the region, not clamped; prefer the smaller
            cands = [x for x in ((la, lb) if size[la] <= size[lb] else (lb, la))
                     if size_out.get(x, 0) == 0 and not any(r in clamped for r in holders[x])]
            if small < 2:  # a lone face may join a cluster, never a cluster a lone face
                cands = [x for x in cands if size[x] < 2]
            blocked = _blocked(la, lb, holders, label, partners, forbidden)
            if not cands or blocked:
                if not blocked and la[0] == "c" and lb[0] == "c":
                    fa = sorted(f for r in holders[la] for f in nodes[r])[:20]
                    fb = sorted(f for r in holders[lb] for f in nodes[r])[:20]
                    reviews.append(("merge", fa, fb, la[1], lb[1], float(n) / small))
                continue
            mover = cands[0]
            target = lb if mover == la else la
            for r in holders[mover]:
                label[r] = target
            holders[target].extend(holders[mover])
            size[target] += size[mover]
            gone.add(mover)
            merged = True
        if not merged:
            return


def split_weak(graph: nx.Graph, label: dict[str, Label], clamped: dict[str, Label],
                size_out: dict[Label, int], link: float, seed: int,
                outsider: Callable[[str, Label], float | None] | None = None,
                impostor_mode: float | None = None, tuning: Tuning = DEFAULT_TUNING) -> set[Label]:
    """Re-check each cluster of at least ``tuning.split_min`` nodes held wholly in the region.

    Chinese Whispers on its mutual top-3 edges finds its tight parts; parts are then joined
    again, closest first, while the mean distance of the links between them passes the
    average-linkage rule ``split_join x link``, if they are at least ``merge_support`` x the
    smaller part's nodes (a few links between two groups are a chain through look-alikes). A cluster that a
    dense crowd of look-alikes chained together falls apart; one person stays whole.

    Local scale (``local_scale``): ``link`` is a global impostor level, and in a dense part of
    the embedding space (many look-alikes) impostors sit closer than it. ``outsider(node,
    label)`` gives a member's distance to its nearest face outside the cluster; the median
    over the members, divided by the calibrated nearest-impostor mode (``impostor_mode``),
    says how much closer than usual the cluster's surroundings are. Below 1 the join limit
    shrinks by that factor (self-tuning local scaling, as in Zelnik-Manor & Perona 2004); a
    cluster whose neighbours sit at the usual impostor distance is judged by the global limit alone.

    A smaller cluster (at least ``tuning.doubt_min`` nodes, fewer than ``split_min``) is judged
    the same way but never split: a few faces are too little evidence to take a person apart
    (docs/clustering.md). Its label is returned instead, and the caller assigns the faces that
    end under it as ``review``, not ``auto``. ``split_min = 0`` switches both off.
    """
    groups: dict[Label, list[str]] = defaultdict(list)
    for r, lab in label.items():
        groups[lab].append(r)
    doubtful: set[Label] = set()
    for lab, members in sorted(groups.items(), key=lambda x: repr(x[0])):
        splits = bool(tuning.split_min) and len(members) >= tuning.split_min
        doubts = bool(tuning.doubt_min) and tuning.doubt_min <= len(members) < tuning.split_min
        if not (splits or doubts) or size_out.get(lab, 0) or any(r in clamped for r in members):
            continue
        inside = set(members)
        near = {u: sorted((a["dsum"] / a["n"], repr(v), v) for v, a in graph[u].items() if v in inside)[:3]
                for u in members}
        top = {u: {v for _, _, v in near[u]} for u in members}
        sub = nx.Graph()
        sub.add_nodes_from(members)
        sub.add_edges_from((u, v) for u in members for v in top[u] if u in top[v])
        parts_of = chinese_whispers(sub, seed=seed)
        parts: dict[Any, set[str]] = defaultdict(set)
        for u, p in parts_of.items():
            parts[p].add(u)
        if len(parts) < 2:
            continue
        factor = _local_factor(members, lab, outsider, impostor_mode) if tuning.local_scale else 1.0
        keys = _join_parts(graph, members, inside, parts, tuning.split_join * link * factor, tuning.merge_support)
        if len(keys) < 2:
            continue
        if not splits:
            doubtful.add(lab)
            continue
        # the part that keeps the label: the one holding the node an ("n", node) label is
        # named after (another part may not reuse that name), else the largest
        owner = {u: p for p in keys for u in parts[p]}
        keeper = owner[lab[1]] if lab[0] == "n" and lab[1] in owner else max(
            keys, key=lambda p: (len(parts[p]), repr(p)))
        for p in keys:
            if p == keeper:
                continue
            fresh: Label = ("n", min(parts[p]))
            for u in parts[p]:
                label[u] = fresh
    return doubtful


def _local_factor(members: list[str], lab: Label, outsider: Callable[[str, Label], float | None] | None,
                  impostor_mode: float | None) -> float:
    """min(1, median nearest-outsider distance of the members / the nearest-impostor mode)."""
    if outsider is None or not impostor_mode:
        return 1.0
    ds = sorted(d for u in members if (d := outsider(u, lab)) is not None)
    if len(ds) < max(3, len(members) // 2):
        return 1.0  # too few members see an outsider: no evidence of a dense neighbourhood
    return min(1.0, ds[len(ds) // 2] / impostor_mode)


def _join_parts(graph: nx.Graph, members: list[str], inside: set[str], parts: dict[Any, set[str]],
                limit: float, support: float) -> list[Any]:
    """Average-linkage agglomeration of ``parts`` (modified in place), closest pair first
    (ties by name), while the mean distance of the links between two parts is at most
    ``limit``, with at least ``support`` links per node of the smaller part. A heap of candidate pairs with lazily dropped stale entries (an entry carries
    the links it was computed from) keeps this O(E log E) in the links of the cluster: a join
    re-pushes only the pairs whose links it changed (recounting every link per join, or
    re-pushing every pair of the grown part, would be quadratic)."""
    owner = {u: p for p, us in parts.items() for u in us}
    nb: dict[Any, dict[Any, list[float]]] = {p: {} for p in parts}
    for u in members:
        for v, a in graph[u].items():
            if v not in inside or not u < v or owner[u] == owner[v]:
                continue  # each link once, between two different parts
            pu, pv = owner[u], owner[v]
            c = nb[pu].setdefault(pv, [0.0, 0.0])
            c[0] += a["dsum"]
            c[1] += a["n"]
            nb[pv][pu] = c
    name = {p: repr(p) for p in parts}
    heap: list[tuple[float, str, Any, Any, float, float]] = []

    def push(p: Any, q: Any) -> None:
        pa, pb = (p, q) if name[p] < name[q] else (q, p)
        ds, n = nb[pa][pb]
        heapq.heappush(heap, (ds / n, repr((pa, pb)), pa, pb, ds, n))

    for p in nb:
        for q in nb[p]:
            if name[p] < name[q]:
                push(p, q)
    while heap:
        mean, _, pa, pb, ds0, n0 = heapq.heappop(heap)
        cur = nb.get(pa, {}).get(pb) if pb in nb else None
        if cur is None or cur[0] != ds0 or cur[1] != n0:
            continue  # stale: a side is gone, or the links between them have grown since
        if mean > limit:
            break
        if n0 < support * min(len(parts[pa]), len(parts[pb])):
            continue  # the support rule of merge_fragments: fewer links than the smaller part has nodes
            # is a chain through look-alikes, not one person (a later join may bring more links)
        parts[pa] |= parts.pop(pb)
        # only the pairs that gained links change: those of pa's new neighbours through pb
        # (a pair of pa alone keeps its links, its mean and its heap entry)
        for q, (ds, n) in nb.pop(pb).items():
            del nb[q][pb]
            if q == pa:
                continue
            c = nb[pa].setdefault(q, [0.0, 0.0])
            c[0] += ds
            c[1] += n
            nb[q][pa] = c
            push(pa, q)
    return list(parts)


def _blocked(la: Label, lb: Label, holders: dict[Label, list[str]], label: dict[str, Label],
             partners: dict[str, set[str]], forbidden: dict[str, set[Label]]) -> bool:
    for x, other in ((la, lb), (lb, la)):
        for r in holders[x]:
            if other in forbidden.get(r, ()):
                return True
            if any(label.get(p) == other for p in partners.get(r, ())):
                return True
    return False


def attach_lone(label: dict[str, Label], clamped: dict[str, Label], nodes: dict[str, list[str]],
                dist_of: dict[str, list[tuple[float, str]]], rep: dict[str, str],
                partners: dict[str, set[str]], forbidden: dict[str, set[Label]],
                size_out: dict[Label, int], review: float,
                stored: dict[str, str | None] | None = None, tuning: Tuning = DEFAULT_TUNING) -> None:
    """Give a face that no link (closer than ``link``) holds the cluster its neighbours agree on.

    A face of a person with many photos often has no neighbour closer than ``link`` (a bad
    photo, an odd angle) but several at the edge, between ``link`` and ``review`` (the
    calibrated same/impostor crossing). If at least ``tuning.attach_min`` of its neighbours
    closer than ``review`` belong to one cluster and *none* to another cluster (faces left
    alone abstain: a lone face voting for itself would block the vote), the neighbours vote unanimously: a kNN-agreement (shared-neighbour)
    rule, which a look-alike in a mixed neighbourhood does not pass. Labels are read before
    the pass, so attachments do not cascade; a cannot-link or a "not this person" decision
    blocks the attachment; must-link groups (nodes of several faces) are left to the links.

    ``stored`` (face -> its cluster before this pass): a neighbour that is alone now but was in
    a cluster votes for the label that now holds most of that cluster. The re-check of a
    cluster peels off every member without a link at once; without this they would block each
    other's return (each a lone face to the others) and a face attached in one batch would be
    lost in the next batch whose region re-checks its cluster.
    """
    size: dict[Label, int] = defaultdict(int)
    for r, lab in label.items():
        size[lab] += len(nodes[r])
    for lab, n in size_out.items():
        size[lab] += n
    before = dict(label)
    stored = stored or {}
    home: dict[str, Label] = {}  # stored cluster -> the label holding most of its nodes now
    if stored:
        count: dict[tuple[str, Label], int] = defaultdict(int)
        for r, lab in label.items():
            c = stored.get(r)
            if c is not None and size[lab] > 1:
                count[(c, lab)] += 1
        for (c, lab), n in sorted(count.items(), key=lambda x: (-x[1], repr(x[0][1]))):
            home.setdefault(c, lab)

    def vote(r: str) -> Label:
        lab = before[r]
        if size[lab] == 1 and len(nodes[r]) == 1 and (c := stored.get(r)) is not None and c in home:
            # a face a human took out of that cluster ("not this person") is no vote for it
            return lab if ("c", c) in forbidden.get(r, ()) else home[c]
        return lab

    for r in sorted(label):
        lab = before[r]
        if size[lab] != 1 or r in clamped or len(nodes[r]) != 1:
            continue
        votes: dict[Label, int] = defaultdict(int)
        for d, g in dist_of.get(r, []):
            if d < review and g in rep and rep[g] != r:
                v = vote(rep[g])
                if size[v] > 1:
                    votes[v] += 1
        if len(votes) != 1:
            continue
        (target, n), = votes.items()
        if n < tuning.attach_min or size[target] < 2 or target in forbidden.get(r, ()):
            continue
        if any(before.get(p) == target or label.get(p) == target for p in partners.get(r, ())):
            continue
        label[r] = target
