"""Ingest on the embedded store: a batch validated once, same-image cannot-links written with
their faces, and Neo4j URIs told from directories the same way everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import graphcluster.index.validate as validate
import graphcluster.ingest as ingest
from graphcluster import GraphCluster, Settings, StoreError
from graphcluster.synth import make_faces
from graphcluster.targets import is_neo4j_uri


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[int]:
    """Count the calls of ``module.validate_vectors`` (the real function still runs)."""
    calls: list[int] = []
    real = module.validate_vectors

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "validate_vectors", counted)
    return calls


@pytest.mark.parametrize("kind", ["exact", "annoy"])
def test_a_batch_is_validated_once_on_its_way_to_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    data = make_faces(300, dim=32, seed=1)
    # a fixed threshold: no calibration fit, whose neighbour queries of sampled stored vectors
    # are checked as any caller's are
    with GraphCluster.open(tmp_path / "db", settings=Settings(index=kind, threshold=0.6)) as gc:
        facade = _counting(monkeypatch, ingest)
        index = _counting(monkeypatch, validate)  # what an index calls for rows it cannot take as checked
        report = gc.add_faces(data.vectors * 3.0, ids=data.ids)  # any scale: normalised once, then trusted
        assert report.added == 300
        assert (len(facade), len(index)) == (1, 0)
        np.testing.assert_allclose(np.linalg.norm(gc.index.get_vectors(data.ids[:5]), axis=1), 1.0, rtol=1e-5)


def test_faces_of_one_image_are_kept_apart_within_and_across_batches(tmp_path: Path) -> None:
    data = make_faces(6, dim=32, seed=2)
    with GraphCluster.open(tmp_path / "db", settings=Settings(index="exact")) as gc:
        gc.add_faces(data.vectors[:2], ids=["a", "b"], metadata=[{"image": "p.jpg"}, {"image": "p.jpg"}])
        gc.add_faces(data.vectors[2:4], ids=["c", "d"], metadata=[{"image": "p.jpg"}, {"image": "q.jpg"}])
        links = {frozenset((d.a, d.b)) for d in gc.decisions() if d.kind == "different_person"}
        assert links == {frozenset(p) for p in (("a", "b"), ("c", "a"), ("c", "b"))}
        assert all(d.by == "graphcluster" and d.data == {"automatic": True} for d in gc.decisions())
        again = gc.add_faces(data.vectors[:4], ids=["a", "b", "c", "d"], metadata=[{"image": "p.jpg"}] * 4)
        assert again.added == 0 and len(gc.decisions()) == 3  # a re-send makes no new link


def test_neo4j_uris_are_told_from_directories_in_any_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for uri in ("bolt://h:7687", "BOLT://h", "Neo4j+S://h", "neo4j+ssc://h"):
        assert is_neo4j_uri(uri), uri
    for path in ("bolt", "./bolt:/x", "neo4j-data", str(tmp_path)):
        assert not is_neo4j_uri(path), path
    assert not is_neo4j_uri(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="127.0.0.1:1"):  # a server that is not there, not a folder "BOLT:"
        GraphCluster.open("BOLT://127.0.0.1:1", auth=("neo4j", "x"))
    assert not any(tmp_path.iterdir())
