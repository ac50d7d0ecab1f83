"""The index directory's manifest: which segments (and tombstones) and which log are current.

Steps:

1. ``read_manifest`` loads ``manifest.json`` (or describes an empty index) and checks that
   the directory holds the expected engine and dimension;
2. ``write_manifest`` replaces it atomically: temp file, fsync, ``os.replace``, directory
   fsync — a reader sees the old or the new set, never half of one;
3. ``remove_orphans`` deletes what an interrupted build or merge left behind: temp files and
   segment or log files the manifest does not name (files that are not ours are left alone).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from graphcluster.errors import InvalidInput, StoreError
from graphcluster.index._segment import fsync_dir

__all__ = ["MANIFEST", "FORMAT", "read_manifest", "write_manifest", "remove_orphans"]

MANIFEST = "manifest.json"
FORMAT = 1
_OURS = re.compile(r"^(seg-\d+\..*|delta-\d+\.log|\..*\.tmp)$")


def read_manifest(path: Path, engine: str, dim: int | None, fresh: bool = False) -> dict[str, Any]:
    """The manifest of ``path`` (an empty one if absent or ``fresh``).

    Raises:
        StoreError: unreadable manifest, or another engine's index.
        InvalidInput: ``dim`` differs from the stored dimension.
    """
    mpath = path / MANIFEST
    if fresh or not mpath.exists():
        return {"format": FORMAT, "engine": engine, "dim": dim, "segments": [], "log": None, "next": 1}
    try:
        man: dict[str, Any] = json.loads(mpath.read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(
            f"index manifest {mpath} is unreadable ({exc}); rebuild the index from stored vectors"
        ) from None
    if man.get("engine") != engine:
        raise StoreError(
            f"{path} holds a {man.get('engine')!r} index, not {engine!r}; "
            "open it with that kind or use another directory"
        )
    if dim is not None and man.get("dim") not in (None, dim):
        raise InvalidInput(f"{path} holds {man['dim']}-D vectors, not {dim}-D; use another directory for this model")
    return man


def write_manifest(path: Path, man: dict[str, Any]) -> None:
    """Replace ``path/manifest.json`` atomically and durably."""
    tmp = path / f".{MANIFEST}.tmp"
    with open(tmp, "w") as fh:
        json.dump(man, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path / MANIFEST)
    fsync_dir(path)


def remove_orphans(path: Path, segment_names: set[str], log_name: str | None) -> None:
    """Delete our files that the manifest does not name (leftovers of a crash)."""
    for entry in os.listdir(path):
        if not _OURS.match(entry) or entry == log_name:
            continue
        if entry.startswith("seg-") and entry.split(".", 1)[0] in segment_names:
            continue
        try:
            os.unlink(path / entry)
        except OSError:
            pass
