"""Distance thresholds, calibrated from unlabelled data and refined by human decisions.

Embedding models put faces at very different distances (L2-normalised dlib descriptors:
same person mostly 0.2-0.42; a FaceNet-512 model: 0.46-1.3), so no fixed default serves
both. The link threshold is read off the data itself (all of it in log space, so that it is
scale-free):

1. The impostor reference: distances between random pairs of faces (``random_pair_distances``;
   in any realistic collection almost all are two different people), summarised by their
   median and upper-half spread. Without them the k-th neighbour distances stand in.
2. Near-duplicates (closer than ``DUP_SHARE`` of the reference median) are skipped.
3. Nearest-neighbour distances ``d1`` of the sampled faces: faces whose person appears again
   have a *same-person* nearest neighbour; people seen once have an *impostor*. Fit a
   two-component Gaussian mixture to ``log d1`` by EM (deterministic start).
4. Validity: the upper component is the nearest-impostor mode only if both modes carry
   weight and are separated, and the upper one sits at least ``IMPOSTOR_GAP`` of the way from
   the lower one to the impostor reference (a same-person mode split in two does not).
5. Valid (``basis = 'nearest'``): ``link`` is where the mixture puts the odds that a nearest
   neighbour is the same person at ``LINK_COST`` : 1 (the rule calibration answers use), never
   deeper than ``LINK_Z`` sd into the impostor mode, above the Bayes crossing, the upper tail
   of the same-person mode (``SAME_Z``) or the lower tail of the impostor reference
   (``REF_Z``); ``review`` = the crossing. An upper mode wider than the
   lower one (look-alikes and strangers lumped together) gives the same values with
   ``source = 'fallback'`` and ``stats['fallback'] = 'same_mode'``.
6. No nearest-stranger mode (``basis = 'genuine'``, a family album): when the k nearest are
   one's own person (``NEIGHBOURHOOD_RATIO``) ``_genuine_tail``, else ``_no_impostor_mode``
   on ``d1`` alone; fewer than ``MIN_SAMPLE`` faces: ``_no_impostor_mode``. ``source`` is
   'fallback' and ``stats['reason']`` says why.

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

__all__ = ["LINK_Z", "MIN_SAMPLE", "Thresholds", "calibrate", "edge_weight", "fit_to_answers", "refine_thresholds"]

LINK_Z = 1.5  # never deeper than 1.5 sd into the nearest-impostor mode (7 % of nearest impostors closer)
MIN_SAMPLE = 30  # below this many faces a mixture fit means nothing: fall back
IMPOSTOR_GAP = 0.35  # the upper mode must sit this share of the way to the impostor reference
REF_Z = 3.0  # lower tail of the impostor reference: links never reach into it
SAME_Z = 1.5  # upper tail of the same-person mode: links need not reach beyond it
FALLBACK_Z = 1.0  # the same, when there is no impostor mode to bound it (more cautious)
GENUINE_Z = 2.0  # upper tail of all k neighbour distances when no one is seen once
# ``link`` sits where a pair is one person at odds of LINK_COST : 1, whether the mixture of
# nearest-neighbour distances or calibration answers place it (docs/decisions.md)
LINK_COST = 2.0
NEIGHBOURHOOD_RATIO = 1.25  # k-NN median / nearest median above this: the k nearest are not one's own person
DUP_SHARE = 0.1  # neighbours closer than this share of the median random-pair distance are duplicates
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


def _crossing(mu: np.ndarray, sd: np.ndarray, w: np.ndarray, cost: float = 1.0) -> float:
    """The first point between the two means where ``cost`` x the impostor density reaches the same-person one.

    ``cost = 1``: the Bayes crossing (the posterior that a pair is one person falls to 1/2);
    ``cost = c``: the posterior falls to ``c / (1 + c)``.
    """
    xs = np.linspace(mu[0], mu[1], 4001)
    a = w[0] / sd[0] * np.exp(-0.5 * ((xs - mu[0]) / sd[0]) ** 2)
    b = w[1] / sd[1] * np.exp(-0.5 * ((xs - mu[1]) / sd[1]) ** 2)
    above = np.nonzero(cost * b >= a)[0]
    return float(xs[above[0]] if len(above) else xs[-1])


def calibrate(
    nn_distances: np.ndarray,
    *,
    k: int,
    random_pair_distances: np.ndarray | Sequence[float] | None = None,
) -> Thresholds:
    """Calibrate thresholds from the sorted kNN distances of a sample of faces (no labels).

    Args:
        nn_distances: (n, k) array, row i the ascending L2 distances of face i to its k
            nearest other faces.
        k: the number of neighbours per row.
        random_pair_distances: L2 distances between random pairs of distinct stored faces
            (a few thousand). In any realistic collection almost all such pairs are two
            different people, so they are the impostor reference that does not depend on
            people seen once existing. Without them the k-th neighbour distances stand in
            (weaker: in a collection with more than ``k`` photos per person they are
            same-person distances).

    Returns:
        Thresholds with ``source='calibrated'`` (or 'fallback' when the sample is too small
        or the nearest-neighbour distances have no impostor mode); ``stats`` records every
        number used and, for a fallback, the reason.

    Raises:
        InvalidInput: an array has the wrong shape or holds NaN, inf or negative values.
    """
    d = np.asarray(nn_distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] < k or k < 1:
        raise InvalidInput(f"calibrate needs an (n, k={k}) array of kNN distances, got shape {d.shape}")
    if d.size and (not np.isfinite(d).all() or (d < 0).any()):
        bad = int(np.nonzero(~np.isfinite(d).all(axis=1) | (d < 0).any(axis=1))[0][0])
        raise InvalidInput(f"kNN distances of row {bad} are not finite and non-negative: {d[bad].tolist()}", rows=[bad])
    stats: dict[str, Any] = {"k": k}
    ref = _reference(random_pair_distances, d[:, k - 1] if len(d) else np.zeros(0), stats)
    if len(d) == 0 or ref is None:
        stats["n"] = 0
        return Thresholds(link=None, review=None, source="uncalibrated", stats=stats)
    r_med, r_sd = ref
    # near-duplicates (burst shots, re-imports) say nothing about the model's scale: every
    # neighbour closer than DUP_SHARE of the median random-pair distance is skipped, and a
    # face's nearest neighbour is its nearest that is not a duplicate of it
    dup = DUP_SHARE * math.exp(r_med)
    valid = d[:, :k] > max(dup, 1e-9)
    has = valid.any(axis=1)
    first = np.argmax(valid, axis=1)
    d1 = d[np.arange(len(d)), first][has]
    pooled = d[:, :k][valid]
    dk = d[has, k - 1]
    n = len(d1)
    stats.update(n=n, duplicates=int((~valid).sum()), duplicate_floor=dup)
    if n == 0:
        return Thresholds(link=None, review=None, source="uncalibrated", stats=stats)
    x = np.log(d1)
    stats.update(median_d1=float(np.median(d1)), median_dk=float(np.median(dk)))
    if n < MIN_SAMPLE:
        stats["reason"] = f"fewer than {MIN_SAMPLE} faces: no mixture fit"
        return _no_impostor_mode(x, r_med, r_sd, stats)
    # 1. the nearest neighbours: people seen once give a nearest-impostor mode
    fit = _impostor_mode(x, float(np.log(np.median(dk))), r_med, r_sd)
    if fit["ok"]:
        stats.update(fit["stats"], basis="nearest")
        return _clip(fit["link"], fit["review"], fit["source"], stats)
    # 2. no nearest-stranger mode. When the k nearest are (mostly) the same person (a family
    #    album) their distances sit close to the nearest one's; when they are much farther,
    #    they are strangers and only the nearest-neighbour mode can be trusted
    stats.update(fit["stats"], basis="genuine")
    ratio = float(np.median(pooled) / np.median(d1))
    stats["neighbourhood_ratio"] = ratio
    if ratio > NEIGHBOURHOOD_RATIO:
        stats["reason"] = (f"{fit['stats'].get('reason', 'no nearest-stranger mode')}; the k nearest neighbours lie "
                           f"{ratio:.2f}x farther than the nearest (> {NEIGHBOURHOOD_RATIO}): mostly strangers, so "
                           "only the nearest-neighbour distances bound the link")
        return _no_impostor_mode(x, r_med, r_sd, stats)
    return _genuine_tail(np.log(pooled), x, r_med, r_sd, stats)


def _impostor_mode(x: np.ndarray, upper_start: float, r_med: float, r_sd: float) -> dict[str, Any]:
    """Fit two modes to log nearest-neighbour distances ``x``; is the upper one nearest strangers?

    Returns ``ok`` and, when it is, ``link``, ``review`` and ``source``; ``stats`` always.
    """
    mu0 = np.array([float(np.quantile(x, 0.1)), upper_start])
    sd0 = np.array([max(float(x.std()) / 2, 1e-3)] * 2)
    mu, sd, w = _em2(x, mu0, sd0, np.array([0.5, 0.5]))
    separation = float((mu[1] - mu[0]) / math.sqrt(sd[0] ** 2 + sd[1] ** 2))
    # how far the upper component sits from the lower one, as a share of the way to the
    # impostor reference: nearest impostors sit well on the way; a same-person mode split
    # in two (no one seen once) leaves the upper half next to the lower one
    gap = float((mu[1] - mu[0]) / max(r_med - mu[0], 1e-9))
    stats: dict[str, Any] = dict(
        same_mode=float(math.exp(mu[0])),
        impostor_mode=float(math.exp(mu[1])),
        impostor_log_sd=float(sd[1]),
        same_log_sd=float(sd[0]),
        weights=[float(w[0]), float(w[1])],
        separation=separation,
        impostor_gap=gap,
        link_z=LINK_Z,
    )
    if min(w) < 0.03 or separation < 0.75:
        stats["reason"] = "neighbour distances have no second mode"
        return {"ok": False, "stats": stats}
    if gap < IMPOSTOR_GAP:
        stats["reason"] = (f"the upper mode of neighbour distances sits only {gap:.2f} of the way "
                           f"to the impostor reference (< {IMPOSTOR_GAP}): it is the same people, not impostors")
        return {"ok": False, "stats": stats}
    cross = math.exp(_crossing(mu, sd, w))
    ceiling = math.exp(r_med - REF_Z * r_sd)  # never into the bulk of random pairs
    # never beyond the upper tail of the same-person mode either: when look-alikes form a
    # second, closer impostor population the mixture's impostor mode is the farther one
    same_cap = math.exp(mu[0] + SAME_Z * sd[0])
    # where a nearest neighbour is one person at odds of LINK_COST : 1: the rule calibration
    # answers use (``fit_to_answers``), read off the mixture instead of answers
    odds = math.exp(_crossing(mu, sd, w, LINK_COST))
    link = min(odds, math.exp(mu[1] - LINK_Z * sd[1]), cross, ceiling, same_cap)
    stats.update(crossing=cross, odds_link=odds, link_cost=LINK_COST, reference_ceiling=ceiling, same_cap=same_cap)
    source: Source = "calibrated"
    if sd[1] > sd[0]:
        # the nearest of many impostors is a minimum over many draws: its spread is narrow;
        # an upper component wider than the lower one is not one nearest-impostor mode (the
        # far tail of the same people, or look-alikes and strangers at the random-pair level
        # lumped together). It is still far from the lower mode (the gap test above), so
        # the lower component is a clean same-person mode: the link is bounded by its upper
        # tail (and every other bound above), not by the median of all nearest-neighbour
        # distances, which many faces of people seen once so far push into the impostors.
        stats["reason"] = "the upper mode is wider than the lower one: not nearest impostors"
        stats["fallback"] = "same_mode"
        source = "fallback"
    return {"ok": True, "link": link, "review": max(min(cross, ceiling), link), "source": source, "stats": stats}


def _genuine_tail(lp: np.ndarray, x: np.ndarray, r_med: float, r_sd: float, stats: dict[str, Any]) -> Thresholds:
    """No nearest-stranger mode (a family album: a few people with many photos, no one seen once).

    Every face's k nearest neighbours ``lp`` (log distances) are then mostly its own person,
    and no stranger is seen close by: where the boundary between the two lies is not observed.
    ``link`` is the upper tail (``GENUINE_Z`` robust standard deviations above the median) of
    those distances and of the nearest-neighbour distances ``x`` alone (look-alikes come
    closer than the other strangers: a face's nearest is then still its own person, its k-th
    may not be), but never beyond halfway (geometrically) from their median to the lower tail
    of the impostor reference, the closest that strangers are known to come; ``review`` is
    that lower tail. The engine reports such a fit as low confidence and offers calibration
    questions, whose answers place the boundary where the data could not.
    """
    def tail(v: np.ndarray) -> tuple[float, float]:
        m = float(np.median(v))
        return m, max(float(np.quantile(v, 0.75)) - m, 1e-3) / 0.6745  # robust sd from the upper quartile

    med, spread = tail(lp)
    med1, spread1 = tail(x)
    floor = r_med - REF_Z * r_sd
    link = math.exp(min(med + GENUINE_Z * spread, med1 + GENUINE_Z * spread1, (med + floor) / 2, floor))
    stats.update(genuine_median=float(math.exp(med)), genuine_log_sd=spread, same_mode=float(math.exp(med1)),
                 same_log_sd=spread1, reference_floor=float(math.exp(floor)),
                 reason=stats.get("reason", "no nearest-stranger mode"))
    return _clip(link, max(math.exp(floor), link), "fallback", stats)


def _reference(pairs: np.ndarray | Sequence[float] | None, dk: np.ndarray,
               stats: dict[str, Any]) -> tuple[float, float] | None:
    """Median and upper-half spread (log space) of the impostor reference distances.

    The spread is read from the upper half only: same-person pairs (common among random
    pairs of a family library) sit in the lower half and would widen it.
    """
    if pairs is not None:
        r = np.asarray(pairs, dtype=np.float64).ravel()
        if r.size and (not np.isfinite(r).all() or (r < 0).any()):
            bad = int(np.nonzero(~np.isfinite(r) | (r < 0))[0][0])
            raise InvalidInput(f"random_pair_distances[{bad}] = {r[bad]!r} is not a finite non-negative distance; "
                               "pass L2 distances between pairs of distinct faces", rows=[bad])
        r = r[r > 1e-9]
        stats["reference"] = "random_pairs"
    else:
        r = dk[dk > 1e-9]
        stats["reference"] = "kth_neighbour"
    if r.size == 0:
        return None
    lr = np.log(r)
    med = float(np.median(lr))
    spread = max(float(np.quantile(lr, 0.84)) - med, 1e-3)
    stats.update(reference_n=int(r.size), reference_median=float(math.exp(med)), reference_log_sd=spread)
    return med, spread


def _no_impostor_mode(x: np.ndarray, r_med: float, r_sd: float, stats: dict[str, Any]) -> Thresholds:
    """Fallback when nearest-neighbour distances show no impostor mode (or too few faces).

    Every face's nearest neighbour is then taken to be the same person (a family library,
    one person), or the sample is too small to tell: the nearest-neighbour distances are
    one same-person mode, and ``link`` is its upper tail (``FALLBACK_Z`` robust standard
    deviations above its median), never above the lower tail of the impostor reference
    (``REF_Z`` below its median). ``review`` is that lower tail.
    """
    med = float(np.median(x))
    spread = max(float(np.quantile(x, 0.75)) - med, 1e-3) / 0.6745  # robust to a minority seen once
    floor = r_med - REF_Z * r_sd
    link = math.exp(min(med + FALLBACK_Z * spread, floor))
    stats.update(same_mode=float(math.exp(med)), same_log_sd=spread, reference_floor=float(math.exp(floor)))
    return _clip(link, max(math.exp(floor), link), "fallback", stats)


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


def answers_boundary(same: Sequence[float], different: Sequence[float],
                     prior: float) -> tuple[float, float] | None:
    """Where calibration answers put the boundary: ``(centre, slope)`` of a logistic fit.

    ``P(same | d) = 1 / (1 + exp(slope * (log d - log centre)))``, fitted by maximum
    likelihood over a grid (centre log-spaced across the answers, slope 5-160 per unit of log
    distance) with a weak pull of the centre towards ``prior``, so that a single odd answer
    (a far same pair, a close look-alike) shifts the boundary a little instead of trapping it.
    None without answers of both kinds.
    """
    s = np.log(np.asarray([x for x in same if x > 0 and math.isfinite(x)], dtype=np.float64))
    d = np.log(np.asarray([x for x in different if x > 0 and math.isfinite(x)], dtype=np.float64))
    if not len(s) or not len(d):
        return None
    lo, hi = min(s.min(), d.min()) - 0.2, max(s.max(), d.max()) + 0.2
    centres = np.linspace(lo, hi, 241)[:, None, None]
    slopes = np.array([5.0, 10.0, 20.0, 40.0, 80.0, 160.0])[None, :, None]
    ll = (-np.logaddexp(0.0, slopes * (s[None, None, :] - centres))).sum(axis=2)
    ll = ll + (-np.logaddexp(0.0, -slopes * (d[None, None, :] - centres))).sum(axis=2)
    ll = ll - 2.0 * (centres[:, :, 0] - math.log(prior)) ** 2  # weak: 0.1 in log costs 0.02
    i, j = np.unravel_index(int(np.argmax(ll)), ll.shape)
    return float(math.exp(centres[i, 0, 0])), float(slopes[0, j, 0])


def fit_to_answers(t: Thresholds, same: Sequence[float], different: Sequence[float]) -> Thresholds:
    """Place ``link`` where calibration answers put the boundary between one person and two.

    Calibration answers are pairs the engine picked itself among nearest neighbours around
    the current ``link`` (not the hard cases a person chooses to fix), so they sample the
    boundary without bias. With answers of both kinds ``link`` goes where the fitted
    probability that a pair is one person falls to ``LINK_COST / (1 + LINK_COST)``, the odds
    the unlabelled calibration uses; with answers of one kind only it just moves past them.
    ``review`` moves in proportion.
    """
    s = [float(x) for x in same if math.isfinite(float(x))]
    d = [float(x) for x in different if math.isfinite(float(x))]
    if t.link is None or not (s or d):
        return t
    fit = answers_boundary(s, d, t.link)
    if fit is not None:
        centre, slope = fit
        link = centre * math.exp(-math.log(LINK_COST) / slope)
    elif s:  # never past the strangers' lower tail on "same" answers alone
        ceiling = float(t.stats.get("reference_ceiling") or t.stats.get("reference_floor") or 2.0)
        link = max(t.link, min(max(s) * 1.01, ceiling))
    else:
        link = min(t.link, min(d) * 0.99)
    link = float(min(max(link, 1e-4), 2.0))
    stats = dict(t.stats)
    stats.update(answered_link=link, before_answers=t.link, answered_same=len(s), answered_different=len(d))
    if fit is not None:
        stats.update(answers_centre=fit[0], answers_slope=fit[1])
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
