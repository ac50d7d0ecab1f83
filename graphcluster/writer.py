"""Write what a change of the clustering leaves: memberships, clusters and review questions.

``apply_result`` writes a ``RegionResult``: only what changed, in one store transaction for
the clustering and one for the review items. A question is stored under its stable id
(``clustering.questions.review_id``), so a question already answered (or obsolete) is never
asked again. ``emptied_clusters`` and ``obsolete_reviews`` are the two rules a human decision
that places faces by hand (``graphcluster.decisions``) shares with it: a cluster left with no
member is deleted in the same call, and the open questions about a deleted cluster are
marked obsolete.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphcluster.clustering.questions import review_id
from graphcluster.models import ClusterRecord, Membership, ReviewItem
from graphcluster.store.base import Store


@dataclass
class Applied:
    """What one ``apply_result`` wrote: clusters created, clusters that gained members, questions
    asked, and ``grown``: cluster -> (size before, size after) for each cluster that grew."""

    created: int = 0
    changed: int = 0
    reviews: int = 0
    new_reviews: int = 0  # of ``reviews``, those never asked before
    grown: dict[str, tuple[int, int]] = field(default_factory=dict)


def apply_result(store: Store, result: Any) -> Applied:
    """Write a clustering result to ``store``; returns counts of what changed."""
    memberships = [
        Membership(face_id=f, cluster_id=cid, status=status, confidence=float(conf))
        for f, (cid, status, conf) in sorted(result.memberships.items())
    ]
    created = [ClusterRecord(id=cid) for cid in result.new_clusters]
    emptied = emptied_clusters(store, memberships, result.emptied_clusters)
    touched = sorted({m.cluster_id for m in memberships if m.cluster_id})
    before = {cid: k.size for cid, k in store.get_clusters(touched).items()} if touched else {}
    if memberships or created or emptied:
        store.apply_clustering(memberships, created, emptied)
    after = store.get_clusters(touched) if touched else {}
    grown = {cid: (before.get(cid, 0), k.size) for cid, k in after.items() if k.size > before.get(cid, 0)}

    items: list[ReviewItem] = []
    proposals = [(review_id(*p[:5]), p) for p in result.reviews]
    known = store.review_statuses([rid for rid, _ in proposals]) if proposals else {}
    for rid, proposal in proposals:
        kind, faces_a, faces_b, cluster_a, cluster_b, priority = proposal
        if known.get(rid, "open") != "open":
            continue  # asked and answered (or obsolete): never ask twice
        items.append(ReviewItem(id=rid, kind=kind, priority=float(priority), faces_a=list(faces_a),
                                faces_b=list(faces_b), cluster_a=cluster_a, cluster_b=cluster_b))
    if items:
        store.put_reviews(items)
    fresh = sum(1 for item in items if item.id not in known)
    return Applied(created=len(created), changed=len(touched), reviews=len(items), new_reviews=fresh,
                   grown=grown)


def emptied_clusters(store: Store, memberships: Sequence[Membership], proposed: Iterable[str] = ()) -> list[str]:
    """Clusters left with no member once ``memberships`` are written (to delete in the same call).

    ``proposed``: clusters the caller believes emptied. A re-clustered region may hold only
    part of a large cluster, so a cluster the core saw emptied can still have members outside
    the region: it is kept (and only truly empty ones deleted).
    """
    moved = {m.face_id: m.cluster_id for m in memberships}
    before = store.memberships(list(moved))
    losing = {m.cluster_id for m in before.values() if m.cluster_id} | set(proposed)
    gaining = {cid for cid in moved.values() if cid}
    candidates = sorted(losing - gaining)
    if not candidates:
        return []
    members = store.cluster_members(candidates)
    return [cid for cid in candidates if all(moved.get(f, cid) != cid for f in members[cid])]


def obsolete_reviews(store: Store, clusters: Iterable[str]) -> None:
    """Mark obsolete the open review items about any of ``clusters`` (deleted clusters)."""
    gone = sorted(set(clusters))
    stale = store.open_reviews_about(gone) if gone else []
    if stale:
        store.set_review_status(stale, "obsolete")
