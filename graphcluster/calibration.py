"""When thresholds are (re)fitted, how sure the fit is, and where the values are kept.

The statistics live in ``graphcluster.clustering`` (``calibrate``, ``refine_thresholds``);
this module is the engine's policy around them:

1. An explicit ``Settings.threshold`` wins, always.
2. While the database is young (fewer than ``YOUNG`` faces) every batch re-fits, from the kNN
   distances of a sample of the stored faces and random pairs among them.
3. Afterwards the fit is never frozen. It is re-fitted when
   - the database has grown by ``GROWTH`` since the last fit (the nearest stranger of a face
     comes closer as the collection grows, so the values depend on its size), or
   - the faces added since the last fit no longer follow it (*drift*): every batch compares
     the nearest-neighbour distances of its new faces with the fitted sample's (a
     Kolmogorov-Smirnov distance over the sample's deciles); a collection whose mix of people
     changes (a new family joins, another camera, another model's vectors) re-fits after at
     most ``max(DRIFT_MIN_FACES, DRIFT_SHARE * faces)`` new faces, whatever its size.
4. Past ``YOUNG`` faces a re-fit that moves ``link`` by at most ``RESHUFFLE`` (relative) keeps
   the values in use (hysteresis against the base kept, so a slow drift is adopted once it
   adds up). A re-fit that moves ``link`` by more than ``RESHUFFLE`` is handed over
   (:meth:`ThresholdKeeper.take_change`), and :meth:`ThresholdKeeper.plan` says what to
   re-cluster (a :class:`Move`): every face while the database holds at most
   ``FULL_RECLUSTER``, otherwise only the faces with a SIMILAR edge between the old and the
   new values, ``BACKLOG_PER_BATCH`` of them per later batch (a backlog in the store's meta).
   ``graphcluster.regions.Reclusterer`` does it; re-clustering obeys every human decision.
   This module never re-clusters anything itself.
5. Human decisions are labelled pairs: their distances refine the values at any time
   (``refine_thresholds``), and survive every re-fit (the base is re-fitted, the labelled
   pairs applied again).
6. :meth:`ThresholdKeeper.describe` reports the values, and how sure the fit is (``confidence``):
   what it rests on, how many faces and pairs, when and why it was last re-fitted.

The values in use are kept in the store's meta and shown by ``GraphCluster.stats()``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphcluster.clustering import Thresholds, calibrate, fit_to_answers, refine_thresholds
from graphcluster.clustering.thresholds import answers_boundary
from graphcluster.index.base import NeighbourIndex
from graphcluster.settings import Settings
from graphcluster.store.base import Store

YOUNG = 5000  # below this many faces every batch re-fits (cheap, and the values move fast)
SAMPLE = 2000  # faces whose neighbours are read per fit
GROWTH = 1.25  # re-fit when the database has grown by this factor since the last fit
DRIFT_MIN_FACES = 200  # new faces needed before a drift test means anything
DRIFT_SHARE = 0.02  # ... and at least this share of the database between two drift re-fits
DRIFT_WINDOW = 2000  # nearest-neighbour distances of new faces kept for the drift test
DRIFT_SLACK = 0.05  # KS distance tolerated beyond the 1 % critical value (arrival is never iid)
RESHUFFLE = 0.03  # a re-fit moving link by more than this share re-clusters the faces it affects
FULL_RECLUSTER = 20_000  # up to this many faces a moved link re-clusters everything
AFFECTED_LIMIT = 200_000  # most edges read to find the faces a moved link affects
BACKLOG_PER_BATCH = 1000  # affected faces re-clustered per later batch (a move is paid in instalments)
SPAN = 1.35  # calibration questions start within link / SPAN .. link * SPAN (a start 30 % off)
QUESTION_POOL = 400  # faces whose neighbours are candidate calibration pairs


@dataclass(frozen=True)
class Move:
    """What a re-fit that moved the thresholds asks to have re-clustered.

    ``everything``: every face at once. Otherwise the faces with a SIMILAR edge whose distance
    lies in one of ``bands`` (``(low, high)``, reading at most ``edge_limit`` edges) join the
    re-cluster backlog that later batches drain.
    """

    everything: bool
    bands: tuple[tuple[float, float], ...] = ()
    edge_limit: int = AFFECTED_LIMIT


class ThresholdKeeper:
    """Holds the thresholds in use, decides when to re-fit, and says how sure the fit is."""

    def __init__(self, store: Store, index: NeighbourIndex, settings: Settings) -> None:
        self._store = store
        self._index = index
        self._settings = settings
        self._cached: Thresholds | None = None
        self._change: tuple[Thresholds, Thresholds] | None = None
        self._window: list[float] = []  # nearest-neighbour distances of faces added since the last fit

    # -- the values in use ----------------------------------------------------------------------
    def current(self) -> Thresholds:
        if self._settings.threshold is not None:
            return self._tell_index(Thresholds.from_link(self._settings.threshold, source="settings"))
        if self._cached is None:
            stored = self._store.get_meta().get("thresholds")
            if stored:
                self._cached = Thresholds.model_validate(stored)
            else:
                self._cached = self._fit("first fit")
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

    # -- fitting --------------------------------------------------------------------------------
    def _fit(self, reason: str) -> Thresholds:
        """Fit the base thresholds to a sample of the stored faces, apply the labelled pairs."""
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
        table = np.asarray(rows, dtype=np.float64).reshape(len(rows), k)
        base = calibrate(table, k=k, random_pair_distances=pairs)
        meta = self._store.get_meta()
        info = dict(meta.get("calibration") or {})
        info.update(
            faces=n,
            at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            reason=reason,
            refits=int(info.get("refits", -1)) + 1,
            nearest_deciles=_deciles(table, base),
        )
        self._store.set_meta({"thresholds_base": base.model_dump(mode="json"), "calibration": info})
        self._window = []
        return self._with_labels(base)

    def _with_labels(self, base: Thresholds) -> Thresholds:
        """The calibrated base refined by every labelled pair so far (never refined twice),
        then placed where the calibration answers put the boundary (when there are both kinds)."""
        meta = self._store.get_meta()
        pairs = meta.get("labelled_pairs") or {}
        same, diff = pairs.get("same", []), pairs.get("different", [])
        t = refine_thresholds(base, same, diff) if (same or diff) else base
        same_a, diff_a = self._answers(meta)
        return fit_to_answers(t, same_a, diff_a)

    def _answers(self, meta: dict[str, Any]) -> tuple[list[float], list[float]]:
        """Distances of the calibration answers whose decision is still in force (an undone
        answer no longer places the link)."""
        cal = meta.get("calibration_pairs") or {}
        rows = [(key, r) for key in ("same", "different") for r in cal.get(key, [])]
        tagged = {r[1] for _, r in rows if isinstance(r, list)}
        active: set[str] = set()
        if tagged:  # one read of the decisions in force, whatever the number of answers
            active = {d.id for d in self._store.get_decisions(kinds=["same_person", "different_person"],
                                                              active_only=True)} & tagged
        out: dict[str, list[float]] = {"same": [], "different": []}
        for key, r in rows:
            if not isinstance(r, list):
                out[key].append(float(r))
            elif r[1] in active:
                out[key].append(float(r[0]))
        return out["same"], out["different"]

    def update(self, nearest: Sequence[float] = ()) -> Thresholds:
        """Called after a chunk entered the index, with each new face's nearest-neighbour
        distance; re-fits when the database is young, has grown, or drifted from the fit."""
        if self._settings.threshold is not None:
            return self.current()
        meta = self._store.get_meta()
        before = meta.get("thresholds")
        n = len(self._index)
        reason = self._why_refit(n, meta, nearest) if before else "first fit"
        if reason is None:
            return self.current()
        old = Thresholds.model_validate(before) if before else None
        old_base = meta.get("thresholds_base")
        fresh = self._fit(reason)
        if n >= YOUNG and old is not None and old_base:
            # hysteresis: a grown-up database keeps its values unless the fit moved link by more
            # than RESHUFFLE (re-fits every 25 % of growth would otherwise nudge it each time,
            # and earlier and later batches would be clustered with slightly different values);
            # the comparison is with the kept base, so a slow drift is adopted once it adds up
            kept = Thresholds.model_validate(old_base)
            new_base = self._base()
            if kept.link and new_base.link and abs(new_base.link - kept.link) / kept.link <= RESHUFFLE:
                info = dict(self._store.get_meta().get("calibration") or {})
                info["reason"] = (f"{reason}; the fit moved link by {100 * (new_base.link / kept.link - 1):+.1f} % "
                                  f"(<= {100 * RESHUFFLE:.0f} %): values kept")
                self._store.set_meta({"thresholds_base": old_base, "calibration": info})
                return self.current()
        self._save_moved(old, fresh)
        return fresh

    def _save_moved(self, old: Thresholds | None, new: Thresholds) -> None:
        """Save ``new``; a move beyond RESHUFFLE is stored with it in one write (a crash before
        the facade re-clustered the affected faces is repaired on the next open)."""
        if old is not None and old.link and new.link and abs(new.link - old.link) / old.link > RESHUFFLE:
            self._change = (old, new)
            self._save(new, threshold_change={"old": old.model_dump(mode="json"), "new": new.model_dump(mode="json")})
        else:
            self._save(new)

    def stored_change(self) -> tuple[Thresholds, Thresholds] | None:
        """A move whose affected faces were not re-clustered yet (a crash came in between)."""
        c = self._store.get_meta().get("threshold_change")
        return (Thresholds.model_validate(c["old"]), Thresholds.model_validate(c["new"])) if c else None

    def plan(self, old: Thresholds, new: Thresholds) -> Move:
        """What to re-cluster after the thresholds moved from ``old`` to ``new``."""
        if self._store.count_faces() <= FULL_RECLUSTER:
            return Move(everything=True)
        bands = tuple(
            (min(a, b), max(a, b))
            for a, b in ((old.link, new.link), (old.review, new.review))
            if a is not None and b is not None and a != b
        )
        return Move(everything=False, bands=bands)

    def change_done(self) -> None:
        """The facade re-clustered (or queued) the faces the last move affects."""
        self._store.set_meta({"threshold_change": None})

    def _why_refit(self, n: int, meta: dict[str, Any], nearest: Sequence[float]) -> str | None:
        info = meta.get("calibration") or {}
        fitted = int(info.get("faces") or 0)
        if n < YOUNG:
            return "young database: every batch re-fits"
        if n >= GROWTH * max(fitted, 1):
            return f"the database grew from {fitted:,} to {n:,} faces"
        floor = float(((meta.get("thresholds_base") or {}).get("stats") or {}).get("duplicate_floor") or 0.0)
        self._window.extend(float(d) for d in nearest if d > floor)
        del self._window[:-DRIFT_WINDOW]
        deciles = info.get("nearest_deciles")
        w = len(self._window)
        if not deciles or w < min(DRIFT_WINDOW, max(DRIFT_MIN_FACES, DRIFT_SHARE * n)):
            return None
        ks = drift(self._window, deciles)
        if ks > 1.63 / math.sqrt(w) + DRIFT_SLACK:
            return (f"drift: the nearest-neighbour distances of the last {w:,} new faces differ from the fit's "
                    f"(KS distance {ks:.2f})")
        return None

    def _base(self) -> Thresholds:
        stored = self._store.get_meta().get("thresholds_base")
        return Thresholds.model_validate(stored) if stored else self.current()

    def take_change(self) -> tuple[Thresholds, Thresholds] | None:
        """The (old, new) thresholds of the last re-fit that moved ``link`` noticeably, once."""
        change, self._change = self._change, None
        return change

    def learn(self, *, same: Sequence[tuple[str, str]] = (), different: Sequence[tuple[str, str]] = ()) -> None:
        """Record the distances of human-labelled pairs and refine the thresholds with them."""
        meta = self._store.get_meta()
        pairs = meta.get("labelled_pairs") or {"same": [], "different": []}
        for key, items in (("same", same), ("different", different)):
            for a, b in items:
                va, vb = self._index.get_vectors([a, b])
                pairs[key].append(float(np.linalg.norm(va - vb)))
        self._store.set_meta({"labelled_pairs": pairs})
        if self._settings.threshold is None:
            self._save(self._with_labels(self._base()))

    # -- calibration questions ------------------------------------------------------------------
    def question_pairs(self, n: int, asked: set[frozenset[str]]) -> list[tuple[str, str, float]]:
        """``n`` pairs of nearest neighbours whose answers move ``link`` most.

        With answers of both kinds they go to the pairs nearest the fitted boundary
        (``answers_boundary``), alternately a little inside and outside it (half a slope
        unit), which pins both its place and its sharpness; with one kind only, ``SPAN``
        beyond the farthest "same" or closer than the closest "different" (the bracket
        widens until it holds the boundary); with none, at ``link``.
        """
        t = self.current()
        if t.link is None or len(self._index) < 2:
            return []
        same_a, diff_a = self._answers(self._store.get_meta())
        same, diff = sorted(same_a), sorted(diff_a)
        fit = answers_boundary(same, diff, self._base().link or t.link)
        if fit is not None:
            centre, slope = fit
            target = centre * math.exp((0.5 if (len(same) + len(diff)) % 2 else -0.5) / slope)
        elif same:
            target = same[-1] * math.sqrt(SPAN)
        elif diff:
            target = diff[0] / math.sqrt(SPAN)
        else:
            target = t.link
        ids = list(self._index.ids())
        rng = np.random.default_rng(self._settings.seed + len(same) + len(diff) + len(asked))
        picked = [ids[i] for i in rng.choice(len(ids), size=min(QUESTION_POOL, len(ids)), replace=False)]
        nbr_ids, nbr_d = self._index.query(self._index.get_vectors(picked), min(self._settings.k + 1, len(ids)))
        pool: dict[frozenset[str], tuple[str, str, float]] = {}
        for fid, row_ids, row_d in zip(picked, nbr_ids, nbr_d):
            for other, d in zip(row_ids, row_d):
                key = frozenset((fid, other))
                if other != fid and key not in asked and d > float(t.stats.get("duplicate_floor") or 0.0):
                    a, b = sorted((fid, other))
                    pool[key] = (a, b, float(d))
        ranked = sorted(pool.values(), key=lambda p: (abs(math.log(p[2] / target)), p[0], p[1]))
        out: list[tuple[str, str, float]] = []
        used: set[str] = set()
        for a, b, d in ranked:  # one question per face per page: answers stay independent
            if a not in used and b not in used:
                out.append((a, b, d))
                used.update((a, b))
            if len(out) >= n:
                break
        return out

    def answered_pair(self, a: str, b: str, *, same: bool, decision_id: str, before: Thresholds) -> None:
        """A calibration question was answered (``decision_id`` records it): its distance joins
        the answers ``link`` is fitted to, for as long as that decision is not undone.
        ``before``: the thresholds in use before the answer's decision was recorded."""
        meta = self._store.get_meta()
        cal = meta.get("calibration_pairs") or {"same": [], "different": []}
        va, vb = self._index.get_vectors([a, b])
        cal["same" if same else "different"].append([float(np.linalg.norm(va - vb)), decision_id])
        self._store.set_meta({"calibration_pairs": cal})
        self.refresh(before)

    def refresh(self, before: Thresholds | None = None) -> None:
        """Apply the labelled pairs and calibration answers in force again (after an answer,
        or after an undo); a move beyond RESHUFFLE is handed to the facade (``take_change``)."""
        if self._settings.threshold is None and self._store.get_meta().get("thresholds_base"):
            old = before or self.current()
            self._save_moved(old, self._with_labels(self._base()))

    # -- reporting ------------------------------------------------------------------------------
    def auto_confidence(self) -> float:
        """The confidence a face needs to be assigned 'auto' under the thresholds in use.

        ``Settings.auto_confidence`` once the boundary is settled. While it rests on a small
        sample (confidence level 'medium': a nearest-stranger mode in fewer than 500 faces) it
        still moves as faces arrive, and a face joined by a link near it is only tentative:
        the bar is then halfway between the setting and 1. A fallback link (level 'low') lies
        inside the same-person mode by construction, so its links keep the setting's bar.
        """
        bar = self._settings.auto_confidence
        if self.describe()["confidence"]["level"] == "medium":
            return (1.0 + bar) / 2.0
        return bar

    def describe(self) -> dict[str, Any]:
        t = self.current()
        out = t.model_dump(mode="json")
        meta = self._store.get_meta()
        pairs = meta.get("labelled_pairs") or {}
        out["labelled_pairs"] = {k: len(v) for k, v in pairs.items()}
        same_a, diff_a = self._answers(meta)
        out["calibration_answers"] = {"same": len(same_a), "different": len(diff_a)}  # in force
        stored = meta.get("thresholds_base")
        fit = Thresholds.model_validate(stored) if stored and self._settings.threshold is None else t
        out["confidence"] = confidence(fit, meta.get("calibration") or {}, out["calibration_answers"])
        return out


def _deciles(table: np.ndarray, base: Thresholds) -> list[float] | None:
    """Deciles of the sample's nearest (non-duplicate) neighbour distances: the drift reference."""
    if not len(table):
        return None
    floor = float(base.stats.get("duplicate_floor") or 0.0)
    valid = table > max(floor, 1e-9)
    has = valid.any(axis=1)
    if not has.any():
        return None
    d1 = table[np.arange(len(table)), np.argmax(valid, axis=1)][has]
    return [float(q) for q in np.quantile(d1, np.linspace(0.1, 0.9, 9))]


def drift(values: Sequence[float], deciles: Sequence[float]) -> float:
    """Kolmogorov-Smirnov distance of ``values`` from a distribution given by its 9 deciles."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    at = np.searchsorted(v, np.asarray(deciles, dtype=np.float64), side="right") / max(len(v), 1)
    return float(np.max(np.abs(at - np.linspace(0.1, 0.9, 9))))


def confidence(t: Thresholds, info: dict[str, Any], answers: dict[str, int]) -> dict[str, Any]:
    """How sure the thresholds are: ``level`` (high / medium / low), why, and what they rest on.

    ``answers``: how many calibration questions were answered "same" and "different".
    """
    st = t.stats
    basis = st.get("basis")
    n = int(st.get("n") or 0)
    humans = sum(answers.values())
    if t.source == "settings":
        level, why = "high", "set explicitly (Settings.threshold)"
    elif t.link is None:
        level, why = "low", "nothing to calibrate from yet"
    elif basis == "nearest" and t.source == "calibrated" and n >= 500:
        level, why = "high", (f"people seen once give a nearest-stranger mode (separation "
                              f"{st.get('separation', 0):.1f} sd) in {n:,} sampled faces")
    elif basis == "nearest":
        level, why = "medium", (f"a nearest-stranger mode in only {n:,} sampled faces" if t.source == "calibrated"
                                else f"{st.get('reason', 'a fallback')} ({n:,} sampled faces)")
    else:
        level, why = "low", (f"{st.get('reason', 'no stranger mode')}: where one person ends and the next begins "
                             "is not visible in the distances; answer calibration questions "
                             "(graphcluster review --calibration) or set threshold=")
    if humans >= 10 and min(answers.values()) >= 3 and level != "high":
        level, why = "high" if humans >= 20 else "medium", f"{humans} calibration answers place it; " + why
    return {
        "level": level,
        "why": why,
        "basis": basis,
        "faces_sampled": n,
        "random_pairs": int(st.get("reference_n") or 0),
        "calibration_answers": humans,
        "fitted_at_faces": info.get("faces"),
        "fitted_at": info.get("at"),
        "refit_reason": info.get("reason"),
        "refits": info.get("refits"),
    }
