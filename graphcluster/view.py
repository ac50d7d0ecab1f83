"""Adapts a ``Store`` to the ``GraphView`` the pure clustering code reads through.

Every method costs what its arguments cost: it asks the store about the given faces or
clusters only, never about the whole graph.
"""

from __future__ import annotations

from collections.abc import Collection

from graphcluster.errors import NotFound
from graphcluster.models import ClusterRecord
from graphcluster.store.base import Store

__all__ = ["StoreView"]


class StoreView:
    """Read-only view of a store for ``build_region`` and ``recluster``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def edges(self, faces: Collection[str]) -> list[tuple[str, str, float]]:
        return self._store.similar_pairs(faces)

    def labels(self, faces: Collection[str]) -> dict[str, tuple[str | None, str]]:
        return {f: (m.cluster_id, m.status) for f, m in self._store.memberships(faces).items()}

    def members(self, clusters: Collection[str]) -> dict[str, list[str]]:
        return self._store.cluster_members(clusters)

    def cluster_record(self, cluster_id: str) -> ClusterRecord:
        """One cluster's record; ``NotFound`` when there is no such cluster."""
        found = self._store.get_clusters([cluster_id])
        if cluster_id not in found:
            raise NotFound(f"no cluster with id {cluster_id!r}; `graphcluster clusters` lists them")
        return found[cluster_id]

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
        gone = self._merged_into({c for cs in out.values() for c in cs})
        return {f: {gone.get(c, c) for c in cs} for f, cs in out.items()}

    def pinned(self, faces: Collection[str]) -> dict[str, str]:
        """Face -> the cluster a human placed it in, as that cluster is named now.

        A merge folds one cluster into another and deletes it; a face placed in the folded
        cluster now belongs to the one that absorbed it (the merge moved it there). Without
        this, the placement would name a cluster that no longer exists.
        """
        wanted = set(faces)
        out: dict[str, str] = {}
        # oldest first, so the latest active assignment of a face wins
        for d in self._store.get_decisions(face_ids=wanted, kinds=["assign"], active_only=True):
            if d.a in wanted and d.b is not None:
                out[d.a] = d.b
        gone = self._merged_into(set(out.values()))
        out = {f: gone.get(c, c) for f, c in out.items()}
        missing = self._missing(set(out.values()))
        lost = {f for f, c in out.items() if c in missing}
        if lost:  # no merge explains it: the face stays where it is now (its placement still holds it)
            now = self._store.memberships(lost)
            for f in lost:
                cid = now[f].cluster_id if f in now else None
                if cid is None:
                    del out[f]
                else:
                    out[f] = cid
        return out

    def resolve(self, clusters: Collection[str]) -> dict[str, str]:
        """Each cluster id as it is named now: itself, or the cluster an active merge folded it into."""
        gone = self._merged_into(set(clusters))
        return {c: gone.get(c, c) for c in clusters}

    def _missing(self, clusters: set[str]) -> set[str]:
        return clusters - set(self._store.get_clusters(clusters))

    def _merged_into(self, clusters: set[str]) -> dict[str, str]:
        """Of ``clusters``, those that no longer exist -> the cluster an active merge folded them
        into (followed through chains of merges); missing ones no merge explains are left out."""
        missing = self._missing(clusters)
        out: dict[str, str] = {}
        if not missing:
            return out
        into: dict[str, str] = {}
        frontier = set(missing)
        for _ in range(64):  # a chain of merges is short; the bound only guards against cycles
            if not frontier:
                break
            found = {d.b: d.a for d in self._store.get_decisions(cluster_ids=frontier, kinds=["merge"], active_only=True)
                     if d.b in frontier and d.a is not None}
            into.update(found)
            nxt = set(found.values()) - set(into)
            frontier = nxt - set(self._store.get_clusters(nxt))
        for c in missing:
            seen, cur = set(), c
            while cur in into and cur not in seen:
                seen.add(cur)
                cur = into[cur]
            if cur != c and cur in self._store.get_clusters([cur]):
                out[c] = cur
        return out
