"""Hostile and broken input on both stores: a clear error, nothing written, nothing lost.

Each test is a row of docs/reliability.md ("Hostile input"). Bad vectors (NaN, wrong
dimension, zero rows) and contradicting decisions are in test_engine_contract.py; a second
writer on one embedded directory in test_sqlite_store.py; malformed files on the command line
in tests/unit/test_cli.py. The file-system faults (a read-only folder, a full disk) need root
to mount a small file system and are skipped with the reason without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from graphcluster import GraphCluster, InvalidInput, NotFound, Settings, StoreError

DIM = 16
Opener = Callable[[], GraphCluster]  # the open_gc fixture (tests/contract/conftest.py)


def _faces(n: int, *, seed: int = 0, prefix: str = "f") -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, DIM)).astype(np.float32), [f"{prefix}{i}" for i in range(n)]


def _snapshot(gc: GraphCluster) -> tuple[object, ...]:
    return (gc.assignments(detail=True), [d.id for d in gc.decisions()], gc.stats().faces, sorted(gc.index.ids()))


def test_an_empty_batch_writes_nothing(open_gc: Opener) -> None:
    vecs, ids = _faces(6)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        before = _snapshot(gc)
        for empty in ([], np.zeros((0, DIM)), np.zeros((0, 0))):
            report = gc.add_faces(empty, ids=[])
            assert report.added == 0 and report.faces == [] and report.skipped == []
        assert _snapshot(gc) == before


def test_an_id_resent_with_a_different_vector_is_reported_and_the_stored_one_kept(open_gc: Opener) -> None:
    vecs, ids = _faces(6)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        before = _snapshot(gc)
        other, _ = _faces(2, seed=9)
        report = gc.add_faces(np.vstack([vecs[:2] * 3.0, other]), ids=[ids[0], ids[1], ids[2], ids[3]])
        # the same direction at another scale is the same embedding; new directions conflict
        assert report.added == 0 and sorted(report.skipped) == ids[:4]
        assert sorted(report.skipped_changed) == [ids[2], ids[3]]
        assert _snapshot(gc) == before
        kept = gc.index.get_vectors([ids[2]])[0]
        assert np.allclose(kept, vecs[2] / np.linalg.norm(vecs[2]), atol=1e-6)


ODD_IDS = [
    "it's \"quoted\"",
    "back\\slash",
    "Zoë 日本 👩‍👩‍👧",
    "x') MATCH (n) DETACH DELETE n //",
    "{id: 1}",
    "$param",
    "` DROP DATABASE neo4j",
    "' OR 1=1; --",
]


def test_ids_with_quotes_unicode_and_query_text_are_stored_as_given(open_gc: Opener) -> None:
    vecs, _ = _faces(len(ODD_IDS))
    gc = open_gc()
    report = gc.add_faces(vecs, ids=ODD_IDS, metadata=[{"image": i, "note": i} for i in ODD_IDS])
    assert report.added == len(ODD_IDS)
    d = gc.different_person(ODD_IDS[0], ODD_IDS[3], reason=ODD_IDS[4])
    gc.close()
    with open_gc() as again:
        assert sorted(again.assignments()) == sorted(ODD_IDS)
        face = again.face(ODD_IDS[3])["face"]
        assert face.id == ODD_IDS[3] and face.image == ODD_IDS[3] and face.metadata == {"note": ODD_IDS[3]}
        recorded = {x.id: x for x in again.decisions(face_id=ODD_IDS[0])}
        assert recorded[d.id].b == ODD_IDS[3] and recorded[d.id].reason == ODD_IDS[4]


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ("x" * 10_000, "longer than 512 bytes"),
        ("line\nbreak", "control characters"),
        ("nul\x00byte", "control characters"),
        ("tab\there", "control characters"),
        ("", "non-empty strings"),
    ],
    ids=["10000-chars", "newline", "nul", "tab", "empty"],
)
def test_unusable_ids_refuse_the_whole_batch(open_gc: Opener, bad: str, fragment: str) -> None:
    vecs, ids = _faces(6)
    with open_gc() as gc:
        gc.add_faces(vecs[:3], ids=ids[:3])
        before = _snapshot(gc)
        with pytest.raises(InvalidInput) as err:
            gc.add_faces(vecs[3:], ids=[ids[3], bad, ids[5]])
        assert fragment in str(err.value) and err.value.rows == [1]
        assert len(str(err.value)) < 400  # a 10,000-character id is not echoed whole
        assert _snapshot(gc) == before


def test_decisions_on_unknown_faces_or_a_face_with_itself_change_nothing(open_gc: Opener) -> None:
    vecs, ids = _faces(6)
    with open_gc() as gc:
        gc.add_faces(vecs, ids=ids)
        cluster = next((c for c in gc.assignments().values() if c), None)
        before = _snapshot(gc)
        for call in (gc.same_person, gc.different_person):
            with pytest.raises(NotFound, match="no-such-face"):
                call(ids[0], "no-such-face")
            with pytest.raises(NotFound, match="no-such-face"):
                call("no-such-face", ids[0])
            with pytest.raises(InvalidInput, match="two different faces"):
                call(ids[0], ids[0])
        with pytest.raises(NotFound, match="no-such-face"):
            gc.remove("no-such-face")
        with pytest.raises(NotFound, match="no-such-cluster"):
            gc.assign(ids[0], "no-such-cluster")
        with pytest.raises(NotFound, match="no-such-cluster"):
            gc.lock("no-such-cluster")
        with pytest.raises(NotFound, match="no-such-decision"):
            gc.undo("no-such-decision")
        if cluster is not None:
            with pytest.raises(InvalidInput, match="two different clusters"):
                gc.merge(cluster, cluster)
            with pytest.raises(InvalidInput, match="non-empty"):
                gc.name(cluster, "   ")
        assert _snapshot(gc) == before


def test_a_deleted_index_folder_is_rebuilt_from_the_stored_vectors(open_gc: Opener, tmp_path: Path) -> None:
    vecs, ids = _faces(12)
    gc = open_gc()
    gc.add_faces(vecs, ids=ids)
    before = gc.assignments(detail=True)
    index_dir = Path(str(gc.index.info()["path"]))
    gc.close()
    shutil.rmtree(index_dir)
    with open_gc() as again:
        assert sorted(again.index.ids()) == sorted(ids)
        assert again.assignments(detail=True) == before
        more, more_ids = _faces(3, seed=5, prefix="g")
        assert again.add_faces(more, ids=more_ids).added == 3


def test_an_index_folder_of_another_database_is_replaced_by_this_ones(open_gc: Opener, tmp_path: Path) -> None:
    vecs, ids = _faces(12)
    gc = open_gc()
    gc.add_faces(vecs, ids=ids)
    index_dir = Path(str(gc.index.info()["path"]))
    gc.close()
    # another database of the same size; its index folder is copied over this one's
    with GraphCluster.open(tmp_path / "other", settings=Settings(index="exact", threshold=0.6)) as other:
        other_vecs, other_ids = _faces(12, seed=3, prefix="o")
        other.add_faces(other_vecs, ids=other_ids)
        foreign = Path(str(other.index.info()["path"]))
    shutil.rmtree(index_dir)
    shutil.copytree(foreign, index_dir)
    with open_gc() as again:
        assert sorted(again.index.ids()) == sorted(ids)
        nbr, _ = again.index.query(vecs[:1] / np.linalg.norm(vecs[0]), 1)
        assert nbr[0][0] == ids[0]


# -- the embedded store's files --------------------------------------------------------------------
def _embedded(tmp_path: Path) -> tuple[Path, list[str]]:
    vecs, ids = _faces(10)
    with GraphCluster.open(tmp_path / "db", settings=Settings(index="exact", threshold=0.6)) as gc:
        gc.add_faces(vecs, ids=ids)
    return tmp_path / "db", ids


@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_a_damaged_database_file_is_a_store_error_and_left_as_it_is(tmp_path: Path, damage: str) -> None:
    root, _ = _embedded(tmp_path)
    db = root / "graph.db"
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3] if damage == "truncated" else b"\x00garbage" * 4096)
    damaged = db.read_bytes()
    with pytest.raises(StoreError) as err:
        GraphCluster.open(root, settings=Settings(index="exact"))
    assert str(db) in str(err.value)
    assert db.read_bytes() == damaged  # left for the operator to restore, never "repaired" away
    # the refused open released the directory lock: a restored file opens at once
    db.write_bytes(data)
    with GraphCluster.open(root, settings=Settings(index="exact")) as gc:
        assert gc.stats().faces == 10


def _root_mount(args: list[str]) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root and mount(8); this fault is not tried here")
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip()}); this fault is not tried here")


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True, check=False)


@pytest.fixture
def read_only_copy(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    root, ids = _embedded(tmp_path)
    view = tmp_path / "ro"
    view.mkdir()
    _root_mount(["--bind", str(root), str(view)])
    try:
        _root_mount(["-o", "remount,ro,bind", str(view)])
        yield view, ids
    finally:
        _umount(view)


def test_a_read_only_store_folder_is_a_store_error_and_loses_nothing(read_only_copy: tuple[Path, list[str]]) -> None:
    view, ids = read_only_copy
    with pytest.raises(StoreError, match="writable"):
        GraphCluster.open(view, settings=Settings(index="exact"))
    with pytest.raises(StoreError, match="writable"):
        GraphCluster.open(view.parent / "db", settings=Settings(index="exact", index_dir=view / "index"))
    with GraphCluster.open(view.parent / "db", settings=Settings(index="exact")) as gc:
        assert sorted(gc.assignments()) == sorted(ids)


def test_a_full_disk_refuses_the_batch_keeps_what_was_stored_and_a_resend_completes_it(tmp_path: Path) -> None:
    disk = tmp_path / "small"
    disk.mkdir()
    _root_mount(["-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)])
    try:
        settings = Settings(index="exact", threshold=0.6)
        rng = np.random.default_rng(1)
        acknowledged: list[str] = []
        batch: list[str] = []
        vectors = {}
        with GraphCluster.open(disk / "db", settings=settings) as gc:
            with pytest.raises(StoreError) as err:
                for n in range(0, 100_000, 200):
                    batch = [f"f{n + i}" for i in range(200)]
                    vecs = rng.standard_normal((200, 64)).astype(np.float32)
                    vectors.update(zip(batch, vecs))
                    gc.add_faces(vecs, ids=batch)
                    acknowledged += batch
            assert "failed" in str(err.value) and ("full" in str(err.value) or "space" in str(err.value))
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        with GraphCluster.open(disk / "db", settings=settings) as gc:
            stored = set(gc.assignments())
            assert set(acknowledged) <= stored  # nothing acknowledged is lost
            assert stored <= set(acknowledged) | set(batch)  # at most the refused batch, in part
            assert sorted(gc.index.ids()) == sorted(stored)
            again = gc.add_faces(np.asarray([vectors[f] for f in batch]), ids=batch)
            assert again.added + len(again.skipped) == len(batch) and not again.skipped_changed
            assert set(gc.assignments()) == set(acknowledged) | set(batch)
    finally:
        _umount(disk)


def test_a_second_writer_process_gets_store_busy_and_the_first_loses_nothing(tmp_path: Path) -> None:
    settings = Settings(index="exact", threshold=0.6)
    vecs, ids = _faces(20)
    code = (
        "import sys\nfrom graphcluster import GraphCluster, Settings, StoreBusy\n"
        f"try:\n    GraphCluster.open({str(tmp_path / 'db')!r}, settings=Settings(index='exact'))\n"
        "except StoreBusy as e:\n    print(e); sys.exit(3)\n"
    )
    with GraphCluster.open(tmp_path / "db", settings=settings) as gc:
        gc.add_faces(vecs[:10], ids=ids[:10])
        busy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
        assert busy.returncode == 3, busy.stdout + busy.stderr
        assert "another graphcluster process is using" in busy.stdout
        gc.add_faces(vecs[10:], ids=ids[10:])  # the first writer carries on
    with GraphCluster.open(tmp_path / "db", settings=settings) as gc:
        assert sorted(gc.assignments()) == sorted(ids) and sorted(gc.index.ids()) == sorted(ids)
