"""Check a batch of embeddings and ids before anything is written.

Steps (all vectorised; the input is never modified):

1. Coerce to a 2-D float array; a single 1-D vector is refused (pass shape ``(1, d)``).
2. The width must match ``dim`` when the index already has one.
3. Every value must be finite (NaN/inf rows are named).
4. Every row must have a usable norm (zero or near-zero rows are named).
5. Ids, when given: one per row, non-empty strings without control characters, at most
   ``MAX_ID_LENGTH`` UTF-8 bytes, no duplicates within the batch (the duplicates are named).
6. Return the rows L2-normalised as float32, as a read-only ``UnitVectors`` array.

An index given a ``UnitVectors`` of its dimension takes it as checked (``checked``), so a
batch on its way through the facade is validated once, not once per component it passes.

Any failure raises :class:`graphcluster.errors.InvalidInput` with ``rows``/``ids`` filled, so the
caller can report the offending rows and write nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from graphcluster.errors import InvalidInput

__all__ = ["validate_vectors", "validate_ids", "checked", "ensure_unit", "UnitVectors", "MAX_ID_LENGTH", "MIN_NORM"]

MAX_ID_LENGTH = 512
"""Longest id accepted, in UTF-8 bytes (ids are stored in fixed-width arrays per segment)."""

MIN_NORM = 1e-6
"""Rows with a smaller L2 norm carry no direction and cannot be normalised."""

_SHOWN = 10  # list at most this many offenders in a message; the count says the rest
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class UnitVectors(np.ndarray):
    """Rows that passed ``validate_vectors``: 2-D, float32, C-contiguous, finite, unit length.

    Read-only, so the rows cannot change after the check; a row selection (``x[rows]``) is
    still a ``UnitVectors`` (the rows keep their unit length), while arithmetic on one gives a
    plain ``ndarray``, which carries no such promise.
    """

    def __array_finalize__(self, obj: object) -> None:
        self.flags.writeable = False

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: object, **kwargs: object) -> object:
        plain = tuple(np.asarray(x) if isinstance(x, UnitVectors) else x for x in inputs)
        return getattr(ufunc, method)(*plain, **kwargs)


def checked(vectors: object, dim: int | None) -> UnitVectors | None:
    """``vectors`` itself when ``validate_vectors`` already returned it for this ``dim``, else None."""
    if isinstance(vectors, UnitVectors) and vectors.ndim == 2 and (dim is None or vectors.shape[1] == dim):
        return vectors
    return None


def ensure_unit(vectors: object, ids: Sequence[str] | None = None, dim: int | None = None) -> np.ndarray:
    """``validate_vectors`` for rows that may have passed it already: checked rows of this
    ``dim`` are returned as they are (only their ``ids`` are checked), anything else is validated."""
    rows = checked(vectors, dim)
    if rows is None:
        return validate_vectors(vectors, ids=ids, dim=dim)
    if ids is not None:
        validate_ids(ids, rows.shape[0])
    return rows


def listing(items: Sequence[object]) -> str:
    """The first few ``items`` for an error message: ``'a', 'b' and 3 more``."""
    shown = ", ".join(repr(x) if isinstance(x, str) else str(x) for x in items[:_SHOWN])
    more = len(items) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _ids_of(rows: Sequence[int], ids: Sequence[str] | None) -> list[str]:
    return [ids[r] for r in rows] if ids is not None else []


def validate_ids(ids: Sequence[str], n_rows: int | None = None) -> list[str]:
    """Check a batch of face ids.

    Args:
        ids: one id per row.
        n_rows: the number of vector rows the ids must match, if any.

    Returns:
        The ids as a list of ``str``.

    Raises:
        InvalidInput: wrong count, a non-string/empty/over-long id, a control character, or a
            duplicate within the batch.
    """
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence | np.ndarray):
        raise InvalidInput(f"ids must be a sequence of strings, one per vector; got {type(ids).__name__}")
    out = list(ids)
    if n_rows is not None and len(out) != n_rows:
        raise InvalidInput(
            f"got {len(out)} ids for {n_rows} vectors; pass exactly one id per row", rows=[]
        )
    bad = [i for i, x in enumerate(out) if not isinstance(x, str) or not x]
    if bad:
        raise InvalidInput(
            f"ids must be non-empty strings; rows {listing(bad)} are not "
            f"(values {listing([repr(out[i]) for i in bad])})",
            rows=bad,
        )
    bad = [i for i, x in enumerate(out) if _CONTROL.search(x)]
    if bad:
        raise InvalidInput(
            f"ids must not contain control characters (newline, tab, NUL...); rows {listing(bad)}: "
            f"{listing([out[i] for i in bad])}",
            rows=bad,
            ids=[out[i] for i in bad],
        )
    bad = [i for i, x in enumerate(out) if len(x.encode("utf-8")) > MAX_ID_LENGTH]
    if bad:
        raise InvalidInput(
            f"ids longer than {MAX_ID_LENGTH} bytes at rows {listing(bad)}; use a shorter key "
            "(a hash of the long one, say)",
            rows=bad,
            ids=[out[i][:40] + "..." for i in bad],
        )
    counts = Counter(out)
    if len(counts) != len(out):
        dup = sorted(x for x, c in counts.items() if c > 1)
        rows = [i for i, x in enumerate(out) if counts[x] > 1]
        raise InvalidInput(
            f"duplicate ids within the batch: {listing(dup)} (rows {listing(rows)}); "
            "each face needs its own id",
            rows=rows,
            ids=dup,
        )
    return out


def validate_vectors(
    vectors: object, ids: Sequence[str] | None = None, dim: int | None = None
) -> np.ndarray:
    """Check a batch of embeddings and return it as L2-normalised float32 rows.

    Args:
        vectors: array-like of shape ``(n, d)``.
        ids: optional face ids, one per row (checked as well).
        dim: the dimension the index expects, if already known.

    Returns:
        A new ``(n, d)`` float32 C-contiguous, read-only array with unit rows (``UnitVectors``).

    Raises:
        InvalidInput: naming the offending rows (and ids when given); nothing is written.
    """
    try:
        arr = np.asarray(vectors, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"vectors must be a numeric array of shape (n, d); could not convert: {exc}"
        ) from None
    if arr.ndim == 1:
        raise InvalidInput(
            f"got a single 1-D vector of length {arr.shape[0]}; pass a 2-D array of shape (1, {arr.shape[0]})"
        )
    if arr.ndim != 2:
        raise InvalidInput(f"vectors must be 2-D of shape (n, d); got shape {arr.shape}")
    n, d = arr.shape
    if d == 0:
        raise InvalidInput("vectors have zero columns; pass embeddings of shape (n, d) with d >= 1")
    if dim is not None and d != dim:
        raise InvalidInput(
            f"vectors have dimension {d} but the index holds {dim}-D vectors; "
            "use the same embedding model, or a new index directory for another model"
        )
    id_list = validate_ids(ids, n) if ids is not None else None

    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        rows = np.flatnonzero(~finite).tolist()
        raise InvalidInput(
            f"{len(rows)} vector(s) contain NaN or infinity: rows {listing(rows)}"
            + (f" (ids {listing(_ids_of(rows, id_list))})" if id_list else "")
            + "; drop or recompute those embeddings",
            rows=rows,
            ids=_ids_of(rows, id_list),
        )
    norms = np.linalg.norm(arr, axis=1)
    small = norms < MIN_NORM
    if small.any():
        rows = np.flatnonzero(small).tolist()
        raise InvalidInput(
            f"{len(rows)} vector(s) are zero or nearly zero (norm < {MIN_NORM:g}) and have no direction: "
            f"rows {listing(rows)}"
            + (f" (ids {listing(_ids_of(rows, id_list))})" if id_list else "")
            + "; the face detector probably failed on them, drop them",
            rows=rows,
            ids=_ids_of(rows, id_list),
        )
    out = np.ascontiguousarray((arr / norms[:, None]).astype(np.float32))
    return out.view(UnitVectors)
