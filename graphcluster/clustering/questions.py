"""Review questions worth a person's time, from a reclustered region.

The clustering keeps two clusters apart, or leaves a face unassigned, when its evidence is
short of the link threshold. Just above it is where the algorithm is least sure, and where one
human answer changes the most pairs. Every question gets one priority on one scale: the
*expected number of faces whose clustering the answer improves* (BCubed units: joining groups
of ``a`` and ``b`` faces of one person adds ``2ab / (a + b)`` to the summed recall; taking a
wrong face out of a cluster of ``s`` adds ``2(s - 1) / s`` to the summed precision), times the
chance that the answer is the one that changes something. Steps:

1. Collect the region's SIMILAR edges closer than ``band`` x ``link`` between two different
   clusters, between an unassigned face and a cluster, and between two unassigned faces.
2. Drop pairs a human already separated (a cannot-link between the clusters, a ban of the
   face from the cluster).
3. Evidence per candidate: each of its (up to ``EVIDENCE``) closest links adds the log
   likelihood ratio of its distance under the calibrated same-person / nearest-impostor
   mixture (``thresholds.stats``, log space: no scale is assumed), with halving weights since
   links between the same two groups are not independent. Without a mixture (a fallback or
   explicit threshold) the ratio is a logistic in ``distance / link``, even at the midpoint of
   ``link`` and ``review``.
   A merge's chance is further scaled by its *cover*, the share of the two clusters' faces
   (in the region) on those links: two fragments of one person touch along much of their
   length, while a few close links between otherwise distant clusters are look-alikes the
   clustering already weighed.
4. A face is one person: the odds of an unassigned face's candidates (other clusters, other
   unassigned faces) share one probability (``odds / (1 + sum of odds)``), so a face whose
   nearest neighbours sit in several clusters is not asked about each as if it were sure.
5. Score = that probability x the faces the "yes" brings together; keep the ``limit`` best:
   ``merge`` (two clusters; the faces of each side on the closest links), ``face`` (one
   unassigned face into a cluster), and the bulk questions a person answers with a subset:
   ``join`` (up to ``BULK`` unassigned faces and small fragments whose likeliest cluster is
   one person; the gain is the sum over them), ``new_identity`` (a group of unassigned faces
   joined by likely pairs) and ``split`` (a cluster's members least tied to it: is this one
   person? the gain is the expected wrong members x what taking one out adds).

``askable`` puts the questions the clustering core itself proposes (``pass_questions``: a
tentative member, a new cluster; and the blocked merges of ``merge_fragments``) on the same
scale: a tentative member ('review' status) is worth ``(1 - confidence) x 2(s - 1) / s`` (a
"no" takes a wrong face out), a newly formed cluster's confirmation changes no assignment and
comes last, and the core's blocked-merge questions give way to the scored ``merge`` questions.

``review_id`` names a question by what it asks, so the store keeps one item per question and
an answered one is never asked again. The constants below shape what is asked and how it is
ranked, never how faces are clustered: they are module constants, not fields of ``Tuning``
(which holds the rules of the clustering pass and is what the benchmarks vary).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Callable, Sequence

from graphcluster.clustering.region import Region
from graphcluster.clustering.thresholds import Thresholds

__all__ = [
    "BULK_KINDS", "review_id", "propose_questions", "pass_questions", "separated_pairs", "askable",
    "same_person_odds", "join_gain",
]

Review = tuple[str, list[str], list[str], str | None, str | None, float]

EVIDENCE = 3  # closest links that count as evidence for a candidate (weights 1, 1/2, 1/4)
CONFIRM = 0.01  # priority per face of confirming a new cluster (changes no assignment)
MAX_LOG_ODDS = 30.0
BULK = 12  # faces per bulk question (join, split, new person): what one look takes in
FRAGMENT = 3  # a cluster this small, wholly in the region, is offered as part of a join
GROUP_PAIR = 0.25  # a new-person group grows along pairs at least this likely
SPLIT_MIN = 3  # clusters this large get a split question
BULK_KINDS = ("join", "split", "new_identity")  # answered with a subset of the faces shown


def review_id(kind: str, faces_a: Sequence[str], faces_b: Sequence[str], cluster_a: str | None,
              cluster_b: str | None) -> str:
    """A stable id from what a question asks, so that the same question is never asked twice:
    the two clusters of a merge, the face and the cluster of a face question, the person and the
    faces shown of a join or split, the faces of a new identity (or any other kind)."""
    if kind == "merge":
        key = "|".join(sorted([cluster_a or "", cluster_b or ""]))
    elif kind == "face":
        key = f"{faces_a[0] if faces_a else ''}|{cluster_b or ''}"
    elif kind in ("join", "split"):  # a person and the faces shown with it
        key = f"{cluster_b or cluster_a or ''}|" + "|".join(sorted(faces_a))
    else:
        key = "|".join(sorted(faces_a))
    return "r" + hashlib.sha1(f"{kind}:{key}".encode()).hexdigest()[:12]


def join_gain(sa: int, sb: int) -> float:
    """Summed BCubed recall gained when groups of ``sa`` and ``sb`` faces of one person join."""
    return 2.0 * sa * sb / (sa + sb)


def _logistic_llr(thresholds: Thresholds) -> Callable[[float], float]:
    link = float(thresholds.link or 1.0)
    review = float(thresholds.review or link)
    mid = 0.5 * (link + review) / link
    scale = max(0.5 * (review - link) / link, 0.02)
    return lambda d: (mid - d / link) / scale


def _mixture_llr(thresholds: Thresholds) -> tuple[Callable[[float], float], float] | None:
    st = thresholds.stats or {}
    try:
        mu0, sd0 = math.log(float(st["same_mode"])), float(st["same_log_sd"])
        mu1, sd1 = math.log(float(st["impostor_mode"])), float(st["impostor_log_sd"])
        w0, w1 = (float(w) for w in st["weights"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (sd0 > 0 and sd1 > 0 and w0 > 0 and w1 > 0 and mu1 > mu0):
        return None

    def llr(d: float) -> float:
        # monotone: beyond the impostor mode a link is no more same-person than at it
        x = min(math.log(max(d, 1e-9)), mu1)
        return (-0.5 * ((x - mu0) / sd0) ** 2 + 0.5 * ((x - mu1) / sd1) ** 2 + math.log(sd1 / sd0))

    return llr, math.log(w0 / w1)


def same_person_odds(thresholds: Thresholds) -> Callable[[list[float]], float]:
    """A function of a candidate's sorted link distances -> odds that it is one person."""
    mixture = _mixture_llr(thresholds)
    if mixture is not None:
        llr, prior = mixture
    else:
        llr, prior = _logistic_llr(thresholds), 0.0

    def odds(distances: list[float]) -> float:
        z = prior + sum(llr(d) * 0.5 ** i for i, d in enumerate(distances[:EVIDENCE]))
        return math.exp(max(-MAX_LOG_ODDS, min(MAX_LOG_ODDS, z)))

    return odds


def separated_pairs(region: Region, labels: dict[str, str | None]) -> set[frozenset[str | None]]:
    """Cluster pairs that a cannot-link keeps apart: a human already answered "no"."""
    return {
        frozenset((labels.get(a), labels.get(b)))
        for a, b, _ in region.constraints.cannot_links
        if labels.get(a) and labels.get(b)
    }


def _sizes(region: Region, labels: dict[str, str | None]) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    for cid in labels.values():
        if cid:
            sizes[cid] += 1
    for cid, n in region.outside.items():
        sizes[cid] += n
    return sizes


def pass_questions(tentative: list[tuple[str, str, float]], new_clusters: list[str],
                   labels: dict[str, str | None], dist_of: dict[str, list[tuple[float, str]]],
                   min_cluster_size: int) -> list[Review]:
    """The questions the re-clustering pass itself asks (``recluster``), in this order:

    - ``face`` for each tentative member ``(face, cluster, confidence)`` of ``tentative``
      (a face newly given status 'review'): is this face the person of that cluster? It shows
      the face's nearest fellow member (``dist_of``: face -> its ``(distance, neighbour)``
      links) and its priority is ``1 - confidence``, put on the common scale by ``askable``;
    - ``new_identity`` for each new cluster of at least ``min_cluster_size`` faces
      (``labels``: face -> cluster after the pass): are these faces one person? priority: its
      size (``askable`` puts the confirmation after every question that changes an assignment).
    """
    out: list[Review] = []
    for f, cid, conf in tentative:
        anchor = min(((d, g) for d, g in dist_of.get(f, ()) if g != f and labels.get(g) == cid), default=None)
        out.append(("face", [f], [anchor[1]] if anchor else [], None, cid, round(1.0 - conf, 4)))
    for cid in new_clusters:
        mem = sorted(f for f, c in labels.items() if c == cid)
        if len(mem) >= min_cluster_size:
            out.append(("new_identity", mem, [], cid, None, float(len(mem))))
    return out


def askable(reviews: list[Review], region: Region, labels: dict[str, str | None]) -> list[Review]:
    """The clustering core's own questions, on the scale of ``propose_questions``.

    Merge questions give way to the scored ones of ``propose_questions`` (which also covers
    every pair the core found blocked); a tentative member is worth what a "no" would fix; a
    new cluster's confirmation comes after every question that changes an assignment. A member
    must-linked to another face of its cluster is not asked about (a "no" would contradict that link).
    """
    sizes = _sizes(region, labels)
    tied: set[str] = set()  # faces must-linked to another face of their own cluster: a "no" cannot apply
    for a, b, _ in region.constraints.must_links:
        if labels.get(a) and labels.get(a) == labels.get(b):
            tied |= {a, b}
    out: list[Review] = []
    for kind, fa, fb, ca, cb, priority in reviews:
        if kind == "merge":
            continue
        if kind == "face":
            if fa and fa[0] in tied:
                continue
            s = max(sizes.get(cb or "", 1), 1)
            uncertain = min(max(float(priority), 0.0), 1.0)  # 1 - confidence
            score = uncertain * 2.0 * (s - 1) / s if s > 1 else 0.0
            out.append((kind, fa, fb, ca, cb, round(score, 4)))
        elif kind == "new_identity":
            out.append((kind, fa, fb, ca, cb, round(CONFIRM * len(fa), 4)))
        else:
            out.append((kind, fa, fb, ca, cb, priority))
    return out


def propose_questions(
    region: Region,
    labels: dict[str, str | None],
    thresholds: Thresholds,
    *,
    band: float = 1.25,
    limit: int = 20,
    shown: int = 3,
    min_score: float = 0.01,
) -> list[Review]:
    """Merge, face and pair questions for the region, best first.

    Args:
        region: the region that was reclustered (its edges, constraints, outside sizes).
        labels: face -> cluster id (None: unassigned) after reclustering, for the region's faces.
        thresholds: the thresholds in use (``link`` sets the band; the calibrated mixture in
            ``stats`` turns distances into odds).
        band: look at links up to ``band`` x ``link``.
        limit: at most this many questions.
        shown: faces shown per side of a merge question.
        min_score: drop questions expected to change less than this many faces.
    """
    link = thresholds.link
    if not link:
        return []
    sizes = _sizes(region, labels)
    separated = separated_pairs(region, labels)
    cannot = {frozenset((a, b)) for a, b, _ in region.constraints.cannot_links}
    odds_of = same_person_odds(thresholds)
    pairs: dict[tuple[str, str], list[tuple[float, str, str]]] = defaultdict(list)
    # an unassigned face's candidates, ("c", cluster) or ("f", other unassigned face), each with
    # its links as (distance, face at the other end): the nearest member of a cluster is shown
    # with the question, and is what an answer holds on to if the cluster's id is gone by then
    lone: dict[str, dict[tuple[str, str], list[tuple[float, str]]]] = defaultdict(lambda: defaultdict(list))
    for a, b, d in region.edges:
        if d >= band * link or a not in labels or b not in labels:
            continue
        la, lb = labels.get(a), labels.get(b)
        if la and lb:
            if la == lb or frozenset((la, lb)) in separated:
                continue
            key, edge = ((la, lb), (d, a, b)) if la < lb else ((lb, la), (d, b, a))
            pairs[key].append(edge)
        elif la is None and lb is None:
            if frozenset((a, b)) in cannot:
                continue
            lone[a][("f", b)].append((d, b))
            lone[b][("f", a)].append((d, a))
        else:
            face, cid = (a, lb) if la is None else (b, la)
            assert cid is not None
            if cid in region.forbidden.get(face, set()):
                continue
            lone[face][("c", cid)].append((d, b if face == a else a))

    inside: dict[str, int] = defaultdict(int)  # members in the region
    for cid in labels.values():
        if cid:
            inside[cid] += 1
    scored: list[tuple[float, Review]] = []
    merges: list[tuple[tuple[str, str], float, list[str], list[str]]] = []  # pair, chance, faces on the links
    for (ca, cb), edges in pairs.items():
        edges.sort()
        odds = odds_of([d for d, _, _ in edges])
        side_a = list(dict.fromkeys(x for _, x, _ in edges))
        side_b = list(dict.fromkeys(y for _, _, y in edges))
        # two clusters of one person touch along much of their length; a few close links
        # between otherwise distant clusters are look-alikes (the clustering kept them apart)
        cover = min(1.0, (len(side_a) + len(side_b)) / max(1, inside[ca] + inside[cb]))
        score = odds / (1.0 + odds) * cover * cover * join_gain(max(1, sizes[ca]), max(1, sizes[cb]))
        fa, fb = side_a[:shown], side_b[:shown]
        scored.append((score, ("merge", fa, fb, ca, cb, round(score, 4))))
        merges.append(((ca, cb), score / join_gain(max(1, sizes[ca]), max(1, sizes[cb])), side_a, side_b))

    # a face belongs to one person at most: its candidates share one probability
    share: dict[str, dict[tuple[str, str], float]] = {}
    for face, cands in lone.items():
        odds_by = {c: odds_of(sorted(d for d, _ in links)) for c, links in cands.items()}
        total = 1.0 + sum(odds_by.values())
        share[face] = {c: o / total for c, o in odds_by.items()}
    # join units per cluster: unassigned faces (at their likeliest cluster) and small fragments
    units: dict[str, list[tuple[float, list[str], list[str]]]] = defaultdict(list)
    for face, probs in share.items():
        clusters = [(p, other) for (kind, other), p in probs.items() if kind == "c"]
        if clusters:
            p, best = max(clusters, key=lambda pc: (pc[0], pc[1]))
            units[best].append((p, [face], [min(lone[face][("c", best)])[1]]))
    fragment_of: dict[str, tuple[float, str, list[str], list[str]]] = {}
    for (ca, cb), p, side_a, side_b in merges:
        small, big, fs, fb = (ca, cb, side_a, side_b) if sizes[ca] <= sizes[cb] else (cb, ca, side_b, side_a)
        if sizes[small] > FRAGMENT or inside[small] != sizes[small] or sizes[big] <= sizes[small]:
            continue
        if small not in fragment_of or p > fragment_of[small][0]:
            members = sorted(f for f, c in labels.items() if c == small)
            fragment_of[small] = (p, big, members, [fb[0]] * len(members))
    for small, (p, big, members, nearest) in fragment_of.items():
        units[big].append((p, members, nearest))
    joined: set[str] = set()  # clusters and faces a join question asks about: no one-face question for them
    for cid, found in units.items():
        found.sort(key=lambda u: (-u[0], u[1]))
        faces: list[str] = []
        shown_b: list[str] = []
        score = 0.0
        for p, fs, nb in found:
            if len(faces) + len(fs) > BULK:
                continue
            faces += fs
            shown_b += nb
            score += p * join_gain(len(fs), max(1, sizes[cid]))
        if len(faces) < 2:
            continue
        joined |= set(faces) | {labels[f] or "" for f in faces}
        scored.append((score, ("join", faces, shown_b, None, cid, round(score, 4))))
    scored = [s for s in scored if not (s[1][0] == "merge" and {s[1][3], s[1][4]} & joined
                                        and (s[1][3] in fragment_of or s[1][4] in fragment_of))]
    for face, probs in share.items():
        for (kind, other), p in probs.items():
            if kind == "c" and face not in joined:
                score = p * join_gain(1, max(1, sizes[other]))
                member = min(lone[face][(kind, other)])[1]
                scored.append((score, ("face", [face], [member], None, other, round(score, 4))))
    scored += _groups(share, lone, odds_of)
    scored += _splits(region, labels, sizes, odds_of)
    scored.sort(key=lambda x: (-x[0], x[1][0], x[1][1], x[1][3] or "", x[1][4] or ""))
    return [review for score, review in scored[:limit] if score > min_score]


def _groups(share: dict[str, dict[tuple[str, str], float]],
            lone: dict[str, dict[tuple[str, str], list[tuple[float, str]]]],
            odds_of: Callable[[list[float]], float]) -> list[tuple[float, Review]]:
    """New-person questions: unassigned faces joined by likely pairs, up to ``BULK`` faces per
    group. A pair's chance is the odds of its link alone (two partners of a face are not
    exclusive when they are one person too), held to the pair's share when the group is only
    the two faces; a group's gain is what putting its faces together one by one adds, times the
    mean chance of its pairs."""
    pairs: dict[tuple[str, str], float] = {}
    for face, probs in share.items():
        for (kind, other), p in probs.items():
            if kind == "f" and face < other:
                o = odds_of(sorted(d for d, _ in lone[face][(kind, other)]))
                pairs[(face, other)] = o / (1.0 + o)
    shared = {(a, b): min(share[a][("f", b)], share.get(b, {}).get(("f", a), 0.0)) for a, b in pairs}
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    size: dict[str, int] = defaultdict(lambda: 1)
    for (a, b), q in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
        ra, rb = find(a), find(b)
        if ra != rb and (q >= GROUP_PAIR or size[ra] + size[rb] == 2) and size[ra] + size[rb] <= BULK:
            parent[rb] = ra
            size[ra] += size[rb]
    groups: dict[str, list[str]] = defaultdict(list)
    for f in sorted({f for ab in pairs for f in ab}):
        groups[find(f)].append(f)
    out: list[tuple[float, Review]] = []
    for faces in groups.values():
        if len(faces) < 2:
            continue
        inner = [q for (a, b), q in pairs.items() if a in faces and b in faces and find(a) == find(faces[0])]
        chance = shared[(faces[0], faces[1])] if len(faces) == 2 else sum(inner) / len(inner)
        score = chance * sum(join_gain(k, 1) for k in range(1, len(faces)))
        out.append((score, ("new_identity", faces, [], None, None, round(score, 4))))
    return out


def _splits(region: Region, labels: dict[str, str | None], sizes: dict[str, int],
            odds_of: Callable[[list[float]], float]) -> list[tuple[float, Review]]:
    """"Is this cluster one person?": per cluster, the ``BULK`` members least tied to the rest
    (the chance that a member is someone else is 1 / (1 + odds) of its links to fellow members);
    the gain is the expected wrong faces shown x what taking one out adds, ``2(s - 1) / s``.
    Members a human placed or tied by a must-link, and locked clusters, are not asked about."""
    tied = set(region.pinned)
    for a, b, _ in region.constraints.must_links:
        if labels.get(a) and labels.get(a) == labels.get(b):
            tied |= {a, b}
    fellows: dict[str, list[float]] = defaultdict(list)
    for a, b, d in region.edges:
        ca, cb = labels.get(a), labels.get(b)
        if ca and ca == cb:
            fellows[a].append(d)
            fellows[b].append(d)
    members: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for f, cid in labels.items():
        if cid and f in fellows and f not in tied and cid not in region.locked:
            members[cid].append((1.0 / (1.0 + odds_of(sorted(fellows[f]))), f))
    out: list[tuple[float, Review]] = []
    for cid, ms in members.items():
        s = sizes[cid]
        if s < SPLIT_MIN:
            continue
        ms.sort(key=lambda pm: (-pm[0], pm[1]))
        shown = ms[:BULK]
        score = sum(p for p, _ in shown) * 2.0 * (s - 1) / s
        out.append((score, ("split", [f for _, f in shown], [], cid, None, round(score, 4))))
    return out
