"""Stores: the system of record. ``open_store`` picks one from a target string.

- a ``bolt://``, ``neo4j://``, ``bolt+s://``, ``bolt+ssc://``, ``neo4j+s://`` or ``neo4j+ssc://``
  URI opens a :class:`Neo4jStore`;
- anything else is a directory and opens the embedded :class:`SQLiteStore` (created if missing).

Semantics both stores share where ``base.py`` is silent (checked by tests/contract/):

- ``add_faces``: the first write wins, for a face id and for an edge pair (re-sending changes
  nothing); an edge is stored as ``a < b``; an edge to a face that is neither stored nor in the
  batch, a self-loop, a non-finite distance or metadata that is not JSON-able refuses the whole
  call (``InvalidInput`` naming the ids).
- ``apply_clustering``: ``cluster_id=None`` unassigns whatever the status; a cluster with status
  ``'unassigned'``, a face listed twice, an unknown face or cluster, or deleting a cluster that
  still has members refuses the whole call (``InvalidInput``); deleting an unknown cluster is a
  no-op; every cluster touched gets ``updated_at`` = now.
- ``update_cluster``: only ``locked`` and ``name``; anything else is ``InvalidInput``.
- ``add_decision`` is an upsert by id (re-sending updates ``data`` etc. and re-creates the typed
  link); a same/different-person decision on an unknown face is ``NotFound``.
- ``get_decisions`` order: ``at``, then id. ``undo_decision`` twice is harmless.
- ``get_reviews`` order: priority descending, then ``created_at``, then id.
  ``set_review_status`` with an unknown id is ``NotFound`` (nothing changed); ``answer=None``
  clears the answer.
- Datetimes are returned timezone-aware (UTC); a naive datetime given is taken as UTC.
  SQLite keeps embeddings as float32, so they read back to float32 precision.
"""

from __future__ import annotations

from pathlib import Path

from graphcluster.store.base import Store
from graphcluster.store.neo4j import Neo4jStore
from graphcluster.store.sqlite import SQLiteStore
from graphcluster.targets import is_neo4j_uri

__all__ = ["Store", "SQLiteStore", "Neo4jStore", "open_store", "is_neo4j_uri"]

def open_store(
    target: str | Path,
    *,
    auth: tuple[str, str] | None = None,
    database: str | None = None,
) -> Store:
    """Open the store ``target`` names.

    Args:
        target: a Neo4j URI, or a directory for the embedded store.
        auth: ``(user, password)`` for Neo4j (ignored for a directory).
        database: the Neo4j database name (None = the server default; ignored for a directory).

    Returns:
        A ``Neo4jStore`` or a ``SQLiteStore``; close it (or use it as a context manager).

    Raises:
        StoreBusy: another process uses the embedded directory.
        StoreError: the server cannot be reached, or the directory cannot be opened.
    """
    if is_neo4j_uri(target):
        return Neo4jStore(str(target), auth=auth, database=database)
    return SQLiteStore(Path(target))
