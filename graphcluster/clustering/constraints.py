"""Human decisions as constraints: must-link groups (union-find) and cannot-links.

1. Must-link is transitive: faces joined by must-links form one group (union-find, with
   path compression, like dedupe's ``union_find``); the algorithm never splits a group.
2. A cannot-link between two faces forbids any cluster holding both, so it holds between
   their whole groups.
3. ``check_must_link`` / ``check_cannot_link`` refuse a new decision that contradicts the
   recorded ones and name the decisions in conflict (``ConstraintConflict``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from graphcluster.errors import ConstraintConflict

__all__ = ["ConstraintSet", "Link"]

Link = tuple[str, str, str]  # (face a, face b, decision id)


class ConstraintSet:
    """Must-link groups and cannot-links over face ids.

    Args:
        must_links: ``(a, b, decision_id)`` same-person decisions.
        cannot_links: ``(a, b, decision_id)`` different-person decisions.
    """

    def __init__(self, must_links: Sequence[Link] = (), cannot_links: Sequence[Link] = ()) -> None:
        self.must_links: list[Link] = [tuple(x) for x in must_links]  # type: ignore[misc]
        self.cannot_links: list[Link] = [tuple(x) for x in cannot_links]  # type: ignore[misc]
        self._parent: dict[str, str] = {}
        self._must_adj: dict[str, list[tuple[str, str]]] = {}
        for a, b, did in self.must_links:
            self._union(a, b)
            self._must_adj.setdefault(a, []).append((b, did))
            self._must_adj.setdefault(b, []).append((a, did))
        self._cannot_adj: dict[str, list[tuple[str, str]]] = {}
        for a, b, did in self.cannot_links:
            self._cannot_adj.setdefault(a, []).append((b, did))
            self._cannot_adj.setdefault(b, []).append((a, did))
        self._members: dict[str, set[str]] = {}
        for x in list(self._parent):
            self._members.setdefault(self.find(x), set()).add(x)

    # -- union-find ---------------------------------------------------------------------------
    def find(self, x: str) -> str:
        """The representative of ``x``'s must-link group (the smallest face id in it)."""
        root = x
        while self._parent.get(root, root) != root:
            root = self._parent[root]
        while self._parent.get(x, x) != root:  # path compression
            self._parent[x], x = root, self._parent[x]
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        self._parent.setdefault(ra, ra)
        self._parent.setdefault(rb, rb)
        if ra != rb:
            lo, hi = (ra, rb) if ra < rb else (rb, ra)
            self._parent[hi] = lo

    def group(self, face: str) -> set[str]:
        """Every face must-linked (transitively) to ``face``, itself included."""
        return set(self._members.get(self.find(face), {face}))

    def groups(self) -> list[set[str]]:
        """The must-link groups of two or more faces."""
        return [set(m) for m in self._members.values() if len(m) > 1]

    def cannot_partners(self, face: str) -> set[str]:
        """Faces that may never share a cluster with ``face`` (through whole groups)."""
        out: set[str] = set()
        for x in self.group(face):
            for y, _ in self._cannot_adj.get(x, []):
                out |= self.group(y)
        return out

    def conflicts_between(self, faces_a: Iterable[str], faces_b: Iterable[str]) -> list[str]:
        """Decision ids of cannot-links between the groups of ``faces_a`` and of ``faces_b``."""
        ga = {g for f in faces_a for g in self.group(f)}
        gb = {g for f in faces_b for g in self.group(f)}
        return sorted({did for a, b, did in self.cannot_links if (a in ga and b in gb) or (a in gb and b in ga)})

    def _must_path(self, a: str, b: str) -> list[str]:
        """Decision ids along one must-link path from ``a`` to ``b`` (BFS)."""
        prev: dict[str, tuple[str, str] | None] = {a: None}
        queue = deque([a])
        while queue:
            x = queue.popleft()
            if x == b:
                break
            for y, did in self._must_adj.get(x, []):
                if y not in prev:
                    prev[y] = (x, did)
                    queue.append(y)
        path: list[str] = []
        node = b
        while prev.get(node) is not None:
            parent, did = prev[node]  # type: ignore[misc]
            path.append(did)
            node = parent
        return path[::-1]

    # -- checks for new decisions -------------------------------------------------------------
    def check_must_link(self, a: str, b: str) -> None:
        """Refuse a same-person decision that a cannot-link contradicts.

        Raises:
            ConstraintConflict: a cannot-link separates ``a``'s group from ``b``'s; the error
                names the cannot-link decision and the must-links that extend it.
        """
        if self.find(a) == self.find(b):
            return
        direct = self.conflicts_between([a], [b])
        if direct:
            ga, gb = self.group(a), self.group(b)
            chain: set[str] = set()
            for x, y, did in self.cannot_links:
                if did in direct:
                    xa, yb = (x, y) if x in ga else (y, x)
                    chain.update(self._must_path(a, xa) + self._must_path(b, yb))
            ids = direct + sorted(chain)
            raise ConstraintConflict(
                f"faces {a!r} and {b!r} cannot be the same person: decision(s) {', '.join(direct)} say "
                f"their groups are different people"
                + (f" (the groups are joined by same-person decision(s) {', '.join(sorted(chain))})" if chain else "")
                + "; undo the conflicting decision first if it was wrong",
                conflicts=ids,
            )

    def check_cannot_link(self, a: str, b: str) -> None:
        """Refuse a different-person decision inside a must-link group.

        Raises:
            ConstraintConflict: ``a`` and ``b`` are must-linked (transitively); the error names
                the same-person decisions on the path between them.
        """
        if a == b:
            raise ConstraintConflict(f"a face cannot be a different person from itself ({a!r})", conflicts=[])
        if self.find(a) == self.find(b):
            path = self._must_path(a, b)
            raise ConstraintConflict(
                f"faces {a!r} and {b!r} are the same person by decision(s) {', '.join(path)}; "
                "undo one of them first if it was wrong",
                conflicts=path,
            )
