"""Adapts a ``Store`` to the ``GraphView`` the pure clustering code reads through.

Every method costs what its arguments cost: it asks the store about the given faces or
clusters only, never about the whole graph.
"""

from __future__ import annotations

from collections.abc import Collection

from graphcluster.store.base import Store

__all__ = ["StoreView"]


class StoreView:
    """Read-only view of a store for ``build_region`` and ``recluster``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def edges(self, faces: Collection[str]) -> list[tuple[str, str, float]]:
        return [(e.a, e.b, e.distance) for e in self._store.similar_edges(faces)]

    def labels(self, faces: Collection[str]) -> dict[str, tuple[str | None, str]]:
        return {f: (m.cluster_id, m.status) for f, m in self._store.memberships(faces).items()}

    def members(self, clusters: Collection[str]) -> dict[str, list[str]]:
        return self._store.cluster_members(clusters)

    def locked(self, clusters: Collection[str]) -> set[str]:
        return {cid for cid, c in self._store.get_clusters(clusters).items() if c.locked}

    def constraints(
        self, faces: Collection[str]
    ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
        return self._store.constraint_links(faces)

    def forbidden(self, faces: Collection[str]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        wanted = set(faces)
        for d in self._store.get_decisions(face_ids=wanted, kinds=["remove"], active_only=True):
            if d.a in wanted and d.b is not None:
                out.setdefault(d.a, set()).add(d.b)
        return out

    def pinned(self, faces: Collection[str]) -> dict[str, str]:
        wanted = set(faces)
        out: dict[str, str] = {}
        # oldest first, so the latest active assignment of a face wins
        for d in self._store.get_decisions(face_ids=wanted, kinds=["assign"], active_only=True):
            if d.a in wanted and d.b is not None:
                out[d.a] = d.b
        return out
