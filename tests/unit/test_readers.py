"""File readers for ``graphcluster ingest``: every format, and every kind of bad row."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import numpy as np
import pytest

from graphcluster.errors import InvalidInput
from graphcluster.readers import read_faces

RNG = np.random.default_rng(7)
VECS = RNG.normal(size=(3, 4)).astype(np.float32)


def _write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


# -- good files --------------------------------------------------------------------------------


def test_npy_ids_are_row_numbers(tmp_path: Path) -> None:
    p = tmp_path / "faces.npy"
    np.save(p, VECS)
    ids, vectors, metadata = read_faces(p)
    assert ids == ["0", "1", "2"]
    np.testing.assert_allclose(vectors, VECS)
    assert metadata == [{}, {}, {}]


def test_npy_with_automatic_ids_sidecar(tmp_path: Path) -> None:
    p = tmp_path / "batch.npy"
    np.save(p, VECS)
    (tmp_path / "batch.ids.txt").write_text("a\nb\nc\n")
    assert read_faces(p).ids == ["a", "b", "c"]


def test_npy_with_csv_sidecar_gives_metadata(tmp_path: Path) -> None:
    p = tmp_path / "emb.npy"
    np.save(p, VECS)
    side = _write_csv(tmp_path / "faces.csv", ["face_id,identity,source", "10,Ann,x/1.jpg", "11,Bob,x/2.jpg", "12,Ann,"])
    ids, _, metadata = read_faces(p, sidecar=side)
    assert ids == ["10", "11", "12"]
    assert metadata == [
        {"identity": "Ann", "source": "x/1.jpg"},
        {"identity": "Bob", "source": "x/2.jpg"},
        {"identity": "Ann"},
    ]


def test_npz_with_ids_and_metadata_arrays(tmp_path: Path) -> None:
    p = tmp_path / "b.npz"
    np.savez(p, ids=np.array(["x", "y", "z"]), embeddings=VECS, source=np.array(["1.jpg", "2.jpg", "2.jpg"]))
    ids, vectors, metadata = read_faces(p)
    assert ids == ["x", "y", "z"]
    assert vectors.shape == (3, 4)
    assert [m["source"] for m in metadata] == ["1.jpg", "2.jpg", "2.jpg"]


def test_csv_with_json_vector_column_and_metadata(tmp_path: Path) -> None:
    p = _write_csv(
        tmp_path / "f.csv",
        [
            "id,vector,image,bbox,timestamp,quality",
            'a,"[1, 0, 0]",p/1.jpg,"[1, 2, 30, 40]",2024-01-01T10:00:00,0.9',
            'b,"[0, 1, 0]",p/1.jpg,"5 6 7 8",,',
        ],
    )
    ids, vectors, metadata = read_faces(p)
    assert ids == ["a", "b"]
    np.testing.assert_allclose(vectors, [[1, 0, 0], [0, 1, 0]])
    assert metadata[0] == {"image": "p/1.jpg", "bbox": [1.0, 2.0, 30.0, 40.0], "timestamp": "2024-01-01T10:00:00", "quality": 0.9}
    assert metadata[1] == {"image": "p/1.jpg", "bbox": [5.0, 6.0, 7.0, 8.0]}


def test_csv_with_numbered_columns(tmp_path: Path) -> None:
    p = _write_csv(tmp_path / "f.csv", ["id,source,v0,v1,v2", "a,s1,0.1,0.2,0.3", "b,s2,1,2,3"])
    ids, vectors, metadata = read_faces(p)
    np.testing.assert_allclose(vectors, [[0.1, 0.2, 0.3], [1, 2, 3]], rtol=1e-6)
    assert metadata == [{"source": "s1"}, {"source": "s2"}]


def test_numbered_columns_are_ordered_numerically(tmp_path: Path) -> None:
    header = ",".join(["id"] + [f"e{i}" for i in (10, 2, 0, 1, 3, 4, 5, 6, 7, 8, 9, 11)])
    values = ",".join(["a"] + [str(i) for i in (10, 2, 0, 1, 3, 4, 5, 6, 7, 8, 9, 11)])
    _, vectors, _ = read_faces(_write_csv(tmp_path / "f.csv", [header, values]))
    assert vectors[0].tolist() == list(range(12))


def test_jsonl_with_vector_list(tmp_path: Path) -> None:
    p = _write_jsonl(
        tmp_path / "f.jsonl",
        [{"id": 1, "embedding": [1, 2], "source": "a.jpg", "bbox": [0, 0, 5, 5]}, {"id": 2, "embedding": [3, 4]}],
    )
    ids, vectors, metadata = read_faces(p)
    assert ids == ["1", "2"]
    np.testing.assert_allclose(vectors, [[1, 2], [3, 4]])
    assert metadata == [{"source": "a.jpg", "bbox": [0.0, 0.0, 5.0, 5.0]}, {}]


def test_explicit_id_and_vector_columns(tmp_path: Path) -> None:
    p = _write_jsonl(tmp_path / "f.jsonl", [{"key": "k1", "emb128": [1, 2], "vector": "not me"}])
    ids, vectors, metadata = read_faces(p, id_column="key", vector_column="emb128")
    assert ids == ["k1"] and vectors.tolist() == [[1.0, 2.0]] and metadata == [{"vector": "not me"}]


def test_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    p = tmp_path / "f.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "vector": [[1.0, 2.0], [3.0, 4.0]], "source": ["x.jpg", None]}), p)
    ids, vectors, metadata = read_faces(p)
    assert ids == ["a", "b"]
    np.testing.assert_allclose(vectors, [[1, 2], [3, 4]])
    assert metadata == [{"source": "x.jpg"}, {}]


def test_parquet_without_pyarrow_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "f.parquet"
    p.write_bytes(b"PAR1")
    real_import = builtins.__import__

    def no_pyarrow(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("pyarrow"):
            raise ImportError("No module named 'pyarrow'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(InvalidInput, match="pip install pyarrow"):
        read_faces(p)


# -- bad files and bad rows ------------------------------------------------------------------------


def _bad(tmp_path: Path, name: str, lines: list[str], *expected: str, **kwargs: object) -> InvalidInput:
    p = _write_csv(tmp_path / name, lines) if name.endswith(".csv") else tmp_path / name
    with pytest.raises(InvalidInput) as info:
        read_faces(p, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert str(p) in message
    for part in expected:
        assert part in message, message
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    _bad(tmp_path, "nope.npy", [], "no such file")


def test_unknown_suffix(tmp_path: Path) -> None:
    (tmp_path / "f.xlsx").write_text("x")
    _bad(tmp_path, "f.xlsx", [], "unknown file type", ".csv")


def test_non_numeric_vector_value(tmp_path: Path) -> None:
    err = _bad(tmp_path, "f.csv", ["id,v0,v1", "a,1,2", "b,1,oops"], "line 3", "'b'", "'oops'", "not a number")
    assert err.ids == ["b"]


def test_wrong_dimension(tmp_path: Path) -> None:
    _bad(tmp_path, "f.csv", ["id,vector", 'a,"[1,2,3]"', 'b,"[1,2]"'], "line 3", "2 values", "earlier rows have 3")


def test_nan_in_row(tmp_path: Path) -> None:
    _bad(tmp_path, "f.csv", ["id,v0,v1", "a,1,nan"], "line 2", "NaN")


def test_duplicate_id(tmp_path: Path) -> None:
    err = _bad(tmp_path, "f.csv", ["id,v0,v1", "a,1,2", "b,1,2", "a,3,4"], "line 4", "'a'", "line 2", "unique")
    assert err.ids == ["a"]


def test_empty_id(tmp_path: Path) -> None:
    _bad(tmp_path, "f.csv", ["id,v0,v1", ",1,2"], "line 2", "empty 'id'")


def test_missing_id_column(tmp_path: Path) -> None:
    _bad(tmp_path, "f.csv", ["name,v0,v1", "a,1,2"], "no id column 'id'", "--id-column")


def test_no_vector_columns(tmp_path: Path) -> None:
    _bad(tmp_path, "f.csv", ["id,source", "a,x.jpg"], "no vector found", "v0..v127")


def test_unknown_vector_column(tmp_path: Path) -> None:
    _bad(tmp_path, "f.csv", ["id,v0,v1", "a,1,2"], "no vector column 'emb'", vector_column="emb")


def test_ragged_csv_row(tmp_path: Path) -> None:
    _bad(tmp_path, "f.csv", ["id,v0,v1", "a,1,2", "b,1,2,3"], "line 3", "expected 3 columns")


def test_bad_json_vector(tmp_path: Path) -> None:
    _bad(tmp_path, "f.csv", ["id,vector", 'a,"[1, 2"'], "line 2", "not a JSON list")


def test_bad_bbox(tmp_path: Path) -> None:
    _bad(tmp_path, "f.csv", ["id,v0,v1,bbox", 'a,1,2,"[1, 2]"'], "line 2", "bbox", "four numbers")


def test_bad_quality(tmp_path: Path) -> None:
    _bad(tmp_path, "f.csv", ["id,v0,v1,quality", "a,1,2,good"], "line 2", "quality", "'good'")


def test_empty_csv(tmp_path: Path) -> None:
    _bad(tmp_path, "f.csv", ["id,v0,v1"], "no faces")


def test_jsonl_bad_line(tmp_path: Path) -> None:
    p = tmp_path / "f.jsonl"
    p.write_text('{"id": "a", "vector": [1, 2]}\n{"id": "b", "vector": [1, 2]\n')
    with pytest.raises(InvalidInput, match=r"f\.jsonl, line 2: not valid JSON"):
        read_faces(p)


def test_jsonl_not_an_object(tmp_path: Path) -> None:
    p = _write_jsonl(tmp_path / "f.jsonl", [[1, 2, 3]])
    with pytest.raises(InvalidInput, match="line 1: expected a JSON object"):
        read_faces(p)


def test_jsonl_vector_not_a_list(tmp_path: Path) -> None:
    p = _write_jsonl(tmp_path / "f.jsonl", [{"id": "a", "vector": 3}])
    with pytest.raises(InvalidInput, match="line 1 \\(id 'a'\\): vector 3 is not a non-empty list"):
        read_faces(p)


def test_npy_not_2d(tmp_path: Path) -> None:
    p = tmp_path / "f.npy"
    np.save(p, np.zeros(5))
    _bad(tmp_path, "f.npy", [], "2-D array", "(5,)")


def test_npy_nan_row(tmp_path: Path) -> None:
    p = tmp_path / "f.npy"
    a = VECS.copy()
    a[1, 2] = np.inf
    np.save(p, a)
    err = _bad(tmp_path, "f.npy", [], "row 1", "NaN or infinity")
    assert err.rows == [1]


def test_npy_sidecar_wrong_length(tmp_path: Path) -> None:
    p = tmp_path / "f.npy"
    np.save(p, VECS)
    (tmp_path / "ids.txt").write_text("a\nb\n")
    with pytest.raises(InvalidInput, match="has 2 ids but .* has 3 rows"):
        read_faces(p, sidecar=tmp_path / "ids.txt")


def test_npy_sidecar_duplicate_ids(tmp_path: Path) -> None:
    p = tmp_path / "f.npy"
    np.save(p, VECS)
    (tmp_path / "ids.txt").write_text("a\nb\na\n")
    with pytest.raises(InvalidInput, match="'a' appears twice"):
        read_faces(p, sidecar=tmp_path / "ids.txt")


def test_sidecar_only_with_npy(tmp_path: Path) -> None:
    p = _write_csv(tmp_path / "f.csv", ["id,v0,v1", "a,1,2"])
    with pytest.raises(InvalidInput, match="sidecar file only goes with a .npy"):
        read_faces(p, sidecar=tmp_path / "x.txt")


def test_npz_without_vectors(tmp_path: Path) -> None:
    p = tmp_path / "f.npz"
    np.savez(p, ids=np.array(["a"]), stuff=np.zeros((1, 3)))
    _bad(tmp_path, "f.npz", [], "no 'vectors' or 'embeddings' array", "stuff")


def test_npz_ids_length_mismatch(tmp_path: Path) -> None:
    p = tmp_path / "f.npz"
    np.savez(p, ids=np.array(["a", "b"]), vectors=VECS)
    _bad(tmp_path, "f.npz", [], "'ids' has 2 entries", "3 rows")


def test_parquet_bad_row(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    p = tmp_path / "f.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "vector": [[1.0, 2.0], [3.0]]}), p)
    with pytest.raises(InvalidInput, match=r"row 1 \(id 'b'\): vector has 1 values"):
        read_faces(p)
