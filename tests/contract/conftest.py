"""The ``store`` fixture: every contract test runs once per Store implementation.

SQLite runs in a fresh ``tmp_path``; Neo4j runs against the real server given by the run-wide
fixture ``neo4j_uri`` of ``tests/conftest.py`` (which skips or fails when there is no server),
emptied before each test (``clean_neo4j``). The ``open_gc`` fixture does the same for the
``GraphCluster`` facade: it returns an opener of one database per store, closed after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from graphcluster import GraphCluster, Settings
from graphcluster.store import Neo4jStore, SQLiteStore
from graphcluster.store.base import Store

Opener = Callable[[], GraphCluster]


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


@pytest.fixture(params=["sqlite", "neo4j"])
def open_gc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    # an explicit threshold: these tests are about the semantics of decisions, not calibration
    settings = Settings(index="exact", index_dir=tmp_path / "index", k=8, threshold=0.6)
    if request.param == "sqlite":
        target: str | Path = tmp_path / "db"
        auth = None
    else:
        uri, user, password = request.getfixturevalue("neo4j_uri")
        request.getfixturevalue("clean_neo4j")
        target, auth = uri, (user, password)
    opened: list[GraphCluster] = []

    def opener() -> GraphCluster:
        gc = GraphCluster.open(target, settings=settings, auth=auth)
        opened.append(gc)
        return gc

    yield opener
    for gc in opened:
        try:
            gc.close()
        except Exception:
            pass
