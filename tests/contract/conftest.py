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

Opener = Callable[..., GraphCluster]  # keyword arguments: Settings fields to change for this open


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

    def opener(**changes: object) -> GraphCluster:
        gc = GraphCluster.open(target, settings=settings.model_copy(update=changes), auth=auth)
        opened.append(gc)
        return gc

    yield opener
    for gc in opened:
        try:
            gc.close()
        except Exception:
            pass


# -- the review page: a small database with crops, and the page served by a real uvicorn -------
HOSTILE_ID = "<script>alert(1)</script>"


def _jpeg(i: int) -> bytes:
    """A real 150x150 JPEG, one colour per face."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (150, 150), ((37 * i) % 256, (91 * i) % 256, (53 * i) % 256)).save(out, "JPEG", quality=80)
    return out.getvalue()


def build_web_db(gc: object, people: int = 6, per_person: int = 6, dim: int = 32) -> list[str]:
    """Well separated synthetic people and two lone faces (in no cluster); faces of the
    even-numbered people get a crop, the others came as vectors; one face id is HOSTILE_ID.
    Returns the face ids."""
    import numpy as np

    rng = np.random.default_rng(3)
    centres = rng.standard_normal((people, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vecs, ids = [], []
    for p in range(people):
        for j in range(per_person):
            v = centres[p] + 0.3 * rng.standard_normal(dim) / np.sqrt(dim)
            vecs.append(v / np.linalg.norm(v))
            ids.append(HOSTILE_ID if (p, j) == (1, 0) else f"p{p}_{j}")
    lone = rng.standard_normal((2, dim))  # far from everyone: faces in no cluster
    vecs += list(lone / np.linalg.norm(lone, axis=1, keepdims=True))
    ids += ["lone_0", "lone_1"]
    gc.add_faces(np.asarray(vecs, dtype=np.float32), ids=ids)  # type: ignore[attr-defined]
    for i, fid in enumerate(ids):
        if fid.startswith("p") and int(fid[1]) % 2 == 0:
            gc.crops.put(fid, _jpeg(i))  # type: ignore[attr-defined]
    return ids


@pytest.fixture(params=["sqlite", "neo4j"])
def web_gc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """An open GraphCluster on each store, holding ``build_web_db``'s faces."""
    from graphcluster import GraphCluster, Settings

    settings = Settings(index="exact", index_dir=tmp_path / "index", crops_dir=tmp_path / "crops", k=8, threshold=0.6)
    if request.param == "sqlite":
        gc = GraphCluster.open(tmp_path / "db", settings=settings)
    else:
        uri, user, password = request.getfixturevalue("neo4j_uri")
        request.getfixturevalue("clean_neo4j")
        gc = GraphCluster.open(uri, settings=settings, auth=(user, password or "") if user else None)
    try:
        build_web_db(gc)
        yield gc
    finally:
        gc.close()


class LiveServer:
    """The review page served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: object) -> None:
        import socket
        import threading

        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))  # type: ignore[arg-type]
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start within 20 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
