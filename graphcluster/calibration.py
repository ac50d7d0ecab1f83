"""When thresholds are (re)calibrated, and where the values are kept.

The statistics live in ``graphcluster.clustering`` (``calibrate``, ``refine_thresholds``);
this module is the engine's policy around them:

1. An explicit ``Settings.threshold`` wins, always.
2. Otherwise, while the database is young (fewer than ``WARMUP`` faces), every batch
   re-calibrates from the kNN distances of a sample of the stored faces. When the link
   threshold moves by more than ``RESHUFFLE`` (relative), everything clustered so far is
   re-clustered once with the new values (cheap: the database is small).
3. At ``WARMUP`` faces the values are frozen, so a growing database does not drift.
4. Human decisions are labelled pairs: their distances refine the values at any time
   (``refine_thresholds``), recorded as ``source='refined'``.

The values in use, and where they came from, are kept in the store's meta and shown by
``GraphCluster.stats()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from graphcluster.clustering import Thresholds, calibrate, refine_thresholds
from graphcluster.index.base import NeighbourIndex
from graphcluster.settings import Settings
from graphcluster.store.base import Store

if TYPE_CHECKING:
    from graphcluster.engine import GraphCluster

WARMUP = 5000
SAMPLE = 2000
RESHUFFLE = 0.03


class ThresholdKeeper:
    """Holds the thresholds in use and decides when to re-calibrate."""

    def __init__(self, store: Store, index: NeighbourIndex, settings: Settings) -> None:
        self._store = store
        self._index = index
        self._settings = settings
        self._cached: Thresholds | None = None
        self._reshuffle = False

    def current(self) -> Thresholds:
        if self._settings.threshold is not None:
            return self._tell_index(Thresholds.from_link(self._settings.threshold, source="settings"))
        if self._cached is None:
            stored = self._store.get_meta().get("thresholds")
            if stored:
                self._cached = Thresholds.model_validate(stored)
            else:
                self._cached = self._calibrate()
        return self._tell_index(self._cached)

    def prime(self) -> None:
        """Tell the index the thresholds in use before it builds a segment (never calibrates)."""
        if self._settings.threshold is None and self._cached is None and not self._store.get_meta().get("thresholds"):
            return  # nothing calibrated yet
        self.current()

    def _save(self, t: Thresholds, **extra: Any) -> None:
        self._cached = t
        self._store.set_meta({"thresholds": t.model_dump(mode="json"), **extra})
        self._tell_index(t)

    def _tell_index(self, t: Thresholds) -> Thresholds:
        """The index calibrates new segments to the recall of neighbours closer than ``review``
        (no farther edge joins a cluster, votes or widens a region)."""
        self._index.recall_radius = t.review
        return t

    def _calibrate(self) -> Thresholds:
        n = len(self._index)
        ids = list(self._index.ids())
        if n < 2:
            return Thresholds.from_link(None, source="uncalibrated")
        rng = np.random.default_rng(self._settings.seed)
        sample = sorted(rng.choice(len(ids), size=min(SAMPLE, n), replace=False).tolist())
        picked = [ids[i] for i in sample]
        vectors = self._index.get_vectors(picked)
        k = min(self._settings.k, n - 1)
        nbr_ids, nbr_d = self._index.query(vectors, k + 1)
        rows = []
        for fid, row_ids, row_d in zip(picked, nbr_ids, nbr_d):
            d = [float(x) for other, x in zip(row_ids, row_d) if other != fid][:k]
            if len(d) == k:
                rows.append(d)
        # random pairs are almost all two different people in any real collection: the impostor
        # reference that does not depend on the collection having singletons
        shuffles = [rng.permutation(len(vectors)) for _ in range(3)]
        pairs = np.concatenate([np.linalg.norm(vectors - vectors[p], axis=1) for p in shuffles])
        base = calibrate(
            np.asarray(rows, dtype=np.float64).reshape(len(rows), k), k=k, random_pair_distances=pairs
        )
        self._store.set_meta({"thresholds_base": base.model_dump(mode="json")})
        return self._with_labels(base)

    def _with_labels(self, base: Thresholds) -> Thresholds:
        """The calibrated base refined by every labelled pair so far (never refined twice)."""
        pairs = self._store.get_meta().get("labelled_pairs") or {}
        same, diff = pairs.get("same", []), pairs.get("different", [])
        return refine_thresholds(base, same, diff) if (same or diff) else base

    def update(self, added: int) -> Thresholds:
        """Called after a chunk entered the index; re-calibrates while the database is young."""
        if self._settings.threshold is not None:
            return self.current()
        meta = self._store.get_meta()
        if meta.get("thresholds_frozen") and self._cached is not None:
            return self._cached
        if meta.get("thresholds_frozen"):
            return self.current()
        before = meta.get("thresholds")
        fresh = self._calibrate()
        frozen = len(self._index) >= WARMUP
        old_link = (before or {}).get("link")
        if before and old_link and fresh.link and abs(fresh.link - old_link) / old_link > RESHUFFLE:
            self._reshuffle = True
        self._save(fresh, thresholds_frozen=frozen or None)
        return fresh

    def after_batch(self, gc: GraphCluster) -> None:
        """Re-cluster the young database once when the calibration moved noticeably."""
        if self._reshuffle:
            self._reshuffle = False
            gc.cleanup()

    def learn(self, gc: GraphCluster, *, same: Sequence[tuple[str, str]] = (),
              different: Sequence[tuple[str, str]] = ()) -> None:
        """Record the distances of human-labelled pairs and refine the thresholds with them."""
        meta = self._store.get_meta()
        pairs = meta.get("labelled_pairs") or {"same": [], "different": []}
        for key, items in (("same", same), ("different", different)):
            for a, b in items:
                va, vb = self._index.get_vectors([a, b])
                pairs[key].append(float(np.linalg.norm(va - vb)))
        self._store.set_meta({"labelled_pairs": pairs})
        if self._settings.threshold is None:
            stored = meta.get("thresholds_base")
            base = Thresholds.model_validate(stored) if stored else self.current()
            self._save(self._with_labels(base))

    def describe(self) -> dict[str, Any]:
        t = self.current()
        out = t.model_dump(mode="json")
        meta = self._store.get_meta()
        out["frozen"] = bool(meta.get("thresholds_frozen"))
        pairs = meta.get("labelled_pairs") or {}
        out["labelled_pairs"] = {k: len(v) for k, v in pairs.items()}
        return out
