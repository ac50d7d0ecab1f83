"""Faces from photos: decode, detect, describe, crop, and add them photo by photo.

This module needs the ``photos`` extra (``pip install 'graphcluster[photos]'``: dlib-bin,
face_recognition_models, Pillow). :meth:`graphcluster.GraphCluster.add_photos` calls
:func:`add_photos`; docs/photos.md describes the choices. One photo, in steps:

1. read its bytes and hash them (SHA-256): the ledger says whether this path was seen with
   this content (``unchanged``), with another content (``changed``) or not at all;
2. decode with Pillow (:func:`decode`): refuse an empty file, a file that is not an image, a
   truncated one, or one over :data:`MAX_PIXELS`; apply the EXIF orientation; CMYK, palette,
   16-bit and alpha images become RGB (transparent parts on white); a photo longer than
   :data:`MAX_SIDE` on its long side is scaled down for detection (a large JPEG is decoded at a
   reduced scale directly, so it is never held in memory at full size);
3. detect every face (dlib's HOG frontal detector, the image upsampled once, or the CNN
   "mmod" detector), find the 5 landmarks, and compute dlib's 128-D ResNet descriptor with
   ``num_jitters=0``, L2-normalised: the steps that made ``lfw_dlib128``;
4. name each face after its photo and box: ``<path relative to root>#x0,y0,x1,y1`` (pixels of
   the upright photo at full size, x1/y1 exclusive);
5. once the photos detected hold :data:`BATCH_FACES` faces: write a 150x150 JPEG crop per face
   (:class:`graphcluster.crops.CropStore`), then their faces in **one** ``add_faces`` call (a
   photo's faces always go in the same call, so a photo is never half-written; they share the
   ``image`` field, so the same-image rule cannot-links them), then the ledger rows.

A crash between steps leaves nothing a re-run does not repair: crops are rewritten, stored face
ids are skipped by ``add_faces``, and the ledger row is written last.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import math
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from graphcluster.errors import GraphClusterError, InvalidInput
from graphcluster.models import FaceRecord, PhotoOutcome, PhotoReport, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from PIL.Image import Image as PILImage

    from graphcluster.engine import GraphCluster

__all__ = [
    "BATCH_FACES",
    "BadPhoto",
    "CROP_SIZE",
    "DetectedFace",
    "Detector",
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "PhotoFaces",
    "PhotoLedger",
    "add_photos",
    "decode",
    "find_photos",
    "load_models",
    "model_dir",
    "nearest_centre",
    "read_faces",
]

Detector = Literal["hog", "cnn"]
Progress = Callable[[int, int], None]

# A photo with more pixels than this is refused, not decoded: 100 MP is above every camera
# sensor sold today, and decoding it whole (a PNG cannot be decoded at a reduced scale) takes
# 300-400 MB. Pillow itself warns from 89 MP and refuses from 179 MP.
MAX_PIXELS = 100_000_000
# Detection runs on the photo scaled to at most this many pixels on its long side: with the
# detector's one upsampling, faces down to about 40 px at this size (80 px in a 4,000 px photo)
# are found, and the HOG pyramid of a phone photo stays a few seconds of work. LFW photos
# (250 px) are never scaled, so their vectors are the development set's.
MAX_SIDE = 2000
CROP_SIZE = 150
CROP_MARGIN = 1.6  # the crop's side as a multiple of the detector's box (hair and chin in view)
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
LEDGER_FILE = "photos.sqlite"
# Photos are added together once they hold this many faces (a photo is never split): one
# region per batch instead of one per photo, the batch size the clustering is measured at.
BATCH_FACES = 100
_ORIENTATION = 0x0112


class BadPhoto(InvalidInput):
    """A file that cannot be ingested as a photo; the message says why and what to do."""


# -- the models --------------------------------------------------------------------------------
def model_dir() -> Path:
    """The folder of dlib's model files shipped by the ``face_recognition_models`` package.

    Found with ``importlib.util.find_spec`` instead of importing the package: its ``__init__``
    imports ``pkg_resources``, which recent setuptools no longer ships.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise GraphClusterError(
            "photo ingest needs the model files of the face_recognition_models package: "
            "pip install 'graphcluster[photos]'"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "models"


@lru_cache(maxsize=2)
def load_models(detector: Detector) -> tuple[Any, Any, Any]:
    """(detector, 5-point shape predictor, ResNet descriptor model), loaded once per process."""
    try:
        import dlib
    except ImportError as exc:
        raise GraphClusterError(f"photo ingest needs dlib ({exc}): pip install 'graphcluster[photos]'") from None
    folder = model_dir()
    if detector == "hog":
        det = dlib.get_frontal_face_detector()
    else:
        det = dlib.cnn_face_detection_model_v1(str(folder / "mmod_human_face_detector.dat"))
    shape = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
    resnet = dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat"))
    return det, shape, resnet


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise GraphClusterError(f"photo ingest needs Pillow ({exc}): pip install 'graphcluster[photos]'") from None
    return Image


# -- decoding ----------------------------------------------------------------------------------
@dataclass
class Decoded:
    """A photo ready for detection: RGB pixels, possibly scaled down, and its upright full size."""

    rgb: PILImage
    width: int  # the upright photo at full size
    height: int
    scale: float  # rgb pixels per photo pixel (1.0 unless scaled down)
    orientation: int  # the EXIF orientation that was applied (1: none)


def _to_rgb(img: PILImage) -> PILImage:
    Image = _pil()
    mode = img.mode
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat: PILImage = Image.new("RGB", rgba.size, (255, 255, 255))  # transparent parts show as on a white page
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if mode.startswith("I;16") or mode in ("I", "F"):  # 16-bit / 32-bit grey: scale, do not clip at 255
        arr = np.asarray(img, dtype=np.float64)
        top = float(arr.max()) if arr.size else 0.0
        grey = (arr * (255.0 / top) if top > 255 else arr).clip(0, 255).astype(np.uint8)
        grey_rgb: PILImage = Image.fromarray(grey, "L").convert("RGB")
        return grey_rgb
    return img if mode == "RGB" else img.convert("RGB")  # CMYK, YCbCr, L, P, 1 ...


def decode(data: bytes, max_side: int = MAX_SIDE) -> Decoded:
    """Decode a photo for detection.

    Raises:
        BadPhoto: an empty file, not an image, truncated or corrupt, or more than MAX_PIXELS.
    """
    Image = _pil()
    from PIL import ImageOps, UnidentifiedImageError

    if not data:
        raise BadPhoto("empty file (0 bytes); copy the photo again")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise BadPhoto(f"too large to decode ({exc}); the limit is {MAX_PIXELS // 1_000_000} MP") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise BadPhoto(f"not an image Pillow can read ({type(exc).__name__}: {exc})") from None
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise BadPhoto(
                f"{w} x {h} pixels ({w * h / 1e6:.0f} MP) is over the {MAX_PIXELS // 1_000_000} MP limit; "
                f"scale it down (e.g. to {max_side * 2} px on the long side) and ingest it again"
            )
        try:
            orientation = int(img.getexif().get(_ORIENTATION, 1) or 1)
        except Exception:  # unreadable EXIF: decode the pixels as stored
            orientation = 1
        if img.format == "JPEG" and max(w, h) > max_side:
            f = max_side / max(w, h)
            img.draft("RGB", (math.ceil(w * f), math.ceil(h * f)))  # decode at 1/2, 1/4 or 1/8 scale
        try:
            img.load()
            upright = ImageOps.exif_transpose(img) if orientation != 1 else img
            rgb = _to_rgb(upright)
        except (OSError, SyntaxError, ValueError) as exc:
            raise BadPhoto(f"cannot decode the pixels ({exc}); the file is truncated or corrupt") from None
    full_w, full_h = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    if max(rgb.size) > max_side:
        f = max_side / max(rgb.size)
        rgb = rgb.resize((max(1, round(rgb.width * f)), max(1, round(rgb.height * f))), Image.Resampling.LANCZOS)
    return Decoded(rgb=rgb, width=full_w, height=full_h, scale=rgb.width / full_w, orientation=orientation)


# -- detection ---------------------------------------------------------------------------------
@dataclass
class DetectedFace:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the upright full-size photo, x1/y1 exclusive
    score: float  # the detector's confidence (HOG: SVM score; CNN: mmod confidence)
    vector: np.ndarray  # 128 float32, unit length
    crop: bytes  # CROP_SIZE x CROP_SIZE JPEG


@dataclass
class PhotoFaces:
    width: int
    height: int
    orientation: int
    scale: float
    faces: list[DetectedFace]


def _crop(rgb: PILImage, left: int, top: int, right: int, bottom: int) -> bytes:
    Image = _pil()
    side = max(1, round(max(right - left, bottom - top) * CROP_MARGIN))
    cx, cy = (left + right) / 2, (top + bottom) / 2
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    square = Image.new("RGB", (side, side), (128, 128, 128))  # grey where the square leaves the photo
    square.paste(rgb.crop((max(x0, 0), max(y0, 0), min(x0 + side, rgb.width), min(y0 + side, rgb.height))),
                 (max(-x0, 0), max(-y0, 0)))
    out = io.BytesIO()
    square.resize((CROP_SIZE, CROP_SIZE), Image.Resampling.LANCZOS).save(out, "JPEG", quality=90)
    return out.getvalue()


def read_faces(data: bytes, detector: Detector = "hog") -> PhotoFaces:
    """Every face of one photo: box, score, unit 128-D vector and crop.

    Raises:
        BadPhoto: the file cannot be decoded (see :func:`decode`).
    """
    if detector not in ("hog", "cnn"):
        raise InvalidInput(f"unknown detector {detector!r}; use 'hog' or 'cnn'")
    det, shape_model, resnet = load_models(detector)
    decoded = decode(data)
    arr = np.ascontiguousarray(np.asarray(decoded.rgb, dtype=np.uint8))
    if detector == "hog":
        rects, scores, _ = det.run(arr, 1, 0.0)  # upsample once, the detector's own threshold
        found = list(zip(rects, (float(s) for s in scores)))
    else:
        found = [(m.rect, float(m.confidence)) for m in det(arr, 1)]
    s = decoded.scale
    faces: list[DetectedFace] = []
    seen: set[tuple[int, int, int, int]] = set()
    for rect, score in found:
        left, top, right, bottom = rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1
        box = (
            min(max(round(left / s), 0), decoded.width), min(max(round(top / s), 0), decoded.height),
            min(max(round(right / s), 0), decoded.width), min(max(round(bottom / s), 0), decoded.height),
        )
        if box in seen or box[2] <= box[0] or box[3] <= box[1]:
            continue
        seen.add(box)
        raw = np.asarray(resnet.compute_face_descriptor(arr, shape_model(arr, rect), 0), dtype=np.float32)
        faces.append(DetectedFace(box=box, score=score, vector=raw / np.linalg.norm(raw),
                                  crop=_crop(decoded.rgb, left, top, right, bottom)))
    return PhotoFaces(width=decoded.width, height=decoded.height, orientation=decoded.orientation,
                      scale=s, faces=faces)


def nearest_centre(faces: Mapping[str, FaceRecord]) -> str:
    """The id of the face nearest its photo's centre (in LFW, the labelled person)."""

    def off_centre(fid: str) -> float:
        f = faces[fid]
        w, h = f.metadata.get("photo_size", (0, 0))
        x0, y0, x1, y1 = f.bbox or (0.0, 0.0, 0.0, 0.0)
        return float(((x0 + x1) / 2 - w / 2) ** 2 + ((y0 + y1) / 2 - h / 2) ** 2)

    return min(sorted(faces), key=off_centre)


# -- which files --------------------------------------------------------------------------------
def find_photos(
    paths: str | Path | Iterable[str | Path], root: str | Path | None = None, *, exclude: Sequence[Path] = ()
) -> tuple[Path, list[tuple[str, Path]]]:
    """The photos to ingest: ``(root, [(path relative to root, file), ...])`` in path order.

    A folder is walked recursively for files with an image suffix (:data:`IMAGE_SUFFIXES`,
    any case), skipping hidden files and folders and the folders in ``exclude`` (the store's
    own crops); a file named explicitly is taken whatever its suffix. ``root`` defaults to the
    folder when one folder is given, else to the common folder of everything given.

    Raises:
        InvalidInput: a path that does not exist, or one outside ``root``; nothing is read.
    """
    given = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not given:
        raise InvalidInput("no photos given: pass a folder or photo files")
    for p in given:
        if not p.exists():
            raise InvalidInput(f"{p} does not exist; pass a folder of photos or photo files")
    given = [p.resolve() for p in given]
    if root is None:
        root_path = given[0] if len(given) == 1 and given[0].is_dir() else Path(
            os.path.commonpath([p if p.is_dir() else p.parent for p in given]))
    else:
        root_path = Path(root).resolve()
    skip = [Path(e).resolve() for e in exclude]
    found: dict[str, Path] = {}

    def take(f: Path) -> None:
        try:
            rel = f.relative_to(root_path).as_posix()
        except ValueError:
            raise InvalidInput(f"{f} is not inside the root folder {root_path}; pass root= a folder holding it") from None
        found.setdefault(rel, f)

    for p in given:
        if p.is_file():
            take(p)
            continue
        for folder, dirs, files in os.walk(p):
            here = Path(folder)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() not in skip)
            for name in sorted(files):
                if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                    take(here / name)
    return root_path, sorted(found.items())


# -- the ledger ----------------------------------------------------------------------------------
@dataclass
class Version:
    sha256: str
    image: str
    face_ids: list[str]


class PhotoLedger:
    """Which photo contents were ingested: one row per (path, SHA-256), in ``photos.sqlite``.

    It lets a re-run skip an unchanged photo without decoding it and remembers photos with no
    face. It is a cache of what the store holds: lost, a re-run detects every photo again and
    ``add_faces`` skips the face ids already stored.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path))
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS versions (path TEXT NOT NULL, sha256 TEXT NOT NULL, image TEXT NOT NULL, "
            "face_ids TEXT NOT NULL, detector TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (path, sha256))"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS versions_sha ON versions (sha256)")
        self._db.commit()

    def versions(self, path: str) -> list[Version]:
        rows = self._db.execute("SELECT sha256, image, face_ids FROM versions WHERE path = ? ORDER BY at", (path,))
        return [Version(sha, image, json.loads(ids)) for sha, image, ids in rows]

    def path_with(self, sha256: str, other_than: str) -> str | None:
        row = self._db.execute("SELECT path FROM versions WHERE sha256 = ? AND path != ? ORDER BY path LIMIT 1",
                               (sha256, other_than)).fetchone()
        return str(row[0]) if row else None

    def record(self, path: str, version: Version, detector: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?, ?, ?)",
                             (path, version.sha256, version.image, json.dumps(version.face_ids), detector,
                              utcnow().isoformat()))

    def close(self) -> None:
        self._db.close()


def _stored_versions(gc: GraphCluster, rel: str) -> list[Version]:
    """Versions of ``rel`` the store knows from its faces, for a ledger that lost its row."""
    ids = gc.store.faces_by_image([rel]).get(rel, [])
    by_sha: dict[str, list[str]] = {}
    for fid, face in gc.store.get_faces(sorted(set(ids))).items():
        sha = face.metadata.get("sha256")
        if isinstance(sha, str):
            by_sha.setdefault(sha, []).append(fid)
    return [Version(sha, rel, sorted(f)) for sha, f in by_sha.items()]


# -- ingest ---------------------------------------------------------------------------------------
@dataclass
class _Found:
    """A photo detected and waiting for its batch's ``add_faces`` call."""

    index: int  # its place in the report
    rel: str
    file: Path
    sha256: str
    image: str  # the same-image key: the path, or "<path>@<hash>" for changed content
    faces: PhotoFaces
    earlier: int  # faces of earlier contents of this path (kept)

    @property
    def ids(self) -> list[str]:
        return [f"{self.image}#{x0},{y0},{x1},{y1}" for x0, y0, x1, y1 in (f.box for f in self.faces.faces)]


def add_photos(
    gc: GraphCluster,
    paths: str | Path | Iterable[str | Path],
    *,
    root: str | Path | None = None,
    detector: Detector = "hog",
    progress: Progress | None = None,
    batch_faces: int = BATCH_FACES,
) -> PhotoReport:
    """Ingest photos into ``gc``; see the module docstring.

    Detected photos are added together once they hold ``batch_faces`` faces (a batch of
    faces clusters as well as ever and costs one region instead of one per photo); a photo's
    faces are never split between two ``add_faces`` calls.

    Raises:
        InvalidInput: a missing path or one outside ``root``, an unknown detector, or a store
            whose faces are not 128-D; nothing is written. Bad photos do not raise: each is
            reported as ``skipped`` with its reason, and the run goes on.
    """
    started = time.perf_counter()
    if detector not in ("hog", "cnn"):
        raise InvalidInput(f"unknown detector {detector!r}; use 'hog' or 'cnn'")
    if gc.dim not in (None, 128):
        raise InvalidInput(f"this database holds {gc.dim}-D vectors; photo ingest makes dlib's 128-D ones: "
                           "ingest the photos into another database")
    root_path, photos = find_photos(paths, root, exclude=[gc.crops.root])
    load_models(detector)  # a missing extra fails here, before any photo
    ledger = PhotoLedger(gc.crops.root / LEDGER_FILE)
    outcomes: list[PhotoOutcome | None] = [None] * len(photos)
    waiting: list[_Found] = []
    this_run: dict[str, str] = {}  # content hash -> path, for copies within one run
    try:
        for i, (rel, file) in enumerate(photos):
            step = _detect(gc, ledger, i, rel, file, detector, this_run)
            if isinstance(step, PhotoOutcome):
                outcomes[i] = step
            else:
                waiting.append(step)
                if sum(len(w.faces.faces) for w in waiting) >= batch_faces:
                    _add(gc, ledger, waiting, outcomes, detector)
            if progress is not None:
                progress(i + 1, len(photos))
        _add(gc, ledger, waiting, outcomes, detector)
    finally:
        ledger.close()
    report = PhotoReport(root=str(root_path), detector=detector, photos=[o for o in outcomes if o is not None])
    for o in report.photos:
        report.counts[o.outcome] = report.counts.get(o.outcome, 0) + 1
    report.faces_added = sum(o.faces for o in report.photos)
    report.seconds = time.perf_counter() - started
    return report


def _detect(gc: GraphCluster, ledger: PhotoLedger, index: int, rel: str, file: Path, detector: Detector,
            this_run: dict[str, str]) -> PhotoOutcome | _Found:
    """Read, hash and detect one photo: its final outcome, or the faces to add."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        return PhotoOutcome(path=rel, outcome="skipped", reason=f"cannot read the file ({exc.strerror or exc})")
    sha = hashlib.sha256(data).hexdigest()
    known = ledger.versions(rel) or _stored_versions(gc, rel)
    same = next((v for v in known if v.sha256 == sha), None)
    if same is not None:
        remade = _remake_missing_crops(gc, same, data, detector)
        return PhotoOutcome(path=rel, outcome="unchanged", sha256=sha, face_ids=same.face_ids,
                            reason=f"{remade} missing crops made again" if remade else None)
    twin = this_run.get(sha) or ledger.path_with(sha, rel)
    if not known and twin is not None:
        return PhotoOutcome(path=rel, outcome="skipped", sha256=sha,
                            reason=f"same content as {twin}, which is already ingested")
    try:
        found = read_faces(data, detector)
    except BadPhoto as exc:
        return PhotoOutcome(path=rel, outcome="skipped", sha256=sha, reason=str(exc))
    this_run.setdefault(sha, rel)
    # A changed photo's faces form a photo of their own (key "<path>@<hash>"): its people may
    # be the ones of the earlier content, so no same-image cannot-link may tie the two.
    image = f"{rel}@{sha[:12]}" if known else rel
    return _Found(index, rel, file, sha, image, found, sum(len(v.face_ids) for v in known))


def _add(gc: GraphCluster, ledger: PhotoLedger, waiting: list[_Found], outcomes: list[PhotoOutcome | None],
         detector: Detector) -> None:
    """Crops, then one ``add_faces`` call for the waiting photos, then their ledger rows."""
    if not waiting:
        return
    ids: list[str] = []
    vectors: list[np.ndarray] = []
    meta: list[dict[str, Any]] = []
    for w in waiting:
        for fid, f in zip(w.ids, w.faces.faces):
            gc.crops.put(fid, f.crop)
            ids.append(fid)
            vectors.append(f.vector)
            meta.append({"image": w.image, "source": str(w.file), "bbox": list(f.box), "quality": f.score,
                         "photo": w.rel, "sha256": w.sha256, "detector": detector,
                         "photo_size": [w.faces.width, w.faces.height], "orientation": w.faces.orientation})
    already = set(gc.add_faces(np.stack(vectors), ids=ids, metadata=meta).skipped) if ids else set()
    for w in waiting:
        face_ids = w.ids
        ledger.record(w.rel, Version(w.sha256, w.image, face_ids), detector)
        note = None if face_ids else "no face found"
        if w.image != w.rel:
            note = (f"new content: {len(face_ids)} faces found and added; the {w.earlier} faces of the earlier "
                    "content are kept with their decisions")
        outcomes[w.index] = PhotoOutcome(
            path=w.rel, outcome="changed" if w.image != w.rel else "added",
            faces=sum(f not in already for f in face_ids), face_ids=face_ids, sha256=w.sha256, reason=note)
    waiting.clear()


def _remake_missing_crops(gc: GraphCluster, version: Version, data: bytes, detector: Detector) -> int:
    """An unchanged photo whose crops were deleted: detect again and write the missing ones."""
    missing = {f for f in version.face_ids if not gc.crops.has(f)}
    if not missing:
        return 0
    try:
        found = read_faces(data, detector)
    except BadPhoto:
        return 0
    made = 0
    for face in found.faces:
        fid = f"{version.image}#{','.join(map(str, face.box))}"
        if fid in missing:
            gc.crops.put(fid, face.crop)
            made += 1
    return made
