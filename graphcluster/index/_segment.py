"""One immutable segment of the index: vectors, ids and (for Annoy) a forest, on disk.

Files of segment ``seg-000042`` (all written to ``.<file>.tmp``, fsync'd, then renamed):

- ``seg-000042.vec.npy``  float32 ``(n, d)`` unit rows, item order (memory-mapped);
- ``seg-000042.ids.npy``  UTF-8 ids as fixed-width bytes, item order (item -> id);
- ``seg-000042.keys.npy`` the same ids sorted, and ``.kidx.npy`` their items (id -> item by
  binary search, so opening needs no dict of every id);
- ``seg-000042.ann``      the Annoy forest (angular metric), memory-mapped by ``load``.

Annoy's angular distance is ``sqrt(2 - 2 cos)``, which on unit vectors *is* the L2 distance,
so its distances are returned unchanged. Exact segments (no ``.ann``) are searched by a matrix
product. Tombstones (``dead`` items) are kept by the owner and filtered after the search.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

__all__ = ["Segment", "encode_ids", "fsync_dir", "save_npy"]

SUFFIXES = (".vec.npy", ".ids.npy", ".keys.npy", ".kidx.npy", ".ann")


def encode_ids(ids: list[str]) -> np.ndarray:
    """Ids as a fixed-width bytes array (ids hold no NUL, so numpy's padding is lossless)."""
    return np.array([s.encode("utf-8") for s in ids], dtype=np.bytes_) if ids else np.zeros(0, "S1")


def fsync_dir(directory: Path) -> None:
    """Make renames inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` atomically (temp file, fsync, rename)."""
    tmp = path.with_name("." + path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Segment:
    """A read-only, memory-mapped segment."""

    def __init__(self, directory: Path, name: str, dim: int, annoy: bool, dead: set[int] | None = None) -> None:
        self.name = name
        self.dim = dim
        base = directory / name
        self.vectors: np.ndarray = np.load(f"{base}.vec.npy", mmap_mode="r")
        self.item_ids: np.ndarray = np.load(f"{base}.ids.npy", mmap_mode="r")
        self.keys: np.ndarray = np.load(f"{base}.keys.npy", mmap_mode="r")
        self.key_items: np.ndarray = np.load(f"{base}.kidx.npy", mmap_mode="r")
        self.n = int(self.vectors.shape[0])
        self.dead: set[int] = set(dead or ())
        self._dead_arr: np.ndarray | None = None
        self.ann: AnnoyIndex | None = None
        if annoy:
            self.ann = AnnoyIndex(dim, "angular")
            self.ann.load(f"{base}.ann")  # mmap: cheap, pages come in on demand

    @staticmethod
    def write(
        directory: Path,
        name: str,
        ids: np.ndarray,
        vectors: np.ndarray,
        *,
        annoy: bool,
        n_trees: int,
        n_jobs: int,
        seed: int,
    ) -> None:
        """Write a segment's files under temp names, fsync them and rename them into place."""
        base = directory / name
        order = np.argsort(ids, kind="stable")
        save_npy(Path(f"{base}.vec.npy"), np.ascontiguousarray(vectors, dtype=np.float32))
        save_npy(Path(f"{base}.ids.npy"), ids)
        save_npy(Path(f"{base}.keys.npy"), ids[order])
        save_npy(Path(f"{base}.kidx.npy"), order.astype(np.int64))
        if annoy:
            ann = AnnoyIndex(vectors.shape[1], "angular")
            ann.set_seed(seed)
            for i, v in enumerate(np.asarray(vectors, dtype=np.float32).tolist()):
                ann.add_item(i, v)
            ann.build(n_trees, n_jobs=n_jobs)
            tmp = directory / f".{name}.ann.tmp"
            ann.save(str(tmp))
            ann.unload()
            _fsync_file(tmp)
            os.replace(tmp, f"{base}.ann")

    @staticmethod
    def remove(directory: Path, name: str) -> None:
        """Delete a segment's files (missing ones are fine)."""
        for suffix in SUFFIXES:
            try:
                os.unlink(directory / f"{name}{suffix}")
            except FileNotFoundError:
                pass

    @property
    def live(self) -> int:
        return self.n - len(self.dead)

    def kill(self, items: list[int]) -> None:
        """Tombstone items."""
        self.dead.update(items)
        self._dead_arr = None

    def dead_array(self) -> np.ndarray:
        if self._dead_arr is None:
            self._dead_arr = np.fromiter(sorted(self.dead), dtype=np.int64, count=len(self.dead))
        return self._dead_arr

    def lookup(self, enc: np.ndarray) -> np.ndarray:
        """Live item of each encoded id, or -1."""
        if self.n == 0 or enc.size == 0:
            return np.full(enc.shape[0], -1, dtype=np.int64)
        pos = np.searchsorted(self.keys, enc)
        pos_c = np.minimum(pos, self.n - 1)
        hit = self.keys[pos_c] == enc
        items = np.where(hit, self.key_items[pos_c], -1).astype(np.int64)
        if self.dead and hit.any():
            items[np.isin(items, self.dead_array())] = -1
        return items

    def live_items(self) -> np.ndarray:
        """Item numbers not tombstoned."""
        if not self.dead:
            return np.arange(self.n, dtype=np.int64)
        mask = np.ones(self.n, dtype=bool)
        mask[self.dead_array()] = False
        return np.flatnonzero(mask)

    def search(self, queries: np.ndarray, kk: int, search_k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``kk`` items and L2 distances per query row; padded with -1 / inf."""
        m = queries.shape[0]
        kk = min(kk, self.n)
        items = np.full((m, kk), -1, dtype=np.int64)
        dists = np.full((m, kk), np.inf, dtype=np.float32)
        if kk == 0:
            return items, dists
        if self.ann is not None:
            for r in range(m):
                got, dd = self.ann.get_nns_by_vector(queries[r].tolist(), kk, search_k, True)
                items[r, : len(got)] = got
                dists[r, : len(dd)] = dd
            return items, dists
        return exact_topk(self.vectors, queries, kk)


def exact_topk(matrix: np.ndarray, queries: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top ``kk`` rows of ``matrix`` by L2 distance (all rows unit length)."""
    kk = min(kk, matrix.shape[0])
    sims = queries @ matrix.T
    if kk < matrix.shape[0]:
        part = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
    else:
        part = np.broadcast_to(np.arange(matrix.shape[0]), (queries.shape[0], kk)).copy()
    psims = np.take_along_axis(sims, part, axis=1)
    order = np.argsort(-psims, axis=1, kind="stable")
    items = np.take_along_axis(part, order, axis=1).astype(np.int64)
    cos = np.take_along_axis(psims, order, axis=1)
    dists = np.sqrt(np.maximum(2.0 - 2.0 * cos, 0.0)).astype(np.float32)
    return items, dists
