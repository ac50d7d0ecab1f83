"""How the clustering code reads the graph: the ``GraphView`` protocol and ``MemoryGraph``.

The engine adapts a ``Store`` to ``GraphView``; ``MemoryGraph`` keeps everything in dicts for
unit tests and the quality benchmark. Every method costs what its arguments cost.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from graphcluster.clustering.recluster import RegionResult

__all__ = ["GraphView", "MemoryGraph"]

Edge = tuple[str, str, float]
DecisionLink = tuple[str, str, str]


@runtime_checkable
class GraphView(Protocol):
    """Read-only access to the parts of the graph a region needs (ids are strings)."""

    def edges(self, faces: Collection[str]) -> list[Edge]:
        """Every SIMILAR edge ``(a, b, distance)`` incident to one of ``faces``."""
        ...

    def labels(self, faces: Collection[str]) -> dict[str, tuple[str | None, str]]:
        """face -> (cluster id or None, status) for each known face."""
        ...

    def members(self, clusters: Collection[str]) -> dict[str, list[str]]:
        """cluster -> its member faces."""
        ...

    def locked(self, clusters: Collection[str]) -> set[str]:
        """The locked (human-verified) clusters among ``clusters``."""
        ...

    def constraints(self, faces: Collection[str]) -> tuple[list[DecisionLink], list[DecisionLink]]:
        """(must-links, cannot-links) ``(a, b, decision_id)`` touching ``faces``."""
        ...

    def forbidden(self, faces: Collection[str]) -> dict[str, set[str]]:
        """face -> clusters it must never join ("not this person")."""
        ...

    def pinned(self, faces: Collection[str]) -> dict[str, str]:
        """face -> the cluster a human placed it in (status 'manual')."""
        ...


class MemoryGraph:
    """An in-memory ``GraphView`` with the few writes tests and benchmarks need."""

    def __init__(self) -> None:
        self._adj: dict[str, dict[str, float]] = {}
        self._label: dict[str, tuple[str | None, str]] = {}
        self._members: dict[str, set[str]] = {}
        self._locked: set[str] = set()
        self._must: list[DecisionLink] = []
        self._cannot: list[DecisionLink] = []
        self._forbidden: dict[str, set[str]] = {}
        self._pinned: dict[str, str] = {}

    # -- writes -------------------------------------------------------------------------------
    def add_faces(self, faces: Iterable[str]) -> None:
        for f in faces:
            self._adj.setdefault(f, {})
            self._label.setdefault(f, (None, "unassigned"))

    def add_edges(self, edges: Iterable[Edge]) -> None:
        """Add SIMILAR edges; one per unordered pair (the smaller distance wins)."""
        for a, b, d in edges:
            if a == b:
                continue
            self.add_faces((a, b))
            d = min(float(d), self._adj[a].get(b, float("inf")))
            self._adj[a][b] = d
            self._adj[b][a] = d

    def set_label(self, face: str, cluster: str | None, status: str = "auto") -> None:
        self.add_faces((face,))
        old = self._label[face][0]
        if old is not None:
            self._members[old].discard(face)
            if not self._members[old]:
                del self._members[old]
        self._label[face] = (cluster, status if cluster is not None else "unassigned")
        if cluster is not None:
            self._members.setdefault(cluster, set()).add(face)

    def lock(self, cluster: str) -> None:
        self._locked.add(cluster)

    def must_link(self, a: str, b: str, decision_id: str) -> None:
        self._must.append((a, b, decision_id))

    def cannot_link(self, a: str, b: str, decision_id: str) -> None:
        self._cannot.append((a, b, decision_id))

    def forbid(self, face: str, cluster: str) -> None:
        self._forbidden.setdefault(face, set()).add(cluster)

    def pin(self, face: str, cluster: str) -> None:
        self._pinned[face] = cluster
        self.set_label(face, cluster, "manual")

    def apply(self, result: RegionResult) -> None:
        """Write a ``recluster`` result, as the engine writes it to a store."""
        for face, (cluster, status, _conf) in result.memberships.items():
            self.set_label(face, cluster, status)

    # -- reads (GraphView) --------------------------------------------------------------------
    def faces(self) -> list[str]:
        return sorted(self._adj)

    def edges(self, faces: Collection[str]) -> list[Edge]:
        out: dict[tuple[str, str], float] = {}
        for a in faces:
            for b, d in self._adj.get(a, {}).items():
                out[(a, b) if a < b else (b, a)] = d
        return [(a, b, d) for (a, b), d in out.items()]

    def labels(self, faces: Collection[str]) -> dict[str, tuple[str | None, str]]:
        return {f: self._label[f] for f in faces if f in self._label}

    def members(self, clusters: Collection[str]) -> dict[str, list[str]]:
        return {c: sorted(self._members.get(c, ())) for c in clusters}

    def locked(self, clusters: Collection[str]) -> set[str]:
        return {c for c in clusters if c in self._locked}

    def constraints(self, faces: Collection[str]) -> tuple[list[DecisionLink], list[DecisionLink]]:
        fs = set(faces)
        return ([x for x in self._must if x[0] in fs or x[1] in fs],
                [x for x in self._cannot if x[0] in fs or x[1] in fs])

    def forbidden(self, faces: Collection[str]) -> dict[str, set[str]]:
        return {f: set(self._forbidden[f]) for f in faces if f in self._forbidden}

    def pinned(self, faces: Collection[str]) -> dict[str, str]:
        return {f: self._pinned[f] for f in faces if f in self._pinned}

    def clusters(self) -> dict[str, list[str]]:
        """Every cluster and its members (tests and benchmarks only)."""
        return {c: sorted(m) for c, m in self._members.items()}
