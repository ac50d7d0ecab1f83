"""What only the embedded store promises: one writer per directory, data kept across reopen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from graphcluster.errors import StoreBusy, StoreError
from graphcluster.models import FaceRecord
from graphcluster.store import Neo4jStore, SQLiteStore, is_neo4j_uri, open_store


def test_second_open_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    first = SQLiteStore(tmp_path)
    with pytest.raises(StoreBusy, match=str(tmp_path)):
        SQLiteStore(tmp_path)
    first.close()
    first.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"):
        first.count_faces()
    with SQLiteStore(tmp_path) as again:
        assert again.count_faces() == 0


def test_another_process_gets_store_busy(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom graphcluster.store import SQLiteStore\nfrom graphcluster.errors import StoreBusy, StoreError\n"
        f"try:\n    SQLiteStore({str(tmp_path)!r})\nexcept StoreBusy as e:\n    print(e); sys.exit(3)\n"
    )
    with SQLiteStore(tmp_path):
        busy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert busy.returncode == 3, busy.stderr
    assert "another graphcluster process is using" in busy.stdout
    free = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert free.returncode == 0, free.stdout + free.stderr


def test_data_survives_reopen(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "new" / "dir") as s:
        s.add_faces([FaceRecord(id="a", dim=2, metadata={"k": 1}, embedding=[0.6, 0.8])], [])
        s.set_meta({"dim": 2})
    assert (tmp_path / "new" / "dir" / "graph.db").is_file()
    with SQLiteStore(tmp_path / "new" / "dir") as s:
        got = s.get_faces(["a"], with_embedding=True)["a"]
        assert got.metadata == {"k": 1} and got.embedding == pytest.approx([0.6, 0.8], abs=1e-6)
        assert s.get_meta() == {"dim": 2}


def test_open_store_picks_the_store_from_the_target(tmp_path: Path) -> None:
    for uri in ("bolt://h:7687", "neo4j://h", "bolt+s://h", "neo4j+s://h", "NEO4J+SSC://h"):
        assert is_neo4j_uri(uri)
    assert not is_neo4j_uri(str(tmp_path)) and not is_neo4j_uri(tmp_path)
    with open_store(tmp_path / "s") as s:  # type: ignore[attr-defined]
        assert isinstance(s, SQLiteStore) and s.kind == "sqlite"
    assert Neo4jStore.kind == "neo4j"
