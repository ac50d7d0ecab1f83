"""Review questions worth a person's time, from a reclustered region.

The clustering keeps two clusters apart, or leaves a face unassigned, when its evidence is
short of the link threshold. Just above it is where the algorithm is least sure, and where one
human answer changes the most pairs. Steps:

1. Collect the region's SIMILAR edges between two different clusters, or between an
   unassigned face and a cluster, closer than ``band`` x ``link``.
2. Drop pairs a human already separated (a cannot-link between them).
3. Score each pair by what a "yes" is expected to change: the chance that the two sides are
   one person (a logistic curve of the closest links' distance, one half at 1.1 x ``link``)
   times the faces the answer would bring together (``sa * sb / (sa + sb)``, which is what a
   merge adds to BCubed recall), so that large fragments of one person come first and a
   long tail of unlikely pairs does not waste a person's time.
4. Keep the ``limit`` best: ``merge`` questions (faces_a / faces_b: the faces of each side on
   the closest links, what a person compares) and ``face`` questions ("is this face B?").
"""

from __future__ import annotations

import math
from collections import defaultdict

from graphcluster.clustering.region import Region
from graphcluster.clustering.thresholds import Thresholds

__all__ = ["propose_questions", "separated_pairs", "askable"]

Review = tuple[str, list[str], list[str], str | None, str | None, float]


def _p_same(distance: float, link: float) -> float:
    """Chance of one person: 1/2 at 1.1 x link, about 0.88 at link, 0.12 at 1.2 x link."""
    return 1.0 / (1.0 + math.exp(((distance / link) - 1.1) / 0.05))


def _gain(sa: int, sb: int) -> float:
    return sa * sb / (sa + sb)


def separated_pairs(region: Region, labels: dict[str, str | None]) -> set[frozenset[str | None]]:
    """Cluster pairs that a cannot-link keeps apart: a human already answered "no"."""
    return {
        frozenset((labels.get(a), labels.get(b)))
        for a, b, _ in region.constraints.cannot_links
        if labels.get(a) and labels.get(b)
    }


def askable(reviews: list[Review], region: Region, labels: dict[str, str | None]) -> list[Review]:
    """Drop merge questions whose answer a cannot-link already gives."""
    separated = separated_pairs(region, labels)
    return [r for r in reviews if r[0] != "merge" or frozenset((r[3], r[4])) not in separated]


def propose_questions(
    region: Region,
    labels: dict[str, str | None],
    thresholds: Thresholds,
    *,
    band: float = 1.25,
    limit: int = 20,
    shown: int = 3,
) -> list[Review]:
    """Merge and face questions for the region, best first.

    Args:
        region: the region that was reclustered (its edges, constraints, outside sizes).
        labels: face -> cluster id (None: unassigned) after reclustering, for the region's faces.
        thresholds: the thresholds in use (``link`` sets the band).
        band: look at links up to ``band`` x ``link``.
        limit: at most this many questions.
        shown: faces shown per side of a merge question.
    """
    link = thresholds.link
    if not link:
        return []
    sizes: dict[str, int] = defaultdict(int)
    for cid in labels.values():
        if cid:
            sizes[cid] += 1
    for cid, n in region.outside.items():
        sizes[cid] += n
    separated = separated_pairs(region, labels)
    pairs: dict[tuple[str, str], list[tuple[float, str, str]]] = defaultdict(list)
    lone: dict[tuple[str, str], float] = {}
    for a, b, d in region.edges:
        if d >= band * link:
            continue
        la, lb = labels.get(a), labels.get(b)
        if la and lb and la != lb:
            if frozenset((la, lb)) in separated:
                continue
            key, edge = ((la, lb), (d, a, b)) if la < lb else ((lb, la), (d, b, a))
            pairs[key].append(edge)
        elif (la is None) != (lb is None) and a in labels and b in labels:
            face, cid = (a, lb) if la is None else (b, la)
            assert cid is not None
            if cid in region.forbidden.get(face, set()):
                continue
            lone[(face, cid)] = min(d, lone.get((face, cid), math.inf))

    scored: list[tuple[float, Review]] = []
    for (ca, cb), edges in pairs.items():
        edges.sort()
        best = sum(d for d, _, _ in edges[:3]) / min(3, len(edges))
        score = _p_same(best, link) * _gain(max(1, sizes[ca]), max(1, sizes[cb]))
        fa = list(dict.fromkeys(x for _, x, _ in edges))[:shown]
        fb = list(dict.fromkeys(y for _, _, y in edges))[:shown]
        scored.append((score, ("merge", fa, fb, ca, cb, round(score, 4))))
    for (face, cid), d in lone.items():
        score = _p_same(d, link) * _gain(1, max(1, sizes[cid]))
        scored.append((score, ("face", [face], [], None, cid, round(score, 4))))
    scored.sort(key=lambda x: (-x[0], x[1][1], x[1][3] or "", x[1][4] or ""))
    return [review for score, review in scored[:limit] if score > 0.01]
