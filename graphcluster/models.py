"""Data models. Pydantic models are data only: stores take and return them."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SYSTEM",
    "new_decision_id",
    "utcnow",
    "FaceRecord",
    "SimilarEdge",
    "Membership",
    "ClusterRecord",
    "Decision",
    "DecisionKind",
    "ReviewItem",
    "ReviewKind",
    "Status",
    "Assignment",
    "FaceReport",
    "AddReport",
    "CleanupReport",
    "PhotoOutcome",
    "PhotoReport",
    "CheckReport",
    "Stats",
    "StoreCounts",
]

Status = Literal["auto", "review", "manual", "unassigned"]
DecisionKind = Literal["same_person", "different_person", "assign", "remove", "merge", "lock", "unlock", "name"]
ReviewKind = Literal["merge", "face", "new_identity", "pair", "join", "split"]


# ``Decision.by`` of the decisions graphcluster makes itself (two faces in one image are two people)
SYSTEM = "graphcluster"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_decision_id() -> str:
    """A fresh ``Decision.id``."""
    return "d" + uuid.uuid4().hex[:12]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FaceRecord(_Model):
    """One face. ``metadata`` holds the caller's extra fields (source, bbox, timestamp, ...)."""

    id: str
    dim: int
    source: str | None = None
    image: str | None = None
    bbox: list[float] | None = None
    quality: float | None = None
    batch: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    metadata: dict[str, Any] = Field(default_factory=dict)
    embedding: list[float] | None = None


class SimilarEdge(_Model):
    """A kNN edge; stored once per unordered pair with ``a < b``."""

    a: str
    b: str
    distance: float
    weight: float


class Membership(_Model):
    """Where a face stands: its cluster (None when unassigned), status and confidence."""

    face_id: str
    cluster_id: str | None
    status: Status
    confidence: float = 0.0


class ClusterRecord(_Model):
    id: str
    size: int = 0
    locked: bool = False
    name: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Decision(_Model):
    """A human decision, with its audit trail.

    ``a``/``b`` by kind: same_person / different_person: two face ids; assign / remove: face id,
    cluster id; merge: two cluster ids (``data`` records the anchor faces); lock / unlock / name:
    cluster id (``b`` None; name in ``data['name']``).
    """

    id: str
    kind: DecisionKind
    a: str
    b: str | None = None
    by: str | None = None
    at: datetime = Field(default_factory=utcnow)
    reason: str | None = None
    undone: bool = False
    data: dict[str, Any] = Field(default_factory=dict)


class ReviewItem(_Model):
    """An open question for a human.

    merge: "are clusters A and B one person?" (faces_a / faces_b: faces shown of each);
    face: "is this face (faces_a) really cluster B?" (faces_b: the member of B nearest it);
    new_identity: "are these faces (faces_a) one person?" (faces_b empty; cluster_a: the new
    cluster they form, if any);
    pair: a calibration question, "are faces_a[0] and faces_b[0] the same person?";
    join: "which of these faces (faces_a) are person B?" (faces_b[i]: the member of B shown
    beside faces_a[i]);
    split: "is cluster A one person?" (faces_a: the members least tied to it).
    join, split and new_identity are answered with the subset of faces_a the answer is about.
    """

    id: str
    kind: ReviewKind
    status: Literal["open", "answered", "obsolete"] = "open"
    priority: float = 0.0
    faces_a: list[str] = Field(default_factory=list)
    faces_b: list[str] = Field(default_factory=list)
    cluster_a: str | None = None
    cluster_b: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    answer: str | None = None


class Assignment(_Model):
    cluster_id: str | None
    status: Status
    confidence: float


class FaceReport(_Model):
    face_id: str
    cluster_id: str | None
    status: Status
    confidence: float


class AddReport(_Model):
    added: int
    skipped: list[str] = Field(default_factory=list, description="ids already stored (idempotent re-send)")
    skipped_changed: list[str] = Field(
        default_factory=list,
        description="of the skipped ids, those re-sent with a different vector; the stored vector was kept",
    )
    completed_interrupted: bool = Field(
        default=False, description="this call stored the last missing faces of an interrupted add_faces call"
    )
    first_import: bool = Field(
        default=False, description="clustered as a first import: one pass over the whole kNN graph (graphcluster.bootstrap)"
    )
    faces: list[FaceReport] = Field(default_factory=list)
    clusters_created: int = 0
    clusters_changed: int = 0
    reviews_opened: int = 0
    seconds: float = 0.0


class PhotoOutcome(_Model):
    """What ingest did with one photo.

    outcome: ``added`` (new photo; ``faces`` of them added, maybe none), ``unchanged`` (this
    path with this content was ingested before: nothing added), ``changed`` (this path held
    other content before: the new content's faces were added, the earlier faces kept) or
    ``skipped`` (not ingested; ``reason`` says why and what to do).
    """

    path: str = Field(description="the photo's path relative to the ingested folder")
    outcome: Literal["added", "unchanged", "changed", "skipped"]
    faces: int = Field(0, description="faces added from this photo")
    face_ids: list[str] = Field(default_factory=list, description="the photo's faces in the store")
    sha256: str | None = None
    reason: str | None = None


class PhotoReport(_Model):
    """What ``add_photos`` did, photo by photo."""

    root: str
    detector: str
    photos: list[PhotoOutcome] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict, description="photos per outcome")
    faces_added: int = 0
    seconds: float = 0.0


class CleanupReport(_Model):
    faces_moved: int = 0
    clusters_created: list[str] = Field(default_factory=list)
    clusters_removed: list[str] = Field(default_factory=list)
    changes: list[dict[str, Any]] = Field(default_factory=list)
    seconds: float = 0.0


class CheckReport(_Model):
    """What ``GraphCluster.check`` found: ``problems`` (empty when the database is sound) and
    ``notes`` (states that are not damage, such as an interrupted ``add_faces`` call)."""

    ok: bool
    problems: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    faces: int = 0
    clusters: int = 0
    decisions: int = 0
    seconds: float = 0.0


class StoreCounts(_Model):
    """What ``Store.counts`` returns: aggregates the store computes itself."""

    faces: int
    clusters: int
    locked_clusters: int
    by_status: dict[str, int]
    open_reviews: int
    decisions: int


class Stats(_Model):
    faces: int
    clusters: int
    locked_clusters: int
    by_status: dict[str, int]
    # review items stored as open (a count, no read of each): some may have become obsolete
    # through later batches or answers; review_queue() skips and closes those as it reads them
    open_reviews: int
    decisions: int
    thresholds: dict[str, Any]
    store: str
    index: dict[str, Any]
    # an add_faces call that stopped part-way (a crash): {"batch", "faces", "stored", "missing",
    # "started_at"}; re-sending the call stores the missing faces and clears it
    interrupted_add: dict[str, Any] | None = None
