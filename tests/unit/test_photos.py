"""Photo ingest on the embedded store with the real dlib models: which files are taken, bad
photos reported one by one, EXIF orientation, CMYK, alpha and huge images, crops, and re-runs
that add nothing (or only what is new or changed). Photos with faces come from
``../shared/data/lfw_photos`` (skipped without it); broken files are made here with Pillow.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from graphcluster import GraphCluster, InvalidInput, Settings
from graphcluster.cli import cli
from graphcluster.photos import MAX_PIXELS, decode, find_photos, read_faces


def _open(tmp_path: Path) -> GraphCluster:
    return GraphCluster.open(tmp_path / "db", settings=Settings(index="exact"))


def _vectors(gc: GraphCluster, ids: list[str]) -> np.ndarray:
    faces = gc.store.get_faces(ids, with_embedding=True)
    return np.asarray([faces[f].embedding for f in ids])


def _by_path(report: object) -> dict[str, object]:
    return {p.path: p for p in report.photos}  # type: ignore[attr-defined]


def test_folders_are_walked_for_image_files_and_paths_are_checked_before_anything_is_read(tmp_path: Path) -> None:
    root = tmp_path / "library"
    for rel in ("a.jpg", "sub/b.PNG", "sub/deeper/c.jpeg", ".hidden.jpg", "notes.txt", ".cache/d.jpg", "db/crops/e.jpg"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    found_root, found = find_photos(root, exclude=[root / "db/crops"])
    assert found_root == root.resolve()
    assert [rel for rel, _ in found] == ["a.jpg", "sub/b.PNG", "sub/deeper/c.jpeg"]
    # a file named explicitly is taken whatever its suffix; ids are relative to the common folder
    _, explicit = find_photos([root / "notes.txt", root / "sub/b.PNG"])
    assert [rel for rel, _ in explicit] == ["notes.txt", "sub/b.PNG"]
    with pytest.raises(InvalidInput, match="does not exist"):
        find_photos([root / "a.jpg", root / "missing.jpg"])
    with pytest.raises(InvalidInput, match="not inside the root folder"):
        find_photos(root / "a.jpg", root=root / "sub")


def _noise_jpeg(size: tuple[int, int] = (300, 200)) -> bytes:
    rng = np.random.default_rng(0)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(out, "JPEG")
    return out.getvalue()


def test_broken_files_are_reported_each_with_its_reason_and_the_run_goes_on(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "letter.jpg").write_text("Dear Ann, this is not a photo.")
    (photos / "truncated.jpg").write_bytes(_noise_jpeg()[:3000])
    Image.new("1", (12_000, 12_000)).save(photos / "poster.png")  # 144 MP, a small file
    Image.new("RGB", (320, 240), (90, 120, 150)).save(photos / "sky.jpg")  # fine, but no face
    with _open(tmp_path) as gc:
        report = gc.add_photos(photos)
        got = _by_path(report)
        assert report.counts == {"skipped": 4, "added": 1}
        assert "empty file (0 bytes)" in got["empty.jpg"].reason
        assert "not an image" in got["letter.jpg"].reason
        assert "truncated or corrupt" in got["truncated.jpg"].reason
        assert "12000 x 12000 pixels (144 MP)" in got["poster.png"].reason
        assert f"{MAX_PIXELS // 1_000_000} MP limit" in got["poster.png"].reason
        assert got["sky.jpg"].outcome == "added" and got["sky.jpg"].faces == 0
        assert got["sky.jpg"].reason == "no face found"
        assert gc.stats().faces == 0
        # skipped photos are tried again next time (they may have been fixed); the rest is unchanged
        again = gc.add_photos(photos)
        assert again.counts == {"skipped": 4, "unchanged": 1}


def test_a_detector_that_does_not_exist_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    with _open(tmp_path) as gc, pytest.raises(InvalidInput, match="unknown detector 'yolo'"):
        gc.add_photos(tmp_path, detector="yolo")  # type: ignore[arg-type]


def _centre(faces: list[object], width: int, height: int) -> object:
    return min(faces, key=lambda f: ((f.box[0] + f.box[2]) / 2 - width / 2) ** 2  # type: ignore[attr-defined]
               + ((f.box[1] + f.box[3]) / 2 - height / 2) ** 2)  # type: ignore[attr-defined]


def test_rotated_cmyk_alpha_and_very_wide_photos_give_the_same_face(tmp_path: Path, lfw_photos: Path) -> None:
    src = lfw_photos / "img_0002.jpg"
    original = read_faces(src.read_bytes())
    ref = _centre(original.faces, 250, 250)
    photo = Image.open(src).convert("RGB")
    folder = tmp_path / "photos"
    folder.mkdir()
    # stored lying on its side, with the EXIF tag saying "rotate 90 degrees clockwise to view"
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.transpose(Image.Transpose.ROTATE_90).save(folder / "rotated.jpg", quality=95, exif=exif)
    photo.convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    rgba = Image.new("RGBA", (350, 350), (0, 0, 0, 0))  # a transparent border around the photo
    rgba.paste(photo, (50, 50))
    rgba.save(folder / "alpha.png")
    wide = Image.new("RGB", (12_000, 1_200), (40, 40, 40))  # 12,000 px: scaled down for detection
    wide.paste(photo.resize((1_000, 1_000)), (5_500, 100))
    wide.save(folder / "wide.jpg", quality=90)

    assert decode((folder / "rotated.jpg").read_bytes()).orientation == 6
    wide_decoded = decode((folder / "wide.jpg").read_bytes())
    assert (wide_decoded.width, wide_decoded.height) == (12_000, 1_200) and max(wide_decoded.rgb.size) == 2_000

    with _open(tmp_path) as gc:
        report = gc.add_photos(folder)
        got = _by_path(report)
        assert report.counts == {"added": 4}, report
        faces = gc.store.get_faces([f for p in report.photos for f in p.face_ids], with_embedding=True)
        for name, (w, h) in {"rotated.jpg": (250, 250), "cmyk.jpg": (250, 250), "alpha.png": (350, 350),
                             "wide.jpg": (12_000, 1_200)}.items():
            centre = min(got[name].face_ids, key=lambda f: np.hypot(
                (faces[f].bbox[0] + faces[f].bbox[2]) / 2 - w / 2, (faces[f].bbox[1] + faces[f].bbox[3]) / 2 - h / 2))
            cos = float(np.dot(faces[centre].embedding, ref.vector))
            assert cos > 0.97, (name, cos)
            assert faces[centre].metadata["photo_size"] == [w, h]
        # the rotated photo is read upright: its face has the original's box, not a turned one
        rotated = min(got["rotated.jpg"].face_ids, key=lambda f: sum(abs(a - b) for a, b in zip(faces[f].bbox, ref.box)))
        assert max(abs(a - b) for a, b in zip(faces[rotated].bbox, ref.box)) <= 6
        assert faces[rotated].metadata["orientation"] == 6
        # the wide photo's box is in its own full-size pixels (the face was pasted at x 5,500..6,500)
        wide_face = gc.store.get_faces(got["wide.jpg"].face_ids)
        assert any(5_500 <= f.bbox[0] < f.bbox[2] <= 6_500 for f in wide_face.values())


def test_a_second_run_adds_nothing_new_photos_join_and_a_changed_photo_keeps_its_decided_faces(
    tmp_path: Path, lfw_photos: Path
) -> None:
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    for name in ("img_0000.jpg", "img_0001.jpg"):
        (folder / "trip" / name).write_bytes((lfw_photos / name).read_bytes())
    with _open(tmp_path) as gc:
        first = gc.add_photos(folder)
        assert first.counts == {"added": 2} and first.faces_added >= 2
        ids_first = sorted(gc.assignments())
        a_face = next(f for f in _by_path(first)["trip/img_0000.jpg"].face_ids)
        assert a_face.startswith("trip/img_0000.jpg#")
        record = gc.face(a_face)["face"]
        assert record.image == "trip/img_0000.jpg" and record.source == str((folder / "trip/img_0000.jpg").resolve())
        assert a_face == f"trip/img_0000.jpg#{','.join(str(int(v)) for v in record.bbox)}"
        assert len(record.metadata["sha256"]) == 64

        again = gc.add_photos(folder)
        assert again.counts == {"unchanged": 2} and again.faces_added == 0
        assert sorted(gc.assignments()) == ids_first

        # a new photo is picked up; a copy of a known photo under another name adds nothing
        (folder / "img_0003.jpg").write_bytes((lfw_photos / "img_0003.jpg").read_bytes())
        (folder / "copy.jpg").write_bytes((lfw_photos / "img_0001.jpg").read_bytes())
        third = gc.add_photos(folder)
        got = _by_path(third)
        assert got["img_0003.jpg"].outcome == "added" and got["img_0003.jpg"].faces >= 1
        assert got["copy.jpg"].outcome == "skipped" and "same content as trip/img_0001.jpg" in got["copy.jpg"].reason

        # a human decides about img_0000's face; then the photo is edited (mirrored): new content
        b_face = _by_path(first)["trip/img_0001.jpg"].face_ids[0]
        decided = gc.different_person(a_face, b_face, by="ann", reason="not the same person")
        Image.open(lfw_photos / "img_0000.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
            folder / "trip/img_0000.jpg", quality=95)
        fourth = gc.add_photos(folder)
        changed = _by_path(fourth)["trip/img_0000.jpg"]
        assert changed.outcome == "changed" and changed.faces >= 1
        assert "earlier content are kept" in changed.reason
        assert a_face in gc.assignments()  # the decided face is still there, and so is the decision
        assert decided.id in {d.id for d in gc.decisions(face_id=a_face) if not d.undone}
        new_face = changed.face_ids[0]
        assert new_face.startswith(f"trip/img_0000.jpg@{changed.sha256[:12]}#")
        # old and new content may show the same person: no same-image cannot-link ties them
        linked = {(d.a, d.b) for d in gc.decisions(face_id=a_face) if d.kind == "different_person"}
        assert not any(new_face in pair for pair in linked)
        assert gc.add_photos(folder).counts == {"unchanged": 3, "skipped": 1}


def test_crops_are_150_px_jpegs_and_a_lost_crop_is_made_again(tmp_path: Path, lfw_photos: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes((lfw_photos / "img_0004.jpg").read_bytes())
    with _open(tmp_path) as gc:
        fid = gc.add_photos(folder).photos[0].face_ids[0]
        crop = gc.face_crop(fid)
        assert crop is not None
        img = Image.open(io.BytesIO(crop))
        assert img.format == "JPEG" and img.size == (150, 150)
        gc.crops.delete(fid)
        assert gc.face_crop(fid) is None
        report = gc.add_photos(folder)
        assert report.photos[0].outcome == "unchanged" and "missing crops made again" in report.photos[0].reason
        assert gc.face_crop(fid) == crop


def test_the_ledger_lost_a_rerun_still_adds_nothing(tmp_path: Path, lfw_photos: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes((lfw_photos / "img_0005.jpg").read_bytes())
    with _open(tmp_path) as gc:
        gc.add_photos(folder)
        n = gc.stats().faces
        (gc.crops.root / "photos.sqlite").unlink()
        assert gc.add_photos(folder).counts == {"unchanged": 1}
        assert gc.stats().faces == n


def test_cli_ingest_photos_prints_a_summary_and_json(tmp_path: Path, lfw_photos: Path,
                                                     two_face_photo: Callable[[Path], Path]) -> None:
    folder = tmp_path / "photos"
    two_face_photo(folder / "pair.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    db = str(tmp_path / "db")
    result = CliRunner().invoke(cli, ["ingest-photos", db, str(folder)])
    assert result.exit_code == 0, result.output
    assert "skipped: broken.jpg: not an image" in result.output
    assert "2 photos: 1 added" in result.output and "1 skipped" in result.output
    out = CliRunner().invoke(cli, ["--json", "ingest-photos", db, str(folder), "--detector", "hog"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["counts"] == {"unchanged": 1, "skipped": 1} and data["store"]["faces"] >= 2
    assert {p["path"]: p["outcome"] for p in data["photos"]} == {"pair.jpg": "unchanged", "broken.jpg": "skipped"}
