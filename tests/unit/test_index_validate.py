"""validate_vectors: every kind of bad input is refused with the rows/ids named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graphcluster.errors import InvalidInput
from graphcluster.index import open_index, validate_vectors
from graphcluster.index.validate import MAX_ID_LENGTH, checked


def _batch(n: int = 5, d: int = 8) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, d))


def test_returns_unit_float32_rows_without_touching_input() -> None:
    x = _batch()
    before = x.copy()
    out = validate_vectors(x, ids=[f"f{i}" for i in range(5)], dim=8)
    assert out.dtype == np.float32 and out.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(out, x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-5)


def test_accepts_nested_lists() -> None:
    np.testing.assert_allclose(validate_vectors([[3.0, 4.0]]), [[0.6, 0.8]], rtol=1e-6)


def test_single_vector_is_refused_with_the_shape_to_use() -> None:
    with pytest.raises(InvalidInput, match=r"shape \(1, 8\)"):
        validate_vectors(np.ones(8))


@pytest.mark.parametrize("bad", [np.ones((2, 3, 4)), np.ones((3, 0)), "abc", [[1.0, "x"]]])
def test_wrong_shape_or_type(bad: object) -> None:
    with pytest.raises(InvalidInput):
        validate_vectors(bad)


def test_dimension_mismatch_names_both_dimensions() -> None:
    with pytest.raises(InvalidInput, match="dimension 8.*128-D"):
        validate_vectors(_batch(), dim=128)


def test_nan_and_inf_rows_are_named() -> None:
    x = _batch()
    x[1, 3] = np.nan
    x[4, 0] = np.inf
    ids = ["a", "b", "c", "d", "e"]
    with pytest.raises(InvalidInput, match="NaN or infinity") as err:
        validate_vectors(x, ids=ids)
    assert err.value.rows == [1, 4]
    assert err.value.ids == ["b", "e"]
    assert "'b'" in str(err.value) and "'e'" in str(err.value)


def test_many_bad_rows_are_listed_briefly_with_a_count() -> None:
    x = _batch(50)
    x[::2] = np.nan
    with pytest.raises(InvalidInput, match="and 15 more") as err:
        validate_vectors(x)
    assert len(err.value.rows) == 25


def test_zero_and_tiny_vectors_are_named() -> None:
    x = _batch()
    x[0] = 0.0
    x[3] = 1e-9
    with pytest.raises(InvalidInput, match="zero or nearly zero") as err:
        validate_vectors(x, ids=list("abcde"))
    assert err.value.rows == [0, 3]
    assert err.value.ids == ["a", "d"]


def test_id_count_must_match_rows() -> None:
    with pytest.raises(InvalidInput, match="4 ids for 5 vectors"):
        validate_vectors(_batch(), ids=["a", "b", "c", "d"])


def test_duplicate_ids_are_named() -> None:
    with pytest.raises(InvalidInput, match="duplicate") as err:
        validate_vectors(_batch(), ids=["a", "b", "a", "c", "b"])
    assert err.value.ids == ["a", "b"]
    assert err.value.rows == [0, 1, 2, 4]


@pytest.mark.parametrize(
    ("bad_id", "message"),
    [("", "non-empty"), (7, "non-empty"), (None, "non-empty"), ("a\nb", "control"), ("x\x00", "control"),
     ("y" * (MAX_ID_LENGTH + 1), "longer")],
)
def test_bad_ids_are_named(bad_id: object, message: str) -> None:
    ids = ["a", "b", bad_id, "d", "e"]
    with pytest.raises(InvalidInput, match=message) as err:
        validate_vectors(_batch(), ids=ids)  # type: ignore[arg-type]
    assert err.value.rows == [2]


def test_ids_given_as_a_single_string_are_refused() -> None:
    with pytest.raises(InvalidInput, match="sequence of strings"):
        validate_vectors(_batch(1), ids="abc")  # type: ignore[arg-type]


def test_unicode_ids_are_fine() -> None:
    out = validate_vectors(_batch(2), ids=["Zoë/ñ-1", "顔-2"])
    assert out.shape == (2, 8)


def test_validated_rows_are_read_only_and_known_as_checked() -> None:
    out = validate_vectors(_batch(), ids=[f"f{i}" for i in range(5)], dim=8)
    assert checked(out, 8) is out and checked(out, None) is out
    assert checked(out, 16) is None  # another dimension: the index checks it and names both
    with pytest.raises(ValueError, match="read-only"):
        out[0, 0] = 5.0
    part = out[[0, 2]]  # a row selection keeps unit rows and stays checked
    assert checked(part, 8) is part and not part.flags.writeable
    for changed in (out * 2.0, out + 0.0, np.asarray(out, dtype=np.float64), _batch()):
        assert checked(changed, 8) is None  # anything computed from them carries no promise


def test_an_index_takes_checked_rows_as_they_are_and_checks_the_rest(tmp_path: Path) -> None:
    index = open_index(tmp_path / "index", kind="exact")
    rows = validate_vectors(_batch(), ids=[f"f{i}" for i in range(5)])
    index.add([f"f{i}" for i in range(5)], rows)
    with pytest.raises(InvalidInput, match="NaN"):
        index.add(["g"], np.full((1, 8), np.nan))
    with pytest.raises(InvalidInput, match="dimension"):
        index.query(validate_vectors(_batch(d=4)), 2)
    with pytest.raises(InvalidInput, match="duplicate"):  # the ids of checked rows are checked all the same
        index.add(["h", "h"], validate_vectors(_batch(2)))
    ids, dist = index.query(rows[:1], 1)
    assert ids[0] == ["f0"] and dist[0][0] < 1e-3
