"""What each page shows, read from a :class:`~graphcluster.GraphCluster` one page at a time.

Reads only: every change goes through the facade's decision methods in ``app.py``. Each
function reads what its page shows and no more — a page of clusters (``gc.clusters(offset,
limit)``), the members of those clusters, the memberships of the faces on screen — so a page
costs the same at 1,000 faces as at 100,000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from graphcluster.models import ClusterRecord, Decision, ReviewItem

__all__ = ["Page", "Side", "Question", "paged", "covers", "question_views", "QUESTION_TEXT", "placeholder_svg"]

QUESTION_TEXT = {
    "merge": "Are these two people one person?",
    "face": "Is this face the person on the right?",
    "new_identity": "Are these faces one (new) person?",
    "pair": "Are these two faces the same person?",
    "join": "Which of these faces are the person on the right?",
    "split": "Is this one person? Tick the faces that are not, then No.",
}
COVER_CANDIDATES = 30  # members looked at per cluster when picking its cover faces


@dataclass
class Page:
    """Where a paginated list stands: 1-based ``number`` of ``count`` pages of ``size``."""

    number: int
    size: int
    total: int

    @property
    def count(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def paged(number: int, size: int, total: int) -> Page:
    return Page(number=number, size=size, total=total)


def covers(gc: Any, clusters: list[ClusterRecord], per_cluster: int = 3) -> dict[str, list[str]]:
    """Up to ``per_cluster`` face ids to show for each cluster, most confident first."""
    members = gc.store.cluster_members([c.id for c in clusters])
    candidates = {cid: ids[:COVER_CANDIDATES] for cid, ids in members.items()}
    ms = gc.assignments(detail=True, face_ids=[f for ids in candidates.values() for f in ids])
    return {
        cid: sorted(ids, key=lambda f: (-(ms[f].confidence if f in ms else 0.0), f))[:per_cluster]
        for cid, ids in candidates.items()
    }


@dataclass
class Side:
    """One side of a question: a title, the cluster it is about (if any), the faces to show."""

    title: str
    faces: list[str]
    cluster: ClusterRecord | None = None
    ticks: bool = False  # each face gets a checkbox: a bulk answer names the ticked faces


@dataclass
class Question:
    item: ReviewItem
    text: str
    sides: list[Side] = field(default_factory=list)


def _cluster_title(c: ClusterRecord | None, cid: str | None) -> str:
    if c is None:
        return f"person {cid} (gone)" if cid else "unassigned faces"
    return (c.name or f"person {c.id}") + f" · {c.size} face" + ("s" if c.size != 1 else "")


def question_views(gc: Any, items: list[ReviewItem], shown: int = 6) -> list[Question]:
    """The sides of every question, with crops to show (three store reads for the whole page)."""
    cids = sorted({c for it in items for c in (it.cluster_a, it.cluster_b) if c})
    clusters = gc.store.get_clusters(cids)
    members = gc.store.cluster_members([c for c in cids if c in clusters])
    out = []
    for it in items:
        q = Question(item=it, text=QUESTION_TEXT.get(it.kind, "Same person?"))
        if it.kind == "merge":
            for cid, faces in ((it.cluster_a, it.faces_a), (it.cluster_b, it.faces_b)):
                more = [f for f in members.get(cid or "", []) if f not in faces]
                q.sides.append(Side(_cluster_title(clusters.get(cid or ""), cid), (faces + more)[:shown],
                                    clusters.get(cid or "")))
        elif it.kind == "face":
            cb = clusters.get(it.cluster_b or "")
            more = [f for f in members.get(it.cluster_b or "", []) if f not in it.faces_a + it.faces_b]
            q.sides.append(Side("this face", it.faces_a[:1]))
            q.sides.append(Side(_cluster_title(cb, it.cluster_b), (it.faces_b + more)[:shown], cb))
        elif it.kind == "pair":
            q.sides.append(Side("face A", it.faces_a[:1]))
            q.sides.append(Side("face B", it.faces_b[:1]))
        elif it.kind == "join":
            cb = clusters.get(it.cluster_b or "")
            more = [f for f in members.get(it.cluster_b or "", []) if f not in it.faces_a]
            q.sides.append(Side(f"{len(it.faces_a)} faces", list(it.faces_a), ticks=True))
            q.sides.append(Side(_cluster_title(cb, it.cluster_b), more[:shown], cb))
        elif it.kind == "split":
            ca = clusters.get(it.cluster_a or "")
            q.sides.append(Side(_cluster_title(ca, it.cluster_a), list(it.faces_a), ca, ticks=True))
        else:
            q.sides.append(Side(f"{len(it.faces_a)} faces", list(it.faces_a), ticks=True))
        out.append(q)
    return out


def last_undoable(decisions: list[Decision], system: str) -> Decision | None:
    """The newest decision still in force that a person made (not ``system``); the link a
    merge records beside itself (``data['merge']``) stands for that merge."""
    by_id = {d.id: d for d in decisions}
    for d in reversed(decisions):
        if d.undone or d.by == system:
            continue
        owner = by_id.get(str(d.data.get("merge", "")))
        return owner if owner is not None and not owner.undone else d
    return None


def placeholder_svg(face_id: str) -> str:
    """A 150x150 SVG standing in for a face that has no crop (it came as a vector)."""
    from xml.sax.saxutils import escape

    short = face_id if len(face_id) <= 14 else "…" + face_id[-13:]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="150" height="150" viewBox="0 0 150 150">'
        '<rect width="150" height="150" fill="#e4e6eb"/>'
        '<circle cx="75" cy="58" r="28" fill="#c3c7cf"/>'
        '<path d="M27 130c6-30 26-42 48-42s42 12 48 42z" fill="#c3c7cf"/>'
        f'<text x="75" y="144" font-family="sans-serif" font-size="11" text-anchor="middle" fill="#4a4f59">{escape(short)}</text>'
        "</svg>"
    )
