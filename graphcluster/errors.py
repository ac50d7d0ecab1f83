"""Exceptions raised by graphcluster.

The tree::

    GraphClusterError                 root of everything graphcluster raises on purpose
    ├── InvalidInput (ValueError)     bad vectors, ids, metadata or arguments; nothing was written
    ├── ConstraintConflict (ValueError)  a human decision contradicts earlier ones; nothing changed
    ├── NotFound (KeyError)           an unknown face, cluster, review item or decision id
    ├── StoreBusy                     another process holds the embedded store's write lock
    └── StoreError                    the store or index is unreachable or inconsistent

Messages say what was wrong, name the offending row, id or value, and say what to do.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "GraphClusterError",
    "InvalidInput",
    "ConstraintConflict",
    "NotFound",
    "StoreBusy",
    "StoreError",
]


class GraphClusterError(Exception):
    """Root of every error graphcluster raises on purpose."""


class InvalidInput(GraphClusterError, ValueError):
    """Input was refused as a whole; nothing was written.

    Attributes:
        rows: the offending row numbers (0-based), when the input was a batch.
        ids: the offending ids, when known.
    """

    def __init__(self, message: str, *, rows: Sequence[int] = (), ids: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.rows = list(rows)
        self.ids = list(ids)


class ConstraintConflict(GraphClusterError, ValueError):
    """A decision contradicts earlier human decisions; nothing was changed.

    Attributes:
        conflicts: the ids (or descriptions) of the decisions in conflict.
    """

    def __init__(self, message: str, *, conflicts: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.conflicts = list(conflicts)


class NotFound(GraphClusterError, KeyError):
    """An unknown face, cluster, review item or decision id."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else "not found"


class StoreBusy(GraphClusterError):
    """Another process is writing to the same embedded store."""


class StoreError(GraphClusterError):
    """The store or the index is unreachable or inconsistent."""
