"""What a store target names: a Neo4j server (a URI) or the embedded store (a directory).

The one test every entry point uses (the facade, ``open_store``, the CLI, the demo), so that a
target is read the same way everywhere. URI schemes are case-insensitive (RFC 3986), so
``BOLT://host`` is a Neo4j URI as ``bolt://host`` is. Importing this module loads nothing else.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["NEO4J_SCHEMES", "is_neo4j_uri"]

NEO4J_SCHEMES = ("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")


def is_neo4j_uri(target: str | Path) -> bool:
    """True when ``target`` is a Neo4j URI (``bolt://``, ``neo4j+s://``, ... in any case), not a directory."""
    return isinstance(target, str) and target.lower().startswith(NEO4J_SCHEMES)
