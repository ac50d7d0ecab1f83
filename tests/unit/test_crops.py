"""The crops folder: hashed paths (no face id becomes a path), atomic writes, None when absent."""

import pytest

from graphcluster.crops import CropStore

pytestmark = pytest.mark.unit


def test_a_hostile_face_id_stays_inside_the_crops_folder(tmp_path):
    crops = CropStore(tmp_path / "crops")
    for fid in ("../../etc/passwd", "/abs/path", "<script>alert(1)</script>", "x" * 10_000, "a\x00b"):
        p = crops.put(fid, b"\xff\xd8jpeg")
        assert p.resolve().is_relative_to((tmp_path / "crops").resolve())
        assert crops.get(fid) == b"\xff\xd8jpeg"


def test_a_face_without_a_crop_gives_none_and_a_replaced_crop_leaves_no_temporary_file(tmp_path):
    crops = CropStore(tmp_path)
    assert crops.get("f1") is None and not crops.has("f1")
    crops.put("f1", b"one")
    crops.put("f1", b"two")
    assert crops.get("f1") == b"two"
    assert [p.name for p in crops.path("f1").parent.iterdir()] == [crops.path("f1").name]
    crops.delete("f1")
    assert crops.get("f1") is None
