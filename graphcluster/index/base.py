"""The neighbour-index protocol: string ids in, nearest neighbours by L2 distance out.

Vectors are L2-normalised before they reach an index; distances are Euclidean on unit vectors
(0..2; d = sqrt(2 (1 - cos))).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["NeighbourIndex", "validate_vectors"]


@runtime_checkable
class NeighbourIndex(Protocol):
    dim: int | None
    # the distance below which neighbours matter to the owner; segments built while it is set
    # calibrate their search effort to those (graphcluster sets its ``review`` threshold)
    recall_radius: float | None

    def __len__(self) -> int:
        """Live (not deleted) vectors."""

    def __contains__(self, face_id: object) -> bool: ...

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Add unit vectors (validated by the caller with ``validate_vectors``); ids must be new."""

    def query(self, vectors: np.ndarray, k: int) -> tuple[list[list[str]], list[np.ndarray]]:
        """k nearest live ids and their L2 distances (ascending) for each query row."""

    def get_vectors(self, ids: Sequence[str]) -> np.ndarray:
        """Stored vectors, in the order of ``ids`` (KeyError on an unknown id)."""

    def ids(self) -> Iterable[str]: ...

    def delete(self, ids: Sequence[str]) -> None:
        """Tombstone ids (unknown ids are ignored)."""

    def flush(self) -> None:
        """Make every add/delete durable."""

    def compact(self) -> None: ...

    def close(self) -> None: ...

    def info(self) -> dict[str, object]:
        """Engine name, sizes, segment count: shown by ``stats()``."""


def validate_vectors(vectors: object, ids: Sequence[str] | None = None, dim: int | None = None) -> np.ndarray:
    """Check a batch and return it as L2-normalised float32 rows. Implemented in graphcluster.index.validate."""
    from graphcluster.index.validate import validate_vectors as _impl

    return _impl(vectors, ids=ids, dim=dim)
