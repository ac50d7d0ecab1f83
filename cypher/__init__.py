"""Cypher statements of graphcluster, one statement per file (shipped as ``graphcluster.cypher``)."""
