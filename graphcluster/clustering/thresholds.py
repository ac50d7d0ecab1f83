"""Distance thresholds, calibrated from unlabelled data and refined by human decisions.

Embedding models put faces at very different distances (L2-normalised dlib descriptors:
same person mostly 0.2-0.42; a FaceNet-512 model: 0.46-1.3), so no fixed default serves
both. The link threshold is read off the data itself:

1. Take the distance of every sampled face to its nearest neighbour (``d1``). Faces whose
   person appears again have a *same-person* nearest neighbour; the others (people seen
   once) have an *impostor* as nearest neighbour. ``d1`` is therefore a two-mode mixture.
2. Fit a two-component Gaussian mixture to ``log d1`` by EM (deterministic start: the
   low decile of ``d1`` and the median distance to the k-th neighbour, which is mostly an
   impostor). Working in log space makes the fit scale-free.
3. ``link`` = where the impostor component's lower tail starts: ``exp(mu_imp - z * sd_imp)``
   with ``z = LINK_Z``, but never above the Bayes crossing of the two components.
   ``review`` = the Bayes crossing (distances between ``link`` and ``review`` never join
   faces on their own; they only make a face's assignment tentative).
4. When the mixture is not identifiable (too few faces, one mode), fall back to a
   scale-free ratio of the impostor level: ``link = FALLBACK_RATIO * median(d_k)``.

Human decisions are labelled pairs: ``refine_thresholds`` moves ``link`` so that it stays
below the closest *different* pair and covers the *same* pairs where that is consistent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from graphcluster.errors import InvalidInput

__all__ = ["Thresholds", "calibrate", "refine_thresholds", "edge_weight", "LINK_Z", "MIN_SAMPLE"]

LINK_Z = 2.5  # impostor tail beyond 2.5 sd: about 0.6 % of nearest impostors are closer
FALLBACK_RATIO = 0.8
MIN_SAMPLE = 30  # below this many faces the statistics mean nothing: fall back
REVIEW_MARGIN = 1.08  # review band when only a link threshold is known (settings)

Source = Literal["calibrated", "settings", "refined", "uncalibrated", "fallback"]


class Thresholds(BaseModel):
    """The distances that drive clustering, and where they came from.

    Attributes:
        link: max L2 distance of a SIMILAR edge that may join two faces (None: nothing joins).
        review: faces whose links lie between ``link`` and ``review`` are only tentative.
        source: 'calibrated' | 'settings' | 'refined' | 'uncalibrated' | 'fallback'.
        stats: the statistics the values were derived from (inspectable, JSON-able).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    link: float | None = Field(None, gt=0, le=2)
    review: float | None = Field(None, gt=0, le=2)
    source: Source = "uncalibrated"
    stats: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_link(cls, link: float | None, *, source: Source = "settings") -> Thresholds:
        """Thresholds from an explicit link distance (``review`` a little above it)."""
        if link is None:
            return cls(link=None, review=None, source=source)
        return cls(link=float(link), review=min(2.0, float(link) * REVIEW_MARGIN), source=source)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _em2(x: np.ndarray, mu: np.ndarray, sd: np.ndarray, w: np.ndarray, iters: int = 200) -> tuple[np.ndarray, ...]:
    """Two-component 1-D Gaussian mixture by EM; deterministic for a given start."""
    floor = max(float(x.std()) * 0.02, 1e-6)
    for _ in range(iters):
        dens = np.stack([w[j] / sd[j] * np.exp(-0.5 * ((x - mu[j]) / sd[j]) ** 2) for j in range(2)])
        resp = dens / (dens.sum(axis=0) + 1e-300)
        nk = resp.sum(axis=1) + 1e-12
        new_mu = (resp * x).sum(axis=1) / nk
        new_sd = np.sqrt((resp * (x - new_mu[:, None]) ** 2).sum(axis=1) / nk) + floor
        w = nk / nk.sum()
        done = np.allclose(new_mu, mu, atol=1e-9) and np.allclose(new_sd, sd, atol=1e-9)
        mu, sd = new_mu, new_sd
        if done:
            break
    order = np.argsort(mu)
    return mu[order], sd[order], w[order]


def _crossing(mu: np.ndarray, sd: np.ndarray, w: np.ndarray) -> float:
    """The point between the two means where the impostor component starts to dominate."""
    xs = np.linspace(mu[0], mu[1], 4001)
    a = w[0] / sd[0] * np.exp(-0.5 * ((xs - mu[0]) / sd[0]) ** 2)
    b = w[1] / sd[1] * np.exp(-0.5 * ((xs - mu[1]) / sd[1]) ** 2)
    above = np.nonzero(b >= a)[0]
    return float(xs[above[0]] if len(above) else xs[-1])


def calibrate(nn_distances: np.ndarray, *, k: int) -> Thresholds:
    """Calibrate thresholds from the sorted kNN distances of a sample of faces (no labels).

    Args:
        nn_distances: (n, k) array, row i the ascending L2 distances of face i to its k
            nearest other faces.
        k: the number of neighbours per row (the last column is used as the impostor level).

    Returns:
        Thresholds with ``source='calibrated'`` (or 'fallback' when the sample is too small
        or has no second mode); ``stats`` records every number used.

    Raises:
        InvalidInput: the array has the wrong shape or holds NaN, inf or negative values.
    """
    d = np.asarray(nn_distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] < k or k < 1:
        raise InvalidInput(f"calibrate needs an (n, k={k}) array of kNN distances, got shape {d.shape}")
    if d.size and (not np.isfinite(d).all() or (d < 0).any()):
        bad = int(np.nonzero(~np.isfinite(d).all(axis=1) | (d < 0).any(axis=1))[0][0])
        raise InvalidInput(f"kNN distances of row {bad} are not finite and non-negative: {d[bad].tolist()}", rows=[bad])
    d1 = d[:, 0]
    keep = d1 > 1e-9  # exact duplicates say nothing about the model's scale
    d1, dk = d1[keep], d[keep, k - 1]
    n = int(len(d1))
    stats: dict[str, Any] = {"n": n, "k": k}
    if n < MIN_SAMPLE:
        if n == 0:
            return Thresholds(link=None, review=None, source="uncalibrated", stats=stats)
        level = float(np.median(dk))
        stats.update(median_dk=level, reason=f"fewer than {MIN_SAMPLE} faces")
        return _clip(FALLBACK_RATIO * level, level, "fallback", stats)
    level = float(np.median(dk))
    x = np.log(d1)
    mu0 = np.array([float(np.quantile(x, 0.1)), math.log(level)])
    sd0 = np.array([max(float(x.std()) / 2, 1e-3)] * 2)
    mu, sd, w = _em2(x, mu0, sd0, np.array([0.5, 0.5]))
    separation = float((mu[1] - mu[0]) / math.sqrt(sd[0] ** 2 + sd[1] ** 2))
    stats.update(
        median_d1=float(np.median(d1)),
        median_dk=level,
        same_mode=float(math.exp(mu[0])),
        impostor_mode=float(math.exp(mu[1])),
        impostor_log_sd=float(sd[1]),
        weights=[float(w[0]), float(w[1])],
        separation=separation,
        link_z=LINK_Z,
    )
    if min(w) < 0.03 or separation < 0.75:
        stats["reason"] = "nearest-neighbour distances have no second mode"
        return _clip(FALLBACK_RATIO * level, level, "fallback", stats)
    cross = math.exp(_crossing(mu, sd, w))
    link = min(math.exp(mu[1] - LINK_Z * sd[1]), cross)
    stats["crossing"] = cross
    return _clip(link, max(cross, link), "calibrated", stats)


def _clip(link: float, review: float, source: Source, stats: dict[str, Any]) -> Thresholds:
    link = float(min(max(link, 1e-4), 2.0))
    review = float(min(max(review, link), 2.0))
    return Thresholds(link=link, review=review, source=source, stats=stats)


def refine_thresholds(t: Thresholds, same: Sequence[float], different: Sequence[float]) -> Thresholds:
    """Refine thresholds with the distances of human-labelled pairs.

    A *different* pair closer than ``link`` proves ``link`` too loose: it is lowered to just
    below the closest such pair when at least two such pairs (or 5% of them) agree, since one
    look-alike pair alone should not undo a calibration. *Same* pairs beyond ``link`` raise
    it, but never to or above the closest known different pair.

    Args:
        t: the thresholds to refine (usually the calibrated base).
        same: distances of must-link pairs.
        different: distances of cannot-link pairs.

    Returns:
        New thresholds with ``source='refined'`` (or ``t`` itself when there is nothing to learn).
    """
    same_d = sorted(float(x) for x in same if math.isfinite(float(x)))
    diff_d = sorted(float(x) for x in different if math.isfinite(float(x)))
    if t.link is None or not (same_d or diff_d):
        return t
    link = t.link
    below = [x for x in diff_d if x < link]
    if len(below) >= max(2, math.ceil(0.05 * len(diff_d))):
        link = below[len(below) // 2] * 0.99  # the median intruder: robust to one odd pair
    wanted = float(np.quantile(same_d, 0.8)) if len(same_d) >= 5 else None
    if wanted is not None and wanted > link:
        ceiling = (diff_d[0] * 0.99) if diff_d else t.review or wanted
        link = max(link, min(wanted, ceiling, link * 1.15))
    stats = dict(t.stats)
    stats.update(base_link=t.link, same_pairs=len(same_d), different_pairs=len(diff_d))
    review = max(link, (t.review or link) * link / t.link)
    return Thresholds(link=link, review=min(review, 2.0), source="refined", stats=stats)


def edge_weight(distance: float, thresholds: Thresholds) -> float:
    """Weight of a SIMILAR edge: 1 at distance 0, falling to 0.5 at ``link``, 0 beyond it.

    The weight varies little inside ``link`` on purpose: measured on real faces, plain
    counting of links (unweighted Chinese Whispers) beat weights proportional to the margin.
    """
    if thresholds.link is None or distance >= thresholds.link:
        return 0.0
    r = max(distance, 0.0) / thresholds.link
    return float(1.0 - 0.5 * r * r)
