"""The segmented, durable index machinery shared by every engine (LSM-tree style).

Annoy takes no items after ``build()``, so the index is organised like an LSM tree (the
engines, ``segmented.py``/``hnsw.py``/``exact.py``, only choose how one segment is searched):

1. ``add`` validates the batch, appends it to the delta's write-ahead log (``_log.py``) and to
   an in-memory float32 matrix that is searched exactly with numpy.
2. When the delta reaches ``delta_size`` rows it is built into a new immutable segment
   (``_segment.py``: files written under temp names, fsync'd, renamed), the manifest is
   replaced atomically (temp file + ``os.replace`` + directory fsync) and a fresh log begins.
3. Tiered compaction: segments are grouped by size tier (``delta_size * merge_factor**t``);
   when a tier holds ``merge_factor`` segments they are merged into one of the next tier, and
   a segment with too many tombstones is rewritten. Each vector is therefore rebuilt about
   ``log_merge_factor(N / delta_size)`` times: the amortised cost per vector is bounded by a
   logarithm, and the number of segments a query visits stays logarithmic too.
4. ``query`` asks every segment for its top ``k`` (plus room for its tombstones), searches the
   delta exactly, merges by distance and drops tombstoned items. Annoy's angular distance is
   ``sqrt(2 - 2 cos)``, i.e. the L2 distance of unit vectors, so no conversion is needed.
5. ``delete`` removes a delta row at once and tombstones a segment item (logged, then kept in
   the manifest) until compaction drops it.
6. Opening reads the manifest, memory-maps the segments (no rebuild), replays the log, and
   deletes orphans of an interrupted build (temp files, segments the manifest does not name).

Concurrency: one writer per directory (an exclusive ``flock`` on ``LOCK``; a second opener gets
:class:`~graphcluster.errors.StoreBusy`). Within a process, every public method holds one
re-entrant lock, so threads may share an instance; a segment build blocks queries meanwhile.
"""

from __future__ import annotations

import fcntl
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphcluster.errors import InvalidInput, NotFound, StoreBusy, StoreError
from graphcluster.index._delta import Delta
from graphcluster.index._log import ADD, DeltaLog
from graphcluster.index._manifest import FORMAT, MANIFEST, read_manifest, remove_orphans, write_manifest
from graphcluster.index._segment import Segment, encode_ids
from graphcluster.index.validate import ensure_unit, listing, validate_ids, validate_vectors

__all__ = ["SegmentedIndex", "DELTA_BYTES"]

DELTA_BYTES = 10_240_000  # default delta budget: its exact scan stays ~1 ms per query



class SegmentedIndex:
    """Segments + delta + manifest; subclasses choose how a segment is searched."""

    engine = "segmented"
    _kind = "exact"  # how a segment is searched: "annoy" | "hnsw" | "exact"
    _fresh = False  # set by rebuild(): ignore an existing manifest

    def __init__(
        self,
        path: str | os.PathLike[str],
        dim: int | None = None,
        *,
        delta_size: int | None = None,
        merge_factor: int = 4,
        max_dead_fraction: float = 0.2,
        build_jobs: int = -1,
        seed: int = 0,
        **params: Any,
    ) -> None:
        if (delta_size is not None and delta_size < 1) or merge_factor < 2:
            raise InvalidInput(f"delta_size must be >= 1 and merge_factor >= 2; got {delta_size}, {merge_factor}")
        import threading

        self._mutex = threading.RLock()
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._params = params  # engine-specific: n_trees, search_k, search_fraction, hnsw_m, ...
        # the distance below which neighbours matter to the owner (graphcluster: the ``review``
        # threshold); a segment built while it is set calibrates its search effort to the recall
        # of neighbours that close (``_calibrate.py``) instead of recall@10
        self.recall_radius: float | None = None
        self._delta_size = delta_size
        self.merge_factor = merge_factor
        self.max_dead_fraction = max_dead_fraction
        self.build_jobs = build_jobs
        self.seed = seed
        self._lock_fd = os.open(self.path / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise StoreBusy(
                f"another process (or another open index object) is writing to {self.path}; close it first"
            ) from None
        try:
            self._open(dim)
        except BaseException:
            self._release()
            raise

    # ---------------------------------------------------------------- opening and durability
    def _open(self, dim: int | None) -> None:
        fresh = self._fresh
        man = read_manifest(self.path, self.engine, dim, fresh)
        self.dim: int | None = man["dim"] if man["dim"] is not None else dim
        self._next: int = man["next"]
        self._log_name: str | None = man["log"]
        remove_orphans(self.path, {s["name"] for s in man["segments"]}, self._log_name)
        try:
            self._segments = [
                Segment(self.path, s["name"], int(man["dim"]), self._kind, set(s.get("dead", ())))
                for s in man["segments"]
            ]
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"a segment named by {self.path / MANIFEST} is missing or damaged ({exc}); "
                "rebuild the index from stored vectors"
            ) from None
        self._seg_meta = {s["name"]: s.get("built", {}) for s in man["segments"]}
        for seg in self._segments:
            self._prepare(seg, self._seg_meta[seg.name])
        self._reset_delta()
        self._log: DeltaLog | None = None
        if self.dim is not None:
            if self._log_name is None:
                self._log_name = self._take_name("delta", ".log")
            self._log = DeltaLog(self.path / self._log_name, self.dim)
            for kind, ids, vec in self._log.replay():
                if kind == ADD:
                    assert vec is not None
                    self._delta.append(ids, vec)
                else:
                    self._apply_delete(ids)
        if fresh or not (self.path / MANIFEST).exists() or man["dim"] != self.dim or man["log"] != self._log_name:
            self._commit()

    @property
    def delta_size(self) -> int:
        """Rows kept in the delta; by default a 10 MB budget (20,000 x 128-D, 5,000 x 512-D),
        because every query scans the whole delta."""
        if self._delta_size is not None:
            return self._delta_size
        return max(1_000, DELTA_BYTES // (4 * (self.dim or 128)))

    def _take_name(self, prefix: str, suffix: str = "") -> str:
        name = f"{prefix}-{self._next:06d}{suffix}"
        self._next += 1
        return name

    def _commit(self) -> None:
        """Replace the manifest atomically with the current segment set and log name."""
        man = {
            "format": FORMAT,
            "engine": self.engine,
            "dim": self.dim,
            "metric": "angular (L2 on unit vectors)",
            "segments": [
                {"name": s.name, "n": s.n, "built": self._seg_meta.get(s.name, {}), "dead": sorted(s.dead)}
                for s in self._segments
            ],
            "log": self._log_name,
            "next": self._next,
        }
        write_manifest(self.path, man)

    # ---------------------------------------------------------------- the delta
    def _reset_delta(self) -> None:
        self._delta = Delta(self.dim or 0, self.delta_size)

    def _apply_delete(self, ids: Sequence[str]) -> list[str]:
        """Remove from the delta (swap with the last row) or tombstone in a segment."""
        done, rest = self._delta.remove(list(ids))
        if rest:
            enc = encode_ids(rest)
            for seg in self._segments:
                items = seg.lookup(enc)
                hit = items >= 0
                if hit.any():
                    seg.kill(items[hit].tolist())
                    done.extend(np.asarray(rest)[hit].tolist())
        return done

    # ---------------------------------------------------------------- segment builds
    def _prepare(self, seg: Segment, built: dict[str, Any]) -> None:
        """Set a loaded segment's search parameters from its manifest entry (engine hook)."""

    def _tune(self, seg: Segment) -> dict[str, Any]:
        """Search parameters calibrated on a new segment, recorded in the manifest (engine hook)."""
        return {}

    def _build_opts(self) -> dict[str, Any]:
        """Build parameters of a new segment (recorded in the manifest)."""
        return {}

    def _write_segment(self, ids: np.ndarray, vectors: np.ndarray, extend: Segment | None = None) -> Segment:
        assert self.dim is not None
        name = self._take_name("seg")
        built = self._build_opts()
        Segment.write(
            self.path, name, ids, vectors, kind=self._kind, n_jobs=self.build_jobs, seed=self.seed,
            extend=extend, **built,
        )
        seg = Segment(self.path, name, self.dim, self._kind)
        built.update(self._tune(seg))  # before tombstones: calibration samples every item
        self._seg_meta[name] = built
        self._prepare(seg, built)
        if extend is not None:
            seg.kill(sorted(extend.dead))
        return seg

    def _roll(self) -> None:
        """Build the delta into a segment, start an empty log, commit, then compact by tier."""
        if self._delta.n == 0 or self.dim is None:
            return
        seg = self._write_segment(encode_ids(self._delta.ids), self._delta.vectors)
        old_log = self._log
        self._log_name = self._take_name("delta", ".log")
        self._log = DeltaLog(self.path / self._log_name, self.dim)
        self._segments.append(seg)
        self._commit()
        if old_log is not None:
            old_log.close()
            os.unlink(old_log.path)
        self._reset_delta()
        self._merge_tiers()

    def _tier(self, n: int) -> int:
        return max(0, int(math.floor(math.log(max(n, 1) / self.delta_size, self.merge_factor) + 1e-9)))

    def _merge_tiers(self) -> None:
        while True:
            tiers: dict[int, list[Segment]] = {}
            for s in self._segments:
                tiers.setdefault(self._tier(s.live), []).append(s)
            full = [t for t, group in tiers.items() if len(group) >= self.merge_factor]
            if full:
                self._merge(tiers[min(full)])
                continue
            dirty = [s for s in self._segments if s.n and len(s.dead) > self.max_dead_fraction * s.n]
            if dirty:
                self._merge(dirty[:1])
                continue
            return

    def _merge(self, group: list[Segment], purge: bool = False) -> None:
        """Replace ``group`` by one segment of their live vectors (dead items dropped).

        An hnsw segment extends the group's largest member when it has few tombstones (only the
        others are inserted); every other case writes the live vectors afresh.
        """
        ids_parts, vec_parts = [], []
        extend = None
        if self._kind == "hnsw" and len(group) > 1:
            largest = max(group, key=lambda s: s.n)
            if len(largest.dead) <= (0 if purge else self.max_dead_fraction * largest.n):
                extend = largest
        for s in group:
            if s is extend:
                continue
            live = s.live_items()
            ids_parts.append(np.asarray(s.item_ids[live]))
            vec_parts.append(np.asarray(s.vectors[live]))
        ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, "S1")
        gone = {s.name for s in group}
        keep = [s for s in self._segments if s.name not in gone]
        if len(ids) or extend is not None:
            vecs = np.concatenate(vec_parts) if vec_parts else np.zeros((0, self.dim or 0), np.float32)
            keep.append(self._write_segment(ids, vecs, extend))
        self._segments = keep
        self._commit()
        for s in group:
            s.close()  # unmap before unlinking
            Segment.remove(self.path, s.name)
            self._seg_meta.pop(s.name, None)

    # ---------------------------------------------------------------- public API
    def __len__(self) -> int:
        with self._mutex:
            return self._delta.n + sum(s.live for s in self._segments)

    def __contains__(self, face_id: object) -> bool:
        if not isinstance(face_id, str):
            return False
        with self._mutex:
            return bool(self._locate([face_id])[0][0] >= -1)

    def __enter__(self) -> SegmentedIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _locate(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per id: (-1, row) in the delta, (segment number, item), or (-2, -1) if unknown."""
        where = np.full(len(ids), -2, dtype=np.int64)
        pos = np.full(len(ids), -1, dtype=np.int64)
        rest = []
        for i, face in enumerate(ids):
            row = self._delta.pos.get(face)
            if row is None:
                rest.append(i)
            else:
                where[i], pos[i] = -1, row
        if rest and self._segments:
            idx = np.asarray(rest)
            enc = encode_ids([ids[i] for i in rest])
            for si, seg in enumerate(self._segments):
                todo = where[idx] == -2
                if not todo.any():
                    break
                items = seg.lookup(enc[todo])
                found = items >= 0
                sel = idx[todo][found]
                where[sel], pos[sel] = si, items[found]
        return where, pos

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Add new faces.

        Args:
            ids: one new, unique string id per row.
            vectors: ``(n, d)`` embeddings; validated and L2-normalised here unless they are
                what ``validate_vectors`` returned for this dimension.

        Raises:
            InvalidInput: bad vectors or ids, or an id already in the index (named); nothing
                is written.
        """
        with self._mutex:
            vec = ensure_unit(vectors, ids=ids, dim=self.dim)
            id_list = list(ids)
            if not id_list:
                return
            where, _ = self._locate(id_list)
            old = np.flatnonzero(where != -2).tolist()
            if old:
                raise InvalidInput(
                    f"{len(old)} id(s) are already in the index: {listing([id_list[i] for i in old])} "
                    f"(rows {listing(old)}); delete them first to replace their vectors",
                    rows=old,
                    ids=[id_list[i] for i in old],
                )
            if self.dim is None:
                self.dim = vec.shape[1]
                self._reset_delta()
                self._log_name = self._take_name("delta", ".log")
                self._log = DeltaLog(self.path / self._log_name, self.dim)
                self._commit()
            assert self._log is not None
            self._log.append_add(id_list, vec)
            self._delta.append(id_list, vec)
            if self._delta.n >= self.delta_size:
                self._roll()

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The immutable segments, oldest first (read them; the index owns them). A benchmark
        may set a segment's ``scan_fraction`` to measure Annoy against the exact scan."""
        return tuple(self._segments)

    def _search_k(self, seg: Segment, kk: int) -> int:
        return 0  # only Annoy segments use it

    def query(self, vectors: np.ndarray, k: int) -> tuple[list[list[str]], list[np.ndarray]]:
        """The ``k`` nearest live faces of each query row.

        Args:
            vectors: ``(m, d)`` query embeddings (checked and normalised here unless
                ``validate_vectors`` returned them).
            k: neighbours wanted per row (fewer come back if the index holds fewer).

        Returns:
            ``(ids, distances)``: per row a list of ids and a float32 array of L2 distances,
            ascending.
        """
        if k < 1:
            raise InvalidInput(f"k must be >= 1, got {k}")
        with self._mutex:
            q = ensure_unit(vectors, dim=self.dim)
            m = q.shape[0]
            dist_parts: list[np.ndarray] = []
            src_parts: list[np.ndarray] = []
            item_parts: list[np.ndarray] = []
            for si, seg in enumerate(self._segments):
                # an Annoy search returns tombstoned items too: ask for room to drop them (a scan masks them)
                kk = k if seg.hnsw is not None else k + min(len(seg.dead), 2 * k)
                items, dists = seg.search(q, kk, self._search_k(seg, kk))
                while seg.dead:
                    gone = np.isin(items, seg.dead_array())
                    dists[gone] = np.inf
                    # a query near many tombstones can come back short of live items: ask for more
                    live_found = ((items >= 0) & ~gone).sum(axis=1)
                    if kk >= seg.n or not (live_found < min(k, seg.live)).any():
                        break
                    kk = min(seg.n, 4 * kk)
                    items, dists = seg.search(q, kk, self._search_k(seg, kk))
                dist_parts.append(dists)
                item_parts.append(items)
                src_parts.append(np.full(items.shape, si, dtype=np.int64))
            if self._delta.n:
                items, dists = self._delta.search(q, k)
                dist_parts.append(dists)
                item_parts.append(items)
                src_parts.append(np.full(items.shape, -1, dtype=np.int64))
            if not dist_parts:
                return [[] for _ in range(m)], [np.zeros(0, np.float32) for _ in range(m)]
            dist = np.concatenate(dist_parts, axis=1)
            item = np.concatenate(item_parts, axis=1)
            src = np.concatenate(src_parts, axis=1)
            order = np.argsort(dist, axis=1, kind="stable")[:, :k]
            out_ids: list[list[str]] = []
            out_d: list[np.ndarray] = []
            for r in range(m):
                row_d = dist[r, order[r]]
                n_ok = int(np.searchsorted(row_d, np.inf))
                names = []
                for j in order[r, :n_ok]:
                    s, it = src[r, j], item[r, j]
                    names.append(self._delta.ids[it] if s < 0 else self._segments[s].item_ids[it].decode("utf-8"))
                out_ids.append(names)
                out_d.append(row_d[:n_ok].astype(np.float32))
            return out_ids, out_d

    def get_vectors(self, ids: Sequence[str]) -> np.ndarray:
        """Stored unit vectors in the order of ``ids``.

        Raises:
            NotFound: naming the ids the index does not hold.
        """
        with self._mutex:
            id_list = list(ids)
            where, pos = self._locate(id_list)
            missing = np.flatnonzero(where == -2).tolist()
            if missing:
                raise NotFound(f"{len(missing)} id(s) not in the index: {listing([id_list[i] for i in missing])}")
            out = np.zeros((len(id_list), self.dim or 0), dtype=np.float32)
            for i, (w, p) in enumerate(zip(where.tolist(), pos.tolist())):
                out[i] = self._delta.vectors[p] if w == -1 else self._segments[w].vectors[p]
            return out

    def ids(self) -> Iterator[str]:
        """Every live id (segments first, then the delta)."""
        with self._mutex:
            segs = list(self._segments)
            delta = list(self._delta.ids)
        for seg in segs:
            for raw in seg.item_ids[seg.live_items()]:
                yield raw.decode("utf-8")
        yield from delta

    def delete(self, ids: Sequence[str]) -> None:
        """Remove faces (unknown ids are ignored); segment items become tombstones."""
        with self._mutex:
            id_list = validate_ids(list(dict.fromkeys(ids)))
            done = self._apply_delete(id_list)
            if done and self._log is not None:
                self._log.append_delete(done)

    def flush(self) -> None:
        """Make every add and delete durable (fsync the delta log)."""
        with self._mutex:
            if self._log is not None:
                self._log.sync()

    def compact(self) -> None:
        """Build the delta into a segment and merge every segment into one, dropping every tombstone."""
        with self._mutex:
            self._roll()
            if len(self._segments) > 1 or any(s.dead for s in self._segments):
                self._merge(list(self._segments), purge=True)

    def close(self) -> None:
        """Flush and release the directory (idempotent)."""
        with self._mutex:
            if self._lock_fd < 0:
                return
            try:
                if self._log is not None:
                    self._log.sync()
                    self._log.close()
            finally:
                for s in self._segments:
                    s.close()
                self._release()

    def _release(self) -> None:
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = -1

    def info(self) -> dict[str, Any]:
        """Engine, sizes, segments and tuning: shown by ``stats()``."""
        with self._mutex:
            return {
                "engine": self.engine,
                "path": str(self.path),
                "dim": self.dim,
                "live": len(self),
                "delta": self._delta.n,
                "segments": [s.n for s in self._segments],
                "tombstones": sum(len(s.dead) for s in self._segments),
                "params": dict(self._params),
                "delta_size": self.delta_size,
                "merge_factor": self.merge_factor,
            }

    @classmethod
    def rebuild(
        cls, path: str | os.PathLike[str], ids: Sequence[str], vectors: np.ndarray, **opts: Any
    ) -> SegmentedIndex:
        """Create a fresh index at ``path`` from stored vectors, as one segment.

        Any index files already in ``path`` are replaced (other files are left alone).

        Raises:
            InvalidInput: bad vectors or ids (nothing is written).
        """
        vec = validate_vectors(vectors, ids=ids, dim=opts.get("dim"))
        opts["dim"] = vec.shape[1]
        index = cls.__new__(cls)
        index._fresh = True  # ignore an existing manifest: its files become orphans, cleaned on open
        index.__init__(path, **opts)  # type: ignore[misc]
        index._fresh = False
        with index._mutex:
            if len(vec):
                index._segments.append(index._write_segment(encode_ids(list(ids)), vec))
                index._commit()
        return index
