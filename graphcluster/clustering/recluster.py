"""Recluster a Region: constraint-aware Chinese Whispers, fragment merging, stable ids.

1. Contract must-link groups into super-nodes; a group holding a pinned face or a member of a
   locked cluster is clamped to that cluster; faces outside the region are held fixed.
2. Split at once every cluster that holds both ends of a cannot-link: one end keeps the
   cluster, the other starts a new one, and every other free member goes to the side it is
   closer to (shortest path over the SIMILAR edges).
3. Chinese Whispers over the SIMILAR edges closer than ``link`` (``whispers.py``), starting
   from the current clusters, refusing cannot-linked and forbidden labels.
4. Merge fragments: two labels joined by at least ``merge_support`` x the smaller one's size
   (and at least ``merge_min_edges``) of cross links, whose mean distance is below
   ``merge_mean`` x ``link`` (average linkage), are one person split by the sparse kNN graph
   (not a chain through one look-alike); a lone face may join a cluster this way, never the
   reverse. Merges that a lock or a cannot-link forbids become merge questions.
   Then every cluster of at least ``split_min`` nodes held wholly in the region is re-checked
   (``split_weak``): Chinese Whispers on its mutual top-3 edges finds its tight parts, which
   rejoin while the links between them average below ``split_join`` x ``link``; a crowd of
   look-alikes chained together falls apart, one person stays whole; the join limit shrinks
   where the cluster's nearest outsiders sit closer than the calibrated nearest-impostor mode
   (local scale). A smaller cluster (``doubt_min`` nodes and more) that the same rule would
   take apart stays whole, its faces tentative. Finally a face still alone joins the cluster
   that all (at least ``attach_min``) of its clustered neighbours closer than ``review``
   belong to (``attach_lone``; neighbours alone abstain).
5. Per face: confidence from the share of its link weight that goes to its cluster, the
   margin over the runner-up cluster and its distance to the cluster's core (mean distance
   to its nearest members); below ``auto_confidence``, or in a cluster the re-check doubts,
   the face is assigned as 'review'. A face with no link is unassigned.
6. Map labels onto stable cluster ids by maximum overlap (locked ids never change, a new id
   only for a genuinely new cluster); report only what changed, and the review questions.

The rules' constants are the fields of ``Tuning`` (``tuning.py``), passed in.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import networkx as nx  # type: ignore[import-untyped]

from graphcluster.clustering.fragments import Label, Review, attach_lone, merge_fragments, split_weak
from graphcluster.clustering.questions import pass_questions
from graphcluster.clustering.region import Region
from graphcluster.clustering.thresholds import Thresholds, edge_weight
from graphcluster.clustering.tuning import DEFAULT_TUNING, Tuning
from graphcluster.clustering.whispers import chinese_whispers

__all__ = ["RegionResult", "Review", "recluster"]


@dataclass
class RegionResult:
    """What ``recluster`` decided.

    Attributes:
        memberships: face -> (cluster id or None, status, confidence), for every free face whose
            value changed.
        new_clusters: ids made for new clusters (present in ``memberships``).
        emptied_clusters: clusters that lost every member.
        reviews: proposed questions ``(kind, faces_a, faces_b, cluster_a, cluster_b, priority)``.
        labels: face -> cluster id (or None) for every face of the region, after the run.
    """

    memberships: dict[str, tuple[str | None, str, float]] = field(default_factory=dict)
    new_clusters: list[str] = field(default_factory=list)
    emptied_clusters: list[str] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    labels: dict[str, str | None] = field(default_factory=dict)


def recluster(
    region: Region,
    thresholds: Thresholds,
    *,
    seed: int = 0,
    max_iterations: int = 30,
    auto_confidence: float = 0.6,
    min_cluster_size: int = 5,
    new_id: Callable[[], str],
    tuning: Tuning = DEFAULT_TUNING,
) -> RegionResult:
    """Recluster ``region`` and map the result onto stable cluster ids.

    Args:
        region: the affected subgraph (``build_region``).
        thresholds: ``link`` decides which edges may join faces.
        seed: seed of Chinese Whispers' visiting order.
        max_iterations: cap on Chinese Whispers passes.
        auto_confidence: below this confidence a face is assigned with status 'review'.
        min_cluster_size: a new cluster this large yields a new-identity question.
        new_id: makes a fresh cluster id.
        tuning: the rules' constants.

    Returns:
        The RegionResult; the input is not modified.
    """
    cs = region.constraints
    faces = sorted(region.faces)
    rep = {f: cs.find(f) for f in faces}
    nodes: dict[str, list[str]] = defaultdict(list)
    for f in faces:
        nodes[rep[f]].append(f)
    cur = {f: region.labels.get(f, (None, "unassigned"))[0] for f in faces}

    # 1. clamps: pinned faces and members of locked clusters fix their node's label
    clamped: dict[str, Label] = {}
    initial: dict[str, Label] = {}
    for r, mem in nodes.items():
        pins = sorted({region.pinned[f] for f in mem if f in region.pinned})
        locks = sorted({c for f in mem if (c := cur[f]) is not None and c in region.locked})
        fixed = pins or locks
        if fixed:
            clamped[r] = ("c", fixed[0])
        held = [c for f in mem if (c := cur[f]) is not None]
        initial[r] = clamped.get(r) or (("c", max(sorted(set(held)), key=held.count)) if held else ("n", r))

    # cannot-link partners and forbidden labels at node level
    partners: dict[str, set[str]] = defaultdict(set)
    for a, b, _ in cs.cannot_links:
        if a in rep and b in rep and rep[a] != rep[b]:
            partners[rep[a]].add(rep[b])
            partners[rep[b]].add(rep[a])
    forbidden: dict[str, set[Label]] = defaultdict(set)
    for f, cids in region.forbidden.items():
        if f in rep:
            forbidden[rep[f]].update(("c", c) for c in cids)

    # SIMILAR edges at node level (only those closer than link may join)
    link = thresholds.link
    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    dist_of: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for a, b, d in region.edges:
        if a in rep and b in rep:
            dist_of[a].append((d, b))
            dist_of[b].append((d, a))
    for a, b, d in region.edges:
        ra, rb = rep.get(a), rep.get(b)
        if ra is None or rb is None or ra == rb or link is None or d >= link:
            continue
        w = edge_weight(d, thresholds)
        attr = graph.get_edge_data(ra, rb)  # the edge's own attribute dict, shared by both directions
        if attr is None:
            graph.add_edge(ra, rb, weight=w, n=1, dsum=d)
        else:
            attr["weight"] += w
            attr["n"] += 1
            attr["dsum"] += d

    # 2. split clusters that hold both ends of a cannot-link
    _split_violations(graph, initial, clamped, partners)

    # 3. Chinese Whispers: every face of the region may move (holding the faces that are not
    # seeds, so that only newcomers move, lowered precision on real faces: newcomers pile onto
    # whatever cluster is held)
    label: dict[str, Label] = chinese_whispers(
        graph, seed=seed, max_iterations=max_iterations, initial=initial, clamped=clamped,
        cannot=partners, forbidden=forbidden, alone=lambda r: ("n", r),
    )
    for r in nodes:  # isolated nodes keep their start (a held cluster) unless nothing holds them
        label.setdefault(r, initial[r])

    size_out = {("c", c): n for c, n in region.outside.items()}
    reviews: list[Review] = []
    doubtful: set[Label] = set()  # labels of small clusters the re-check doubts: not 'auto'
    # 4. merge fragments of one person
    if link is not None:
        merge_fragments(graph, label, clamped, partners, forbidden, size_out, nodes, reviews, link, tuning)
        # the re-check measures links against ``link`` as an impostor-tail distance; a fallback
        # link is the same-person mode's upper tail, against which every person looks split
        if tuning.split_min and thresholds.source != "fallback":
            def outsider(r: str, lab: Label) -> float | None:
                """Distance of node ``r`` to its nearest face (in the region) outside ``lab``."""
                return min((d for f in nodes[r] for d, g in dist_of.get(f, ())
                            if g in rep and label[rep[g]] != lab), default=None)

            impostor = thresholds.stats.get("impostor_mode")
            doubtful = split_weak(graph, label, clamped, size_out, link, seed, outsider,
                       float(impostor) if isinstance(impostor, (int, float)) else None, tuning)
        # neighbours vote up to ``review``: the same/impostor crossing, or under a fallback the
        # lower tail of random pairs (the closest that strangers are known to come). Only a
        # unanimous vote of at least ``attach_min`` clustered neighbours attaches, so a stranger's
        # mixed neighbourhood keeps it alone while a hard photo of a person with many photos
        # (a family album's profile shot) joins them
        if tuning.attach_min and thresholds.review is not None:
            # a single face's cluster before this pass, by node (a node's representative may be a
            # must-link partner outside the region)
            stored = {r: cur[mem[0]] for r, mem in nodes.items() if len(mem) == 1} if tuning.attach_stored else None
            attach_lone(label, clamped, nodes, dist_of, rep, partners, forbidden, size_out, thresholds.review, stored,
                        tuning)
    if tuning.held_support and size_out:
        # the mean-distance limit is the re-check's join (split_weak): none where no re-check runs
        rechecked = bool(tuning.split_min) and thresholds.source != "fallback"
        _hold_thin_support(graph, label, clamped, nodes, cur, size_out, partners, forbidden,
                           link if rechecked else None, tuning)

    # 5./6. statuses, confidences, ids
    # every face that ends under a doubted label (a lone face attached to it too) is tentative
    doubted = {f for r, lab in label.items() if lab in doubtful for f in nodes[r]}
    return _finish(region, thresholds, nodes, label, graph, dist_of, clamped, size_out, reviews,
                   auto_confidence, min_cluster_size, new_id, tuning.core_neighbours, doubted)


def _split_violations(graph: nx.Graph, initial: dict[str, Label], clamped: dict[str, Label],
                      partners: dict[str, set[str]]) -> None:
    """Give one end of every violated cannot-link a new label and share the members out."""
    for _ in range(len(partners) + 1):
        bad = sorted((u, v) for u in partners for v in partners[u] if u < v and initial[u] == initial[v])
        if not bad:
            return
        u, v = bad[0]
        lab = initial[u]
        keep, move = (v, u) if v in clamped and u not in clamped else (u, v)  # the clamped end keeps it
        if keep in clamped and move in clamped:
            move_label: Label = ("n", move)  # both clamped to one label: cannot happen via the engine
        else:
            move_label = ("n", move)
        members = [x for x in initial if initial[x] == lab]
        # multi-source Dijkstra from the two ends over edges inside the cluster
        dist: dict[str, float] = {keep: 0.0, move: 0.0}
        side: dict[str, Label] = {keep: lab, move: move_label}
        heap: list[tuple[float, str, str]] = [(0.0, keep, keep), (0.0, move, move)]
        inside = set(members)
        while heap:
            d, x, src = heapq.heappop(heap)
            if d > dist.get(x, float("inf")):
                continue
            for y, attr in graph[x].items():
                if y not in inside or y in clamped:
                    continue
                nd = d + 1.0 / max(attr["weight"], 1e-6)
                if nd < dist.get(y, float("inf")):
                    dist[y] = nd
                    side[y] = side[src] if src in side else lab
                    heapq.heappush(heap, (nd, y, src))
        for x in members:
            if x in clamped or x == keep:
                continue
            want = side.get(x)
            if want is None:
                initial[x] = ("n", x)  # not connected to either end: let it find its own way
            elif any(initial[p] == want for p in partners.get(x, ())):
                initial[x] = ("n", x)
            else:
                initial[x] = want
        initial[move] = move_label


def _hold_thin_support(graph: nx.Graph, label: dict[str, Label], clamped: dict[str, Label],
                       nodes: dict[str, list[str]], cur: dict[str, str | None], size_out: dict[Label, int],
                       partners: dict[str, set[str]], forbidden: dict[str, set[Label]],
                       link: float | None = None, tuning: Tuning = DEFAULT_TUNING) -> None:
    """Keep held clusters apart, and their ids away from groups that only a few members tie to them.

    A cluster larger than ``region_limit`` enters with its members near the seeds only; Chinese
    Whispers cannot see the rest of it, so a group of new faces (or a small cluster) linked to
    one of those members can pull it over, and the id mapping would then hand the whole group
    the held cluster's id -- a new person absorbed into someone else through one look-alike --
    and slices of two held clusters that it puts under one label would merge two large
    clusters on a partial view (``merge_fragments`` never moves a held cluster: it asks).

    So in a group holding members of held clusters, the other faces ("the rest") join one of
    them only with support, like ``merge_fragments``: at least ``held_support`` x their number
    (and ``merge_min_edges``) of links into its members; a single face keeps Chinese Whispers'
    choice. Either way the links must average below ``split_join`` x ``link``, the join that the
    cluster's re-check (``split_weak``) would keep: faces chained onto a held cluster by
    look-alike links near ``link`` would otherwise grow it into a crowd between its audits.
    ``link`` None (the caller's choice under a fallback link, where the re-check does not run
    and would keep every join) drops that limit.
    Without support the rest stays together under a label of its own (a new cluster,
    or the small cluster it came from), and every held cluster's members go back to it. A node
    moves only where no cannot-link partner is and no "not this person" decision forbids; a
    clamped node never moves.
    """
    home: dict[str, str | None] = {}
    for r, mem in nodes.items():
        if r in clamped:
            home[r] = clamped[r][1] if clamped[r][0] == "c" else None
            continue
        held = [c for f in mem if (c := cur[f]) is not None]
        home[r] = max(sorted(set(held)), key=held.count) if held else None
    def may(r: str, target: Label) -> bool:
        return target not in forbidden.get(r, ()) and not any(label.get(p) == target for p in partners.get(r, ()))

    def move(r: str, target: Label) -> bool:
        if r in clamped or not may(r, target):
            return label[r] == target
        label[r] = target
        return True

    def links(a: list[str], b: set[str]) -> tuple[int, float]:
        """Number and mean distance of the links from nodes ``a`` into nodes ``b``."""
        n, ds = 0, 0.0
        for r in a:
            for y, attr in graph[r].items():
                if y in b:
                    n += attr["n"]
                    ds += attr["dsum"]
        return n, (ds / n if n else float("inf"))

    def settle(lab: Label, members: list[str]) -> None:
        ours: dict[str, list[str]] = defaultdict(list)
        rest: list[str] = []
        for r in members:
            h = home[r]
            # a member a decision keeps out of its cluster (a cannot-link partner in it, "not
            # this person") is not the cluster's: it counts with the rest
            if (h is not None and size_out.get(("c", h)) and clamped.get(r, ("c", h)) == ("c", h)
                    and (r in clamped or may(r, ("c", h)))):
                ours[h].append(r)
            else:
                rest.append(r)
        if not ours or (len(ours) == 1 and not rest):
            return
        faces = sum(len(nodes[r]) for r in rest)
        joined: str | None = None
        anchored = any(r in clamped for r in rest)  # a pin holds the rest where it is
        if rest and not anchored:
            support = {c: links(rest, set(m)) for c, m in ours.items()}
            best = min(support, key=lambda c: (-support[c][0], c))
            n, mean = support[best]
            # the join a re-check of the whole cluster would keep (split_weak's average linkage):
            # held partly outside, the cluster is not re-checked now, and faces chained onto it
            # by look-alike links would stay until its next audit
            close = link is None or mean <= tuning.split_join * link
            if close and (faces < 2 or n >= max(tuning.merge_min_edges, tuning.held_support * faces)):
                joined = best
        if len(ours) == 1 and joined is not None and (lab == ("c", joined) or lab[0] != "c"):
            return  # supported: Chinese Whispers' group stands
        # under the label of a cluster seen whole (not held), that cluster keeps its group and
        # the held members go home: neither absorbs the other on a partial view of one
        own = lab[0] == "c" and lab[1] not in ours
        if own:
            joined = None
        for c in sorted(ours):
            for r in ours[c]:
                move(r, ("c", c))
        # the rest stays together: under a label nothing else uses ("h"), or under its own label
        # (a whole cluster's, or one a clamped node, a pin, holds)
        fresh: Label = lab if not rest or anchored or own else ("h", min(rest))
        target = ("c", joined) if joined is not None else fresh
        for r in rest:
            if r not in clamped and not move(r, target):
                move(r, fresh)

    # members sent back to their cluster can join a group settled before: repeat until stable
    for _ in range(5):
        before = dict(label)
        groups: dict[Label, list[str]] = defaultdict(list)
        for r, lab in label.items():
            groups[lab].append(r)
        for lab, members in sorted(groups.items(), key=lambda x: repr(x[0])):
            if all(label[r] == lab for r in members):  # else changed in this round: the next one
                settle(lab, members)
        if label == before:
            break


def _held_fragment(region: Region, mem: list[str], size_out: dict[Label, int],
                   groups: dict[Label, list[str]], final: dict[Label, str | None]) -> str | None:
    """The large cluster a would-be new cluster is a fragment of, when it must stay in it.

    A cluster held partly outside the region is split only when it enters whole (an audit) or
    by a decision: with a few of its members in the region, Chinese Whispers can cut them off
    on ties (a sparse slice of one person), and that piece would become a new cluster. So a
    group of that cluster's members and at most as many unassigned faces (new ones), and of no
    other cluster's, stays in it -- unless that would put a cannot-link pair or a "not this
    person" face into it (``Region.forbidden`` holds the clusters of cannot-link partners
    outside the region).
    """
    now = [region.labels.get(f, (None, ""))[0] for f in mem]
    homes = {c for c in now if c is not None}
    if len(homes) != 1:
        return None
    home = homes.pop()
    # most of the group is the cluster's own: a slice, not a newcomer group that pulled one of
    # its members over, nor the half of a cluster a decision split off
    if not size_out.get(("c", home)) or 2 * now.count(home) < len(mem):
        return None
    if any(home in region.forbidden.get(f, ()) for f in mem):
        return None
    inside = set(mem)
    partners = [(a, b) for a, b, _ in region.constraints.cannot_links if a in inside or b in inside]
    if partners:  # only then the faces already given ``home`` matter (one pass over the groups)
        joined = inside.union(*(g for lab, g in groups.items() if final.get(lab) == home))
        if any(a in joined and b in joined for a, b in partners):
            return None
    return home


def _finish(region: Region, thresholds: Thresholds, nodes: dict[str, list[str]], label: dict[str, Label],
            graph: nx.Graph, dist_of: dict[str, list[tuple[float, str]]], clamped: dict[str, Label],
            size_out: dict[Label, int], reviews: list[Review], auto_confidence: float,
            min_cluster_size: int, new_id: Callable[[], str], core_neighbours: int,
            doubted: set[str]) -> RegionResult:
    groups: dict[Label, list[str]] = defaultdict(list)
    for r, lab in label.items():
        groups[lab].extend(nodes[r])

    # stable ids by maximum overlap; locked ids, held (outside) parts and clamps keep theirs
    clamp_labels = set(clamped.values())
    overlap: list[tuple[int, str, Label, str]] = []
    for lab, mem in groups.items():
        counts: dict[str, int] = defaultdict(int)
        for f in mem:
            c = region.labels.get(f, (None, ""))[0]
            if c is not None:
                counts[c] += 1
        if lab[0] == "c":
            # a locked cluster, one held partly outside, or one a human placed a face in
            # (a clamp) keeps its id: the label is that cluster
            fixed = lab[1] in region.locked or size_out.get(lab, 0) or lab in clamp_labels
            counts[lab[1]] += 10**9 if fixed else 0
        for c, n in counts.items():
            overlap.append((-n, c, lab, repr(lab)))
    overlap.sort(key=lambda x: (x[0], x[1], x[3]))
    final: dict[Label, str | None] = {}
    used: set[str] = set()
    for _negn, c, lab, _ in overlap:
        if lab in final or c in used:
            continue
        final[lab] = c
        used.add(c)
    result = RegionResult()
    for lab, mem in sorted(groups.items(), key=lambda x: min(x[1])):
        if lab in final:
            continue
        held = _held_fragment(region, mem, size_out, groups, final)
        if held is not None:
            final[lab] = held
            continue
        pinned = any(region.pinned.get(f) for f in mem)
        if len(mem) >= 2 or pinned:
            fresh = new_id()
            final[lab] = fresh
            result.new_clusters.append(fresh)
        else:
            final[lab] = None

    face_cluster: dict[str, str | None] = {}
    for lab, mem in groups.items():
        for f in mem:
            face_cluster[f] = final[lab]
    # the ids come from overlap: a face whose label took the id of a cluster it must never join
    # (Chinese Whispers moved that cluster's members onto the face's label, not the face onto
    # theirs) leaves it; a lone face is then unassigned, a must-link group (two or more faces
    # a human said are one person) becomes a cluster of its own
    for mem in nodes.values():
        cid = face_cluster[mem[0]]
        if cid is not None and any(cid in region.forbidden.get(f, ()) for f in mem):
            own = None
            if len(mem) >= 2:
                own = new_id()
                result.new_clusters.append(own)
            for f in mem:
                face_cluster[f] = own
    result.labels = dict(face_cluster)

    # confidence per face
    link = thresholds.link or 0.0
    review = thresholds.review or link
    tentative: list[tuple[str, str, float]] = []  # (face, cluster, confidence) newly 'review'
    for f in sorted(face_cluster):
        cid = face_cluster[f]
        old_c, old_s = region.labels.get(f, (None, "unassigned"))
        if f in region.pinned or old_c in region.locked:
            # human-placed or locked: never moved, status kept (the other faces of a clamped
            # must-link group follow it: their label is the clamp's, and so is its id)
            continue
        if cid is None:
            status, conf = "unassigned", 0.0
        else:
            conf = _confidence(f, cid, face_cluster, dist_of, link, review, core_neighbours)
            # a face of a small cluster the re-check doubts is assigned, but tentatively
            status = "auto" if conf >= auto_confidence and f not in doubted else "review"
            if status == "review" and (old_c != cid or old_s != "review"):
                tentative.append((f, cid, conf))
        if old_c != cid or old_s != status:
            result.memberships[f] = (cid, status, round(conf, 4))

    # emptied clusters, and the pass's own questions (tentative members, new clusters)
    still = {c for c in face_cluster.values() if c is not None} | {lab[1] for lab in size_out if size_out[lab] > 0}
    result.emptied_clusters = sorted(c for c in region.clusters() if c not in still)
    reviews += pass_questions(tentative, result.new_clusters, face_cluster, dist_of, min_cluster_size)
    result.reviews = reviews
    return result


def _confidence(face: str, cid: str, face_cluster: dict[str, str | None],
                dist_of: dict[str, list[tuple[float, str]]], link: float, review: float,
                core_neighbours: int) -> float:
    """Share of link weight to the own cluster, margin over the runner-up, closeness to the core."""
    mine = 0.0
    others: dict[str | None, float] = defaultdict(float)
    own_d: list[float] = []
    for d, g in dist_of.get(face, []):
        if d >= review:
            continue
        w = 1.0 - 0.5 * (d / link) ** 2 if d < link else 0.25 * (review - d) / max(review - link, 1e-9)
        if face_cluster.get(g) == cid:
            mine += w
            own_d.append(d)
        else:
            others[face_cluster.get(g)] += w
    total = mine + sum(others.values())
    if total <= 0 or not own_d:
        return 0.5  # held by a must-link or a clamp, not by its own links
    share = mine / total
    runner = max(others.values(), default=0.0)
    margin = (mine - runner) / total
    core_d = sum(sorted(own_d)[:core_neighbours]) / min(len(own_d), core_neighbours)
    core = min(1.0, max(0.0, (review - core_d) / max(review - 0.6 * link, 1e-9)))
    return float(max(0.0, min(1.0, 0.5 * share + 0.25 * max(margin, 0.0) + 0.25 * core)))
