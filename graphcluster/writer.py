"""Write a ``RegionResult`` to the store: memberships, clusters and review questions.

Only what changed is written, in one store transaction for the clustering and one for the
review items. A question already answered (same stable id) is never asked again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphcluster.decisions import emptied_clusters, review_id
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
