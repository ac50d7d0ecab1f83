"""Read face embeddings from files for ``graphcluster ingest``.

Formats, chosen by extension:

- ``.npy``: a 2-D float array. Ids are the row numbers (``"0"``, ``"1"``, ...) unless a sidecar
  gives them: ``sidecar=`` (a ``.txt`` with one id per line, or a ``.csv``/``.jsonl`` with an id
  column and metadata columns, one row per vector, in order), or a file ``<name>.ids.txt`` next
  to the array.
- ``.npz``: arrays ``ids`` and ``vectors`` (or ``embeddings``); any other 1-D array of the same
  length becomes a metadata field.
- ``.csv`` / ``.jsonl``: one face per row. An id column (``id_column``), and the vector either in
  one column holding a JSON list (``vector``/``embedding``/... or ``vector_column``) or spread
  over numbered columns (``v0..v127``, ``e0..``, ``emb_0..``). Every other column is metadata
  (``source``/``image``, ``bbox``, ``timestamp``, ...); empty values are left out.
- ``.parquet``: like ``.jsonl``, when ``pyarrow`` is importable.

Steps for the row formats: (1) find the id and vector columns from the header (or the first
row), (2) parse each row, checking id, vector length and finiteness, (3) refuse the whole file
at the first bad row with an :class:`~graphcluster.errors.InvalidInput` that names the file,
the line or row, the value and what to do. Nothing is read lazily: ingest needs the whole batch
to validate it before anything is written.
"""

from __future__ import annotations

import csv
import json
import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from graphcluster.errors import InvalidInput

__all__ = ["FaceTable", "read_faces", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = (".npy", ".npz", ".csv", ".jsonl", ".parquet")
_VECTOR_NAMES = ("vector", "embedding", "embeddings", "vec", "descriptor", "encoding")
_NUMBERED = re.compile(r"^([A-Za-z]+_?)(\d+)$")
# Fields the store keeps as typed Face properties; the rest stays free-form metadata.
_FLOAT_LIST_FIELDS = ("bbox",)
_FLOAT_FIELDS = ("quality",)


class FaceTable(NamedTuple):
    """What a reader returns; unpacks as ``ids, vectors, metadata``."""

    ids: list[str]
    vectors: np.ndarray
    metadata: list[dict[str, Any]]


def read_faces(
    path: str | Path,
    *,
    id_column: str = "id",
    vector_column: str | None = None,
    sidecar: str | Path | None = None,
) -> FaceTable:
    """Read ids, vectors and metadata from one file.

    Args:
        path: a ``.npy``, ``.npz``, ``.csv``, ``.jsonl`` or ``.parquet`` file.
        id_column: the id column of a row format (or of a ``.npy`` sidecar). ``face_id`` is
            accepted too when ``id`` is absent.
        vector_column: the column holding the whole vector as a list; default: the first of
            ``vector``, ``embedding``, ``embeddings``, ``vec``, ``descriptor``, ``encoding``, else
            numbered columns such as ``v0..v127``.
        sidecar: for ``.npy`` only: ids (``.txt``) or ids + metadata (``.csv``/``.jsonl``).

    Returns:
        ``FaceTable(ids, vectors, metadata)``: ids as strings, vectors as a float32 (n, d)
        array, one metadata dict per face.

    Raises:
        InvalidInput: unknown format, missing file, or a bad row (named with its line/row).
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"{p}: no such file; give the path of a {', '.join(SUPPORTED_SUFFIXES)} file")
    suffix = p.suffix.lower()
    if sidecar is not None and suffix != ".npy":
        raise InvalidInput(f"{p}: a sidecar file only goes with a .npy array; {suffix} files carry their own ids")
    try:
        return _read_any(p, suffix, id_column, vector_column, sidecar)
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{p}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8 {suffix} or convert it"
        ) from None


def _read_any(p: Path, suffix: str, id_column: str, vector_column: str | None,
              sidecar: str | Path | None) -> FaceTable:
    if suffix == ".npy":
        return _read_npy(p, id_column=id_column, sidecar=Path(sidecar) if sidecar else None)
    if suffix == ".npz":
        return _read_npz(p)
    if suffix == ".csv":
        return _read_rows(p, _csv_rows(p), id_column, vector_column, unit="line")
    if suffix == ".jsonl":
        return _read_rows(p, _jsonl_rows(p), id_column, vector_column, unit="line")
    if suffix == ".parquet":
        return _read_rows(p, _parquet_rows(p), id_column, vector_column, unit="row")
    raise InvalidInput(f"{p}: unknown file type {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}")


# -- arrays ---------------------------------------------------------------------------------


def _check_matrix(p: Path, arr: Any, what: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise InvalidInput(f"{p}: {what} must be a non-empty 2-D array (faces x dimensions), got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.number):
        raise InvalidInput(f"{p}: {what} must hold numbers, got dtype {a.dtype}")
    a = a.astype(np.float32, copy=False)
    bad = ~np.isfinite(a).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInput(
            f"{p}: row {row} of {what} holds NaN or infinity ({int(bad.sum())} such rows); "
            "fix or drop those rows and ingest again",
            rows=np.flatnonzero(bad).tolist(),
        )
    return a


def _check_ids(p: Path, ids: list[str], where: str = "row") -> None:
    seen: dict[str, int] = {}
    for i, face_id in enumerate(ids):
        if not face_id:
            raise InvalidInput(f"{p}: {where} {i} has an empty id; give every face an id", rows=[i])
        if face_id in seen:
            raise InvalidInput(
                f"{p}: id {face_id!r} appears twice ({where}s {seen[face_id]} and {i}); ids must be unique",
                rows=[seen[face_id], i],
                ids=[face_id],
            )
        seen[face_id] = i


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _check_magic(p: Path, magic: bytes, what: str, writer: str) -> None:
    """Refuse a file that does not start as ``what`` does (numpy would try it as a pickle)."""
    with p.open("rb") as fh:
        head = fh.read(len(magic))
    if head != magic:
        raise InvalidInput(f"{p}: not {what} (it does not start with {magic!r}); save it with {writer}")


def _read_npy(p: Path, *, id_column: str, sidecar: Path | None) -> FaceTable:
    _check_magic(p, b"\x93NUMPY", "a .npy array", "numpy.save")
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:  # a truncated file, an object array
        raise InvalidInput(f"{p}: not a readable .npy array ({_first_line(exc)}); save it with numpy.save") from exc
    vectors = _check_matrix(p, arr, "the array")
    n = vectors.shape[0]
    if sidecar is None:
        auto = p.with_name(p.stem + ".ids.txt")
        sidecar = auto if auto.is_file() else None
    if sidecar is None:
        return FaceTable([str(i) for i in range(n)], vectors, [{} for _ in range(n)])
    if not sidecar.is_file():
        raise InvalidInput(f"{sidecar}: no such sidecar file; give a .txt, .csv or .jsonl with the ids of {p.name}")
    ids, metadata = _read_sidecar(sidecar, id_column)
    if len(ids) != n:
        raise InvalidInput(
            f"{sidecar}: has {len(ids)} ids but {p} has {n} rows; the sidecar needs one id per row, in order"
        )
    _check_ids(sidecar, ids)
    return FaceTable(ids, vectors, metadata)


def _read_sidecar(s: Path, id_column: str) -> tuple[list[str], list[dict[str, Any]]]:
    suffix = s.suffix.lower()
    if suffix == ".txt":
        lines = s.read_text(encoding="utf-8").splitlines()
        return [ln.strip() for ln in lines if ln.strip()], [{} for ln in lines if ln.strip()]
    if suffix not in (".csv", ".jsonl"):
        raise InvalidInput(f"{s}: a sidecar must be .txt, .csv or .jsonl, not {suffix!r}")
    rows = list(_csv_rows(s) if suffix == ".csv" else _jsonl_rows(s))
    if not rows:
        return [], []
    id_key = _id_key(s, rows[0][1], id_column)
    ids, metadata = [], []
    for line, row in rows:
        raw = row.get(id_key)
        if raw is None or str(raw).strip() == "":
            raise InvalidInput(f"{s}, line {line}: empty {id_key!r}; give every face an id")
        ids.append(str(raw).strip())
        metadata.append(_metadata(s, f"line {line}", {k: v for k, v in row.items() if k != id_key}))
    return ids, metadata


def _read_npz(p: Path) -> FaceTable:
    _check_magic(p, b"PK", "a .npz archive", "numpy.savez")
    try:
        data = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InvalidInput(f"{p}: not a readable .npz archive ({_first_line(exc)}); save it with numpy.savez") from exc
    with data:
        names = list(data.files)
        vec_name = next((k for k in ("vectors", "embeddings", "vector", "embedding") if k in names), None)
        if vec_name is None:
            raise InvalidInput(f"{p}: no 'vectors' or 'embeddings' array (found {names}); save the vectors under one of those names")
        vectors = _check_matrix(p, data[vec_name], f"array {vec_name!r}")
        n = vectors.shape[0]
        if "ids" in names:
            raw_ids = np.asarray(data["ids"]).reshape(-1)
            if raw_ids.shape[0] != n:
                raise InvalidInput(f"{p}: 'ids' has {raw_ids.shape[0]} entries but {vec_name!r} has {n} rows; give one id per row")
            ids = [str(x).strip() for x in raw_ids.tolist()]
        else:
            ids = [str(i) for i in range(n)]
        _check_ids(p, ids)
        extra = {k: np.asarray(data[k]) for k in names if k not in ("ids", vec_name)}
    metadata: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, arr in extra.items():
        if arr.ndim >= 1 and arr.shape[0] == n:
            for i, value in enumerate(arr.tolist()):
                if value not in ("", None):
                    metadata[i][key] = value
    return FaceTable(ids, vectors, metadata)


# -- row formats ------------------------------------------------------------------------------


def _csv_rows(p: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames:
            return
        width = len(reader.fieldnames)
        for row in reader:
            if None in row or len(row) != width or any(v is None for v in row.values()):
                raise InvalidInput(
                    f"{p}, line {reader.line_num}: expected {width} columns as in the header; "
                    "quote values that contain commas (a JSON vector or a bbox)"
                )
            yield reader.line_num, row


def _jsonl_rows(p: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with p.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{p}, line {line_no}: not valid JSON ({exc.msg}); write one JSON object per line") from exc
            if not isinstance(row, dict):
                raise InvalidInput(f"{p}, line {line_no}: expected a JSON object, got {type(row).__name__}")
            yield line_no, row


def _parquet_rows(p: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise InvalidInput(
            f"{p}: reading .parquet needs pyarrow, which is not installed; run `pip install pyarrow` "
            "or convert the file to .csv/.jsonl/.npz"
        ) from exc
    try:
        table = pq.read_table(p)
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise InvalidInput(f"{p}: not a readable Parquet file ({exc})") from exc
    for i, row in enumerate(table.to_pylist()):
        yield i, row


def _id_key(p: Path, first: Mapping[str, Any], id_column: str) -> str:
    if id_column in first:
        return id_column
    if id_column == "id" and "face_id" in first:
        return "face_id"
    raise InvalidInput(
        f"{p}: no id column {id_column!r} (columns: {', '.join(map(str, first))}); name it with --id-column"
    )


def _vector_columns(p: Path, first: Mapping[str, Any], vector_column: str | None) -> str | list[str]:
    """One column holding the whole vector, or the numbered columns in order."""
    if vector_column is not None:
        if vector_column not in first:
            raise InvalidInput(f"{p}: no vector column {vector_column!r} (columns: {', '.join(map(str, first))})")
        return vector_column
    for name in _VECTOR_NAMES:
        if name in first:
            return name
    groups: dict[str, dict[int, str]] = {}
    for col in first:
        m = _NUMBERED.match(str(col))
        if m:
            groups.setdefault(m.group(1), {})[int(m.group(2))] = str(col)
    best: list[str] = []
    for numbered in groups.values():
        start = min(numbered)
        if start in (0, 1) and sorted(numbered) == list(range(start, start + len(numbered))) and len(numbered) > len(best):
            best = [numbered[i] for i in sorted(numbered)]
    if len(best) < 2:
        raise InvalidInput(
            f"{p}: no vector found: expected a column named one of {', '.join(_VECTOR_NAMES)} holding a list, "
            f"or numbered columns such as v0..v127 (columns: {', '.join(map(str, first))}); name it with --vector-column"
        )
    return best


def _to_float(p: Path, where: str, face_id: str, value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{p}, {where} (id {face_id!r}): vector value {value!r} is not a number; fix the row or drop it",
            ids=[face_id],
        ) from None
    return x


def _parse_vector(p: Path, where: str, face_id: str, value: Any) -> list[float]:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else text.replace(",", " ").split()
        except json.JSONDecodeError:
            raise InvalidInput(
                f"{p}, {where} (id {face_id!r}): vector {text[:40]!r} is not a JSON list; write it as [0.1, 0.2, ...]",
                ids=[face_id],
            ) from None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidInput(f"{p}, {where} (id {face_id!r}): vector {value!r} is not a non-empty list of numbers", ids=[face_id])
    return [_to_float(p, where, face_id, v) for v in value]


def _metadata(p: Path, where: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None or (isinstance(value, str) and value.strip() == ""):
            continue
        if isinstance(value, str) and value.strip()[:1] in "[{":
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass  # a free-text value that happens to start with a bracket stays text
        if key in _FLOAT_LIST_FIELDS:
            value = _bbox(p, where, key, value)
        elif key in _FLOAT_FIELDS:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise InvalidInput(f"{p}, {where}: {key} {value!r} is not a number; leave it empty or give a number") from None
        out[str(key)] = value
    return out


def _bbox(p: Path, where: str, key: str, value: Any) -> list[float]:
    parts: Iterable[Any] = value.replace(",", " ").split() if isinstance(value, str) else value
    try:
        box = [float(v) for v in parts]
    except (TypeError, ValueError):
        box = []
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise InvalidInput(f"{p}, {where}: {key} {value!r} is not four numbers; write it as [x, y, w, h]")
    return box


def _read_rows(
    p: Path,
    rows: Iterable[tuple[int, dict[str, Any]]],
    id_column: str,
    vector_column: str | None,
    *,
    unit: str,
) -> FaceTable:
    ids: list[str] = []
    vectors: list[list[float]] = []
    metadata: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    id_key: str | None = None
    vec: str | list[str] = []
    dim = 0
    for line, row in rows:
        where = f"{unit} {line}"
        if id_key is None:
            id_key = _id_key(p, row, id_column)
            vec = _vector_columns(p, row, vector_column)
        raw_id = row.get(id_key)
        face_id = "" if raw_id is None else str(raw_id).strip()
        if not face_id:
            raise InvalidInput(f"{p}, {where}: empty {id_key!r}; give every face an id")
        if face_id in seen:
            raise InvalidInput(
                f"{p}, {where}: id {face_id!r} already used on {unit} {seen[face_id]}; ids must be unique",
                ids=[face_id],
            )
        seen[face_id] = line
        if isinstance(vec, str):
            vector = _parse_vector(p, where, face_id, row.get(vec))
            rest = {k: v for k, v in row.items() if k not in (id_key, vec)}
        else:
            vector = [_to_float(p, where, face_id, row.get(c)) for c in vec]
            used = set(vec)
            rest = {k: v for k, v in row.items() if k != id_key and k not in used}
        if dim == 0:
            dim = len(vector)
        elif len(vector) != dim:
            raise InvalidInput(
                f"{p}, {where} (id {face_id!r}): vector has {len(vector)} values but earlier rows have {dim}; "
                "every face of a file must come from the same model",
                ids=[face_id],
            )
        if not all(math.isfinite(v) for v in vector):
            raise InvalidInput(f"{p}, {where} (id {face_id!r}): vector holds NaN or infinity; fix or drop the row", ids=[face_id])
        ids.append(face_id)
        vectors.append(vector)
        metadata.append(_metadata(p, where, rest))
    if not ids:
        raise InvalidInput(f"{p}: no faces in the file; nothing to ingest")
    return FaceTable(ids, np.asarray(vectors, dtype=np.float32), metadata)
