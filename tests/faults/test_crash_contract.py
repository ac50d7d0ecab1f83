"""The crash contract of one ``add_faces`` call of 2,000 faces (two 1,000-face chunks), killed.

A child process (``workload.py add-call``) sends the call and is killed with SIGKILL at one of
three points of the second chunk (``workload.KILL_POINTS``). On the next open:

- exactly the chunks that were stored are there, each whole and clustered as the same faces
  sent alone in one call would be (a chunk stored but not yet clustered is clustered on open);
- ``stats().interrupted_add`` names the call while faces of it are missing (2,000 sent, 1,000
  stored, 1,000 missing) and is None when the repair completed it;
- ``check()`` is clean and the index holds exactly the stored faces;
- sending the same call again stores exactly the missing faces (``added``), skips the stored
  ones, reports ``completed_interrupted``, and leaves every face and every same-photo
  cannot-link stored once, with the same clusters as the call that was never interrupted.

docs/reliability.md ("Crash contract") states the contract.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from workload import CHUNK, FIRST_IMPORT_KILLS, KILL_POINTS, Faces, load_faces, metadata_for

from graphcluster import GraphCluster, Settings
from graphcluster.models import SYSTEM

N = 2 * CHUNK
WORKLOAD = Path(__file__).resolve().parent / "workload.py"


def _send(gc: GraphCluster, faces: Faces, ids: list[str]) -> Any:
    pos = faces.position
    return gc.add_faces(faces.rows(ids), ids=ids, metadata=[metadata_for(f, pos[f]) for f in ids])


def _partition(gc: GraphCluster) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for face, cluster in gc.assignments().items():
        groups.setdefault(cluster or f"single:{face}", set()).add(face)
    return {frozenset(g) for g in groups.values()}


def _same_photo_pairs(gc: GraphCluster) -> list[frozenset[str]]:
    return [frozenset((d.a, d.b or "")) for d in gc.decisions() if d.by == SYSTEM and d.kind == "different_person"]


class Target:
    """Where the databases of one test live: fresh embedded folders, or the test Neo4j emptied."""

    def __init__(self, tmp_path: Path, uri: str | None, reset: Callable[[], None]) -> None:
        self.tmp_path, self.uri, self.reset = tmp_path, uri, reset
        self._n = 0

    def fresh(self) -> tuple[str, str | None]:
        """An empty database: its target and index folder (None for the embedded store's own)."""
        self._n += 1
        if self.uri is None:
            return str(self.tmp_path / f"db{self._n}"), None
        self.reset()
        return self.uri, str(self.tmp_path / f"index{self._n}")

    def open(self, target: str, index_dir: str | None) -> GraphCluster:
        return GraphCluster.open(target, settings=Settings(index_dir=Path(index_dir)) if index_dir else Settings())


@pytest.fixture(params=["sqlite", "neo4j"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        yield Target(tmp_path, None, lambda: None)
        return
    uri = request.getfixturevalue("neo4j_uri")[0]
    driver = request.getfixturevalue("clean_neo4j")

    def reset() -> None:
        while driver.execute_query("MATCH (n) WITH n LIMIT 2000 DETACH DELETE n RETURN count(*) AS n")[0][0]["n"]:
            pass

    yield Target(tmp_path, uri, reset)


def _killed_child(mode: str, where: tuple[str, str | None], n: int, kill: str) -> None:
    """Run ``workload.py <mode>`` on the database ``where`` and check that SIGKILL ended it."""
    cmd = [sys.executable, str(WORKLOAD), mode, "--target", where[0], "--n", str(n), "--kill", kill]
    if where[1]:
        cmd += ["--index-dir", where[1]]
    child = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]


_UNINTERRUPTED: dict[str | None, tuple[set[frozenset[str]], set[frozenset[str]]]] = {}


def _uninterrupted(target: Target, faces: Faces) -> tuple[set[frozenset[str]], set[frozenset[str]]]:
    """The clusters of the first chunk sent alone, and of the whole call, never interrupted
    (computed once per store)."""
    if target.uri not in _UNINTERRUPTED:
        found = []
        for ids in (faces.ids[:CHUNK], faces.ids):
            with target.open(*target.fresh()) as gc:
                _send(gc, faces, ids)
                found.append(_partition(gc))
        _UNINTERRUPTED[target.uri] = (found[0], found[1])
    return _UNINTERRUPTED[target.uri]


@pytest.mark.parametrize("kill", sorted(KILL_POINTS))
def test_one_add_faces_call_killed_midway_keeps_whole_chunks_and_a_resend_completes_it(
    target: Target, kill: str
) -> None:
    faces = load_faces(0, N)

    alone, whole = _uninterrupted(target, faces)

    where = target.fresh()
    _killed_child("add-call", where, N, kill)

    stored_chunks = 2 if kill == "chunk 2 stored, not clustered" else 1
    with target.open(*where) as gc:
        stored = gc.store.face_ids()
        assert sorted(stored) == sorted(faces.ids[: stored_chunks * CHUNK])
        report = gc.check()
        assert report.ok, report.problems
        assert len(gc.index) == len(stored)
        interrupted = gc.stats().interrupted_add
        if stored_chunks == 1:
            assert interrupted is not None
            assert (interrupted["faces"], interrupted["stored"], interrupted["missing"]) == (N, CHUNK, CHUNK)
            assert _partition(gc) == alone
            assert any("stopped part-way" in note for note in report.notes)
        else:  # the repair on open clustered the stored chunk: the call is complete
            assert interrupted is None
            assert _partition(gc) == whole

        again = _send(gc, faces, faces.ids)
        assert again.added == N - len(stored)
        assert sorted(again.skipped) == sorted(stored) and again.skipped_changed == []
        assert again.completed_interrupted == (stored_chunks == 1)

        ids = gc.store.face_ids()
        assert len(ids) == len(set(ids)) == N
        assert gc.stats().interrupted_add is None
        pairs = _same_photo_pairs(gc)
        assert len(pairs) == len(set(pairs)) == sum(1 for i in range(N) if i % 12 == 11)
        assert _partition(gc) == whole
        report = gc.check()
        assert report.ok, report.problems
        assert not report.notes


@pytest.mark.parametrize("kill", sorted(FIRST_IMPORT_KILLS))
def test_a_first_import_killed_midway_keeps_what_it_wrote_clusters_it_on_open_and_a_resend_completes_it(
    target: Target, kill: str
) -> None:
    """A first import (``Settings.bootstrap_min``: one pass over the whole kNN graph) of 3,000
    faces, killed after two of its three write chunks, or after the first chunk of its
    clustering. On the next open the faces written are stored once and clustered, the vectors
    never written are out of the index, ``check()`` is clean and ``interrupted_add`` names a
    call with faces missing; a re-send stores exactly those. Killed while clustering, the open
    finishes the clustering: every face is assigned as the call never killed assigns it."""
    n = 3 * CHUNK
    faces = load_faces(0, n)
    where = target.fresh()
    _killed_child("first-import", where, n, kill)

    written = 2 * CHUNK if kill == "2 chunks written" else n
    with target.open(*where) as gc:
        stored = gc.store.face_ids()
        assert sorted(stored) == sorted(faces.ids[:written])
        report = gc.check()
        assert report.ok, report.problems
        assert len(gc.index) == written
        assert gc.store.get_meta().get("bootstrap") is None
        assignments = gc.assignments()
        assert sum(1 for c in assignments.values() if c) > written // 3  # clustered on open, not left unassigned
        interrupted = gc.stats().interrupted_add
        if written < n:
            assert interrupted is not None
            assert (interrupted["faces"], interrupted["stored"], interrupted["missing"]) == (n, written, n - written)
            again = _send(gc, faces, faces.ids)
            assert again.added == n - written and again.completed_interrupted
            assert sorted(gc.store.face_ids()) == sorted(faces.ids)
            assert gc.check().ok
        else:
            assert interrupted is None
            killed = _partition(gc)
    if written == n:  # the same call never killed
        place, index_dir = target.fresh()
        settings = Settings(bootstrap_min=CHUNK, **({"index_dir": Path(index_dir)} if index_dir else {}))
        with GraphCluster.open(place, settings=settings) as whole:
            _send(whole, faces, faces.ids)
            assert _partition(whole) == killed
