"""Face crops: one small JPEG per face that came from a photo, kept in a folder beside the store.

Why files and not the store: a 150x150 JPEG is 5-10 KB, so a million faces hold 5-10 GB of
crops. In SQLite or on Neo4j nodes that would bloat every backup, page cache and Cypher scan
that has nothing to do with pictures; as files they are served straight to the review page
and can be deleted and re-made from the photos at any time (``graphcluster ingest-photos``
writes a missing crop again). Faces that arrived as vectors have no crop.

Layout: ``<root>/<h[:2]>/<h>.jpg`` where ``h`` is the SHA-256 of the face id, so no face id
(``../../etc/passwd``, ``<script>``, 10,000 characters) ever becomes a path, and no folder
holds more than 1/256 of the files. A crop is written to a temporary file in the same folder
and renamed, so a reader (or a crash) never sees half a JPEG.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["CropStore"]


class CropStore:
    """The crops folder of one graphcluster database."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, face_id: str) -> Path:
        """Where the crop of ``face_id`` is (or would be) kept."""
        h = hashlib.sha256(face_id.encode("utf-8")).hexdigest()
        return self.root / h[:2] / f"{h}.jpg"

    def has(self, face_id: str) -> bool:
        return self.path(face_id).is_file()

    def get(self, face_id: str) -> bytes | None:
        """The crop's JPEG bytes, or None when the face has no crop."""
        try:
            return self.path(face_id).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, face_id: str, jpeg: bytes) -> Path:
        """Store (or replace) the crop of ``face_id`` atomically; returns its path."""
        dest = self.path(face_id)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-", suffix=".jpg")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(jpeg)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest

    def delete(self, face_id: str) -> None:
        self.path(face_id).unlink(missing_ok=True)
