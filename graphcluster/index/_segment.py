"""One immutable segment of the index: vectors, ids and (for Annoy) a forest, on disk.

Files of segment ``seg-000042`` (all written to ``.<file>.tmp``, fsync'd, then renamed):

- ``seg-000042.vec.npy``  float32 ``(n, d)`` unit rows, item order (memory-mapped);
- ``seg-000042.ids.npy``  UTF-8 ids as fixed-width bytes, item order (item -> id);
- ``seg-000042.keys.npy`` the same ids sorted, and ``.kidx.npy`` their items (id -> item by
  binary search, so opening needs no dict of every id);
- ``seg-000042.ann``      kind ``annoy``: the Annoy forest (angular metric), memory-mapped;
- ``seg-000042.hnsw``     kind ``hnsw``: an hnswlib graph (L2), read into memory on open.

Annoy's angular distance is ``sqrt(2 - 2 cos)``, which on unit vectors *is* the L2 distance,
so its distances are returned unchanged; hnswlib's ``l2`` space returns squared L2 (square
root taken). Kind ``exact`` has no search structure: a matrix product over the vectors.
An Annoy search asked to inspect at least ``SCAN_FRACTION`` of its segment scans the vectors
instead (exact, and cheaper at that effort). Tombstones (``dead`` items) are masked before a
scan's top-k, filtered by the owner after an Annoy search, or marked deleted inside the graph
(hnsw). An hnsw segment can be *extended*: a merge loads the
largest member's graph and inserts only the others, so a vector is not re-inserted each time
its segment is merged.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from annoy import AnnoyIndex

__all__ = ["Segment", "encode_ids", "fsync_dir", "save_npy"]

PARALLEL_MIN_QUERIES = 64  # smaller batches are not worth a hand-over to the threads
# An Annoy search whose effort reaches this share of its segment is replaced by a scan of the
# segment's stored vectors (one matrix product per block of queries, ``top_columns``): exact,
# and cheaper from about here on. Annoy's cost grows with the candidates it collects
# (``search_k``), a scan's with the segment; benchmarks/annoy_scan.py measured the two equal
# at a share of 0.03-0.1 (1,000 queries, segments of 80k and 320k, 128-D), where Annoy's
# recall@10 is 0.87-0.92. On face-like data the calibrated effort is far past this point
# (docs/benchmarks/annoy_scan.md), so large segments are scanned.
SCAN_FRACTION = 0.05
_WORKERS = min(8, os.cpu_count() or 1)
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The process-wide threads that run Annoy searches (created on first use)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="graphcluster-annoy")
        return _POOL


SUFFIXES = (".vec.npy", ".ids.npy", ".keys.npy", ".kidx.npy", ".ann", ".hnsw")
KINDS = ("annoy", "hnsw", "exact")


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

    def __init__(self, directory: Path, name: str, dim: int, kind: str, dead: set[int] | None = None) -> None:
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
        self.kind = kind
        self.ef = 64  # hnsw: candidate list size, set by the owner (calibrated or given)
        self.search_k: int | None = None  # annoy: calibrated nodes per query for k = 10
        # an Annoy search asked to inspect this share of the segment or more scans it instead
        self.scan_fraction = SCAN_FRACTION
        self.ann: AnnoyIndex | None = None
        self.hnsw: Any = None
        if kind == "annoy":
            self.ann = AnnoyIndex(dim, "angular")
            self.ann.load(f"{base}.ann")  # mmap: cheap, pages come in on demand
        elif kind == "hnsw":
            self.hnsw = _load_hnsw(Path(f"{base}.hnsw"), dim, self.n)
            for item in self.dead:
                self.hnsw.mark_deleted(item)

    @staticmethod
    def write(
        directory: Path,
        name: str,
        ids: np.ndarray,
        vectors: np.ndarray,
        *,
        kind: str,
        n_trees: int = 50,
        n_jobs: int = -1,
        seed: int = 0,
        hnsw_m: int = 16,
        ef_construction: int = 100,
        extend: Segment | None = None,
    ) -> None:
        """Write a segment's files under temp names, fsync them and rename them into place.

        With ``extend`` (kind ``hnsw``), the new segment is ``extend``'s items (same numbers,
        tombstones kept) followed by ``ids``/``vectors``, and only the latter are inserted.
        """
        base = directory / name
        if extend is not None:
            ids = np.concatenate([np.asarray(extend.item_ids), ids])
            vectors = np.concatenate([np.asarray(extend.vectors), vectors])
        order = np.argsort(ids, kind="stable")
        save_npy(Path(f"{base}.vec.npy"), np.ascontiguousarray(vectors, dtype=np.float32))
        save_npy(Path(f"{base}.ids.npy"), ids)
        save_npy(Path(f"{base}.keys.npy"), ids[order])
        save_npy(Path(f"{base}.kidx.npy"), order.astype(np.int64))
        if kind == "hnsw":
            _write_hnsw(directory, name, vectors, extend, n_jobs=n_jobs, seed=seed, m=hnsw_m, efc=ef_construction)
        if kind == "annoy":
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
        if self.hnsw is not None:
            for item in items:
                self.hnsw.mark_deleted(item)

    def close(self) -> None:
        """Drop the search structure (unmaps Annoy's file)."""
        if self.ann is not None:
            self.ann.unload()
        self.ann = self.hnsw = None

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
        if self.ann is not None and search_k < self.scan_fraction * self.n:
            ann = self.ann

            def one(r: int) -> tuple[int, list[int], list[float]]:
                got, dd = ann.get_nns_by_vector(queries[r].tolist(), kk, search_k, True)
                return r, got, dd

            # Annoy releases the GIL while it searches: a batch runs on every core
            rows = (map(one, range(m)) if m < PARALLEL_MIN_QUERIES or _WORKERS < 2
                    else _pool().map(one, range(m), chunksize=max(1, m // (4 * _WORKERS))))
            for r, got, dd in rows:
                items[r, : len(got)] = got
                dists[r, : len(dd)] = dd
            return items, dists
        if self.hnsw is not None:
            kk = min(kk, self.live)
            if kk == 0:
                return items[:, :0], dists[:, :0]
            self.hnsw.set_ef(max(self.ef, kk))
            # hnswlib searches a batch on its own threads (each query's answer is the same)
            threads = _WORKERS if m >= PARALLEL_MIN_QUERIES else 1
            labels, sq = self.hnsw.knn_query(queries, kk, num_threads=threads)
            return labels.astype(np.int64), np.sqrt(np.maximum(sq, 0.0)).astype(np.float32)
        return exact_topk(self.vectors, queries, kk, dead=self.dead_array() if self.dead else None)


def _load_hnsw(path: Path, dim: int, n: int) -> Any:
    import hnswlib

    index = hnswlib.Index(space="l2", dim=dim)
    index.load_index(str(path), max_elements=n)
    return index


def _write_hnsw(
    directory: Path, name: str, vectors: np.ndarray, extend: Segment | None, *, n_jobs: int, seed: int,
    m: int, efc: int,
) -> None:
    import hnswlib

    n, dim = vectors.shape
    if extend is not None:
        index = _load_hnsw(directory / f"{extend.name}.hnsw", dim, extend.n)
        index.resize_index(n)  # tombstones are re-marked from the manifest on load
        start = extend.n
    else:
        index = hnswlib.Index(space="l2", dim=dim)
        index.init_index(max_elements=max(n, 1), ef_construction=efc, M=m, random_seed=seed)
        start = 0
    if n > start:
        index.add_items(vectors[start:], np.arange(start, n), num_threads=n_jobs)
    tmp = directory / f".{name}.hnsw.tmp"
    index.save_index(str(tmp))
    _fsync_file(tmp)
    os.replace(tmp, directory / f"{name}.hnsw")


def exact_topk(
    matrix: np.ndarray, queries: np.ndarray, kk: int, *, dead: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top ``kk`` rows of ``matrix`` by L2 distance (all rows unit length).

    Rows numbered in ``dead`` (tombstones) come last, at distance inf, so they never push a
    live row out. Similarities are computed in blocks of at most 128 MB (the partition's index
    arrays take about twice that again at the peak).
    """
    rows = max(1, (1 << 25) // max(1, matrix.shape[0]))
    if queries.shape[0] > rows:
        parts = [_exact_block(matrix, queries[i : i + rows], kk, dead) for i in range(0, queries.shape[0], rows)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return _exact_block(matrix, queries, kk, dead)


def _exact_block(
    matrix: np.ndarray, queries: np.ndarray, kk: int, dead: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    kk = min(kk, matrix.shape[0])
    sims = queries @ matrix.T
    if dead is not None and dead.size:
        sims[:, dead] = -np.inf
    part = top_columns(sims, kk)
    psims = np.take_along_axis(sims, part, axis=1)
    order = np.lexsort((part, -psims), axis=1)  # by similarity; bitwise-equal ties by item number
    items = np.take_along_axis(part, order, axis=1).astype(np.int64)
    cos = np.take_along_axis(psims, order, axis=1)
    dists = np.sqrt(np.maximum(2.0 - 2.0 * cos, 0.0)).astype(np.float32)
    return items, dists


_CHUNK = 32  # columns per chunk in top_columns' first pass


def top_columns(sims: np.ndarray, kk: int) -> np.ndarray:
    """Column numbers of the ``kk`` largest entries of each row of ``sims``, in no order.

    A full ``argpartition`` of every row costs most of an exact search. Instead: the maximum of
    each run of ``_CHUNK`` columns (one pass), the ``kk`` chunks with the largest maxima, and a
    partition of only their columns (plus the columns after the last whole chunk). Exact: a
    chunk holding one of the ``kk`` largest entries has a maximum at least that entry, and
    every chunk with a larger maximum holds a larger entry, of which there are fewer than
    ``kk``; so the chunk is among the chosen. Which of several equal entries at the ``kk``-th
    place is kept is arbitrary.
    """
    m, n = sims.shape
    if kk <= 0:
        return np.zeros((m, 0), dtype=np.int64)
    if kk >= n:
        return np.broadcast_to(np.arange(n), (m, n)).copy()
    chunks = n // _CHUNK
    if chunks < 8 * kk:  # too few chunks to save anything
        return np.argpartition(sims, n - kk, axis=1)[:, n - kk:]
    whole = chunks * _CHUNK
    peaks = sims[:, :whole].reshape(m, chunks, _CHUNK).max(axis=2)
    best = np.argpartition(peaks, chunks - kk, axis=1)[:, chunks - kk:]
    cand = (best[:, :, None] * _CHUNK + np.arange(_CHUNK)).reshape(m, kk * _CHUNK)
    if whole < n:
        cand = np.concatenate([cand, np.broadcast_to(np.arange(whole, n), (m, n - whole))], axis=1)
    csims = np.take_along_axis(sims, cand, axis=1)
    pick = np.argpartition(csims, csims.shape[1] - kk, axis=1)[:, csims.shape[1] - kk:]
    return np.take_along_axis(cand, pick, axis=1)
