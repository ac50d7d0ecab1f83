"""Input checks and small functions shared by both stores, so both refuse the same input the same way."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from graphcluster.errors import InvalidInput
from graphcluster.models import Decision, FaceRecord, Membership, SimilarEdge

__all__ = [
    "INTEGRITY_KEYS",
    "LINK_KINDS",
    "REVIEW_STATUSES",
    "aware",
    "canonical_edges",
    "check_cluster_fields",
    "check_decision",
    "check_memberships",
    "check_review_status",
    "metadata_json",
    "sort_decisions",
]

LINK_KINDS = {"same_person": "must", "different_person": "cannot"}
"""Decision kinds that create a typed relationship, and the link kind each creates."""

REVIEW_STATUSES = ("open", "answered", "obsolete")

INTEGRITY_KEYS = (
    "faces_in_two_clusters",
    "membership_without_cluster",
    "empty_clusters",
    "cluster_size_wrong",
    "link_without_decision",
    "decision_without_link",
)
"""The problems ``Store.integrity`` reports, in this order."""
_CLUSTER_FIELDS: dict[str, type | tuple[type, ...]] = {"locked": bool, "name": (str, type(None))}


def aware(value: datetime) -> datetime:
    """``value`` as a timezone-aware UTC datetime (a naive value is taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def canonical_edges(edges: Sequence[SimilarEdge]) -> list[tuple[str, str, float, float]]:
    """Edges as ``(a, b, distance, weight)`` with ``a < b``, one per pair (the first one sent wins).

    Raises:
        InvalidInput: a self-loop or a non-finite distance / weight.
    """
    out: dict[tuple[str, str], tuple[str, str, float, float]] = {}
    for i, e in enumerate(edges):
        if e.a == e.b:
            raise InvalidInput(f"SIMILAR edge {i} joins face {e.a!r} to itself; drop self-matches", rows=[i], ids=[e.a])
        if not (math.isfinite(e.distance) and math.isfinite(e.weight)):
            raise InvalidInput(
                f"SIMILAR edge {i} ({e.a!r}, {e.b!r}) has a non-finite distance/weight ({e.distance}, {e.weight})",
                rows=[i],
                ids=[e.a, e.b],
            )
        a, b = (e.a, e.b) if e.a < e.b else (e.b, e.a)
        out.setdefault((a, b), (a, b, float(e.distance), float(e.weight)))
    return list(out.values())


def metadata_json(face: FaceRecord) -> str:
    """The face's metadata as JSON text.

    Raises:
        InvalidInput: a value is not JSON-able (numpy scalars, datetimes, ...), naming the face.
    """
    try:
        return json.dumps(face.metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"face {face.id!r}: metadata is not JSON-able ({exc}); pass plain str/int/float/bool/list/dict values",
            ids=[face.id],
        ) from exc


def check_memberships(memberships: Sequence[Membership]) -> None:
    """Refuse a face listed twice, or a cluster given with status 'unassigned'.

    A membership with ``cluster_id=None`` removes the face's IN_CLUSTER whatever its status;
    it reads back as ``unassigned``.
    """
    seen: dict[str, int] = {}
    for i, m in enumerate(memberships):
        if m.face_id in seen:
            raise InvalidInput(
                f"apply_clustering: face {m.face_id!r} appears twice (rows {seen[m.face_id]} and {i}); "
                "send one membership per face",
                rows=[seen[m.face_id], i],
                ids=[m.face_id],
            )
        seen[m.face_id] = i
        if m.cluster_id is not None and m.status == "unassigned":
            raise InvalidInput(
                f"apply_clustering: face {m.face_id!r} (row {i}) has cluster {m.cluster_id!r} but status "
                "'unassigned'; use cluster_id=None to unassign it",
                rows=[i],
                ids=[m.face_id],
            )


def check_cluster_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields ``update_cluster`` may set (``locked``, ``name``), type-checked."""
    for key, value in fields.items():
        if key not in _CLUSTER_FIELDS:
            raise InvalidInput(f"update_cluster: unknown field {key!r}; only 'locked' and 'name' can be set")
        if not isinstance(value, _CLUSTER_FIELDS[key]):
            raise InvalidInput(f"update_cluster: {key}={value!r} has the wrong type")
    return dict(fields)


def check_decision(d: Decision) -> None:
    """A same/different-person decision needs two distinct faces."""
    if d.kind in LINK_KINDS and (d.b is None or d.a == d.b):
        raise InvalidInput(
            f"decision {d.id!r} ({d.kind}) needs two different face ids, got a={d.a!r}, b={d.b!r}", ids=[d.id]
        )


def check_review_status(status: str) -> None:
    if status not in REVIEW_STATUSES:
        raise InvalidInput(f"review status {status!r} is not one of {', '.join(REVIEW_STATUSES)}")


def sort_decisions(decisions: Iterable[Decision]) -> list[Decision]:
    """Oldest first; ties broken by id so both stores return the same order."""
    return sorted(decisions, key=lambda d: (aware(d.at), d.id))


def check_page(offset: int, limit: int) -> tuple[int, int]:
    """``offset`` and ``limit`` of a page read: whole numbers, offset >= 0, limit >= 1."""
    for name, value, low in (("offset", offset, 0), ("limit", limit, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidInput(f"page {name} must be a whole number >= {low}, got {value!r}")
    return offset, limit
