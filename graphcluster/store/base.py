"""The Store protocol: what the engine needs from a system of record.

Two implementations pass one contract-test suite (tests/contract/): ``Neo4jStore``
(production) and ``SQLiteStore`` (the embedded default). Stores hold data only; every
clustering decision is made by the engine and the pure code in ``graphcluster.clustering``.

Conventions every implementation honours:
- ids are strings; a SIMILAR edge is stored once per unordered pair with ``a < b``;
- each write method is one transaction: it happens whole or not at all;
- writes are idempotent (MERGE / INSERT OR IGNORE semantics where the docstring says so);
- a face with no IN_CLUSTER relationship reads back as ``Membership(cluster_id=None, status='unassigned')``;
- cluster ``size`` is maintained by the store (number of IN_CLUSTER members) on every write.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol, runtime_checkable

from graphcluster.models import (
    ClusterRecord,
    Decision,
    FaceRecord,
    Membership,
    ReviewItem,
    SimilarEdge,
    StoreCounts,
)

__all__ = ["Store"]


@runtime_checkable
class Store(Protocol):
    kind: str
    """'sqlite' or 'neo4j'."""

    def close(self) -> None: ...

    def clear(self) -> None:
        """Delete every face, cluster, decision, review and meta value (tests, ``init --force``)."""

    # -- meta: calibration results, settings fingerprint, the batch journal ------------------
    def get_meta(self) -> dict[str, Any]:
        """All meta values (JSON-able)."""

    def set_meta(self, values: dict[str, Any]) -> None:
        """Upsert meta values; a value of None deletes the key."""

    # -- faces and SIMILAR edges ---------------------------------------------------------------
    def existing_face_ids(self, ids: Collection[str]) -> set[str]:
        """The subset of ``ids`` that is stored."""

    def add_faces(
        self, faces: Sequence[FaceRecord], edges: Sequence[SimilarEdge], decisions: Sequence[Decision] = ()
    ) -> None:
        """Write faces, their SIMILAR edges and the decisions made with them (the same-image
        cannot-links) in one transaction (idempotent by id / pair).

        An edge or a decision may name a face stored earlier. Re-sending the same faces changes
        nothing.
        """

    def get_faces(self, ids: Collection[str], *, with_embedding: bool = False) -> dict[str, FaceRecord]:
        """Stored faces among ``ids`` (unknown ids are left out)."""

    def face_ids(self) -> list[str]:
        """Every stored face id (global cleanup, index rebuild)."""

    def count_faces(self) -> int: ...

    def faces_by_image(self, images: Collection[str]) -> dict[str, list[str]]:
        """Face ids per image path, for the images given (same-image cannot-links)."""

    def counts(self) -> StoreCounts:
        """Faces, clusters (and locked ones), faces by membership status, open review items
        and active decisions, counted by the store itself (no row per face is read)."""

    def integrity(self) -> dict[str, list[str]]:
        """Problems of the store's own bookkeeping, each key -> up to 10 example ids (empty
        lists when sound): ``faces_in_two_clusters``, ``membership_without_cluster``,
        ``empty_clusters``, ``cluster_size_wrong``, ``link_without_decision`` (a MUST_LINK /
        CANNOT_LINK whose decision is missing or undone) and ``decision_without_link`` (an
        active same/different-person decision without its relationship). It reads the whole
        store (``GraphCluster.check``)."""

    def similar_edges(self, face_ids: Collection[str]) -> list[SimilarEdge]:
        """Every SIMILAR edge with at least one endpoint in ``face_ids``."""

    def similar_pairs(self, face_ids: Collection[str]) -> list[tuple[str, str, float]]:
        """The same edges as ``similar_edges`` as plain ``(a, b, distance)`` tuples: the
        clustering reads tens of thousands per batch, and a model object per edge cost more
        than the query."""

    # -- memberships and clusters -------------------------------------------------------------
    def faces_linked_between(self, lo: float, hi: float, limit: int) -> list[str]:
        """Faces at either end of a SIMILAR edge with ``lo <= distance < hi`` (at most about
        ``limit``, sorted): the faces a move of the link threshold between the two affects."""
        ...

    def memberships(self, face_ids: Collection[str] | None = None) -> dict[str, Membership]:
        """Membership of the given faces (all faces when None); unknown ids are left out."""

    def cluster_members(self, cluster_ids: Collection[str]) -> dict[str, list[str]]:
        """Member face ids per cluster (every given id is a key; unknown clusters map to [])."""

    def get_clusters(self, ids: Collection[str] | None = None) -> dict[str, ClusterRecord]:
        """Clusters by id (all when None)."""

    def cluster_page(self, offset: int, limit: int) -> list[ClusterRecord]:
        """One page of clusters, largest first (ties by id): the ``limit`` clusters after the
        first ``offset`` of that order. Sorted and cut by the store, so a page of a people list
        never reads every cluster into Python."""

    def unassigned_faces(self, offset: int, limit: int) -> list[str]:
        """One page of the ids of faces in no cluster, in id order (``offset``, ``limit`` as
        for ``cluster_page``)."""

    def apply_clustering(
        self,
        memberships: Sequence[Membership],
        clusters: Sequence[ClusterRecord] = (),
        delete_clusters: Collection[str] = (),
    ) -> None:
        """In one transaction: upsert the given clusters (locked/name/created_at kept as given),
        set each face's IN_CLUSTER (cluster_id None removes it), delete the given clusters
        (they must be empty after the change), and recompute ``size`` and ``updated_at`` of every
        cluster touched. A membership may name a cluster created in the same call."""

    def update_cluster(self, cluster_id: str, **fields: Any) -> None:
        """Set ``locked`` and/or ``name`` (and ``updated_at``) of one cluster; NotFound if unknown."""

    # -- human decisions ----------------------------------------------------------------------
    def add_decision(self, decision: Decision) -> None:
        """Record a decision. same_person / different_person also create the typed
        relationship (MUST_LINK / CANNOT_LINK from a to b, with id, by, at, reason)."""

    def undo_decision(self, decision_id: str) -> None:
        """Mark a decision undone (kept in the audit trail) and remove its typed relationship."""

    def get_decisions(
        self,
        *,
        face_ids: Collection[str] | None = None,
        cluster_ids: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
        active_only: bool = False,
    ) -> list[Decision]:
        """Decisions, oldest first. Filters combine with AND; ``face_ids`` matches a or b,
        ``cluster_ids`` matches a or b too (assign/remove/merge/lock/unlock/name)."""

    def get_decision(self, decision_id: str) -> Decision:
        """One decision; NotFound if unknown."""

    def constraint_links(
        self, face_ids: Collection[str]
    ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
        """Active (must_links, cannot_links) as (a, b, decision_id) with an endpoint in ``face_ids``."""

    # -- review queue -------------------------------------------------------------------------
    def put_reviews(self, items: Sequence[ReviewItem]) -> None:
        """Upsert review items by id (and their ABOUT relationships to faces/clusters)."""

    def get_reviews(self, *, status: str | None = "open", limit: int | None = None,
                    kind: str | None = None) -> list[ReviewItem]:
        """Review items with that status (all when None), highest priority first; ``kind``:
        only the items of that kind (with a status)."""

    def open_reviews_about(self, cluster_ids: Collection[str]) -> list[str]:
        """Ids of the open review items whose ``cluster_a`` or ``cluster_b`` is among
        ``cluster_ids`` (the questions a deleted cluster makes obsolete), without reading the
        rest of the queue."""

    def get_review(self, review_id: str) -> ReviewItem:
        """One review item; NotFound if unknown."""

    def review_statuses(self, review_ids: Collection[str]) -> dict[str, str]:
        """Status of each known review item among ``review_ids`` (unknown ids are left out);
        one round trip for all of them."""

    def set_review_status(self, review_ids: Collection[str], status: str, answer: str | None = None) -> None: ...
