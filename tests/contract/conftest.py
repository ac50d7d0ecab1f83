"""The ``store`` fixture: every contract test runs once per Store implementation.

SQLite runs in a fresh ``tmp_path``; Neo4j runs against the real server given by the run-wide
fixture ``neo4j_uri`` of ``tests/conftest.py`` (which skips or fails when there is no server),
emptied before each test (``clean_neo4j``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from graphcluster.store import Neo4jStore, SQLiteStore
from graphcluster.store.base import Store


@pytest.fixture(params=["sqlite", "neo4j"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store
    if request.param == "sqlite":
        s = SQLiteStore(tmp_path / "store")
    else:
        uri, user, password = request.getfixturevalue("neo4j_uri")
        request.getfixturevalue("clean_neo4j")
        s = Neo4jStore(uri, auth=(user, password or "") if user else None)
    try:
        yield s
    finally:
        s.close()
