"""The delta: faces added since the last segment build, held in memory and searched exactly.

Steps:

1. ``append`` copies rows into a growable float32 matrix (capacity doubles, capped near the
   roll size) and records ``id -> row``;
2. ``remove`` swaps the last row into the hole (O(1) per id, no tombstones in the delta);
3. ``search`` is one matrix product, ``argpartition`` and a sort (``exact_topk``).

The write-ahead log (``_log.py``) makes it durable; replaying the log rebuilds the same rows.
"""

from __future__ import annotations

import numpy as np

from graphcluster.index._segment import exact_topk

__all__ = ["Delta"]


class Delta:
    """In-memory rows with string ids; one writer (the owning index holds the lock)."""

    def __init__(self, dim: int, roll_size: int) -> None:
        self.dim = dim
        self.roll_size = roll_size
        self._vec = np.zeros((0, dim), dtype=np.float32)
        self.n = 0
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}

    @property
    def vectors(self) -> np.ndarray:
        """The live rows (a view)."""
        return self._vec[: self.n]

    def append(self, ids: list[str], vec: np.ndarray) -> None:
        """Add rows (ids already checked to be new)."""
        need = self.n + len(ids)
        if need > self._vec.shape[0]:
            cap = max(need, min(2 * self._vec.shape[0], self.roll_size + len(ids)), 1024)
            grown = np.zeros((cap, self.dim), dtype=np.float32)
            grown[: self.n] = self._vec[: self.n]
            self._vec = grown
        self._vec[self.n : need] = vec
        for i, face in enumerate(ids):
            self.pos[face] = self.n + i
        self.ids.extend(ids)
        self.n = need

    def remove(self, ids: list[str]) -> tuple[list[str], list[str]]:
        """Drop the ids held here; returns (removed, not held)."""
        removed, rest = [], []
        for face in ids:
            row = self.pos.pop(face, None)
            if row is None:
                rest.append(face)
                continue
            last = self.n - 1
            if row != last:  # fill the hole with the last row: the matrix stays dense
                moved = self.ids[last]
                self._vec[row] = self._vec[last]
                self.ids[row] = moved
                self.pos[moved] = row
            self.ids.pop()
            self.n = last
            removed.append(face)
        return removed, rest

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top ``k`` rows and L2 distances per query."""
        return exact_topk(self.vectors, queries, k)
