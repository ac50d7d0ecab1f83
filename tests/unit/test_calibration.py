"""calibrate / refine_thresholds / edge_weight on synthetic distance samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from graphcluster.clustering import Thresholds, calibrate, edge_weight, refine_thresholds
from graphcluster.errors import InvalidInput


def two_mode_sample(n: int, *, scale: float = 1.0, same_share: float = 0.6, seed: int = 0) -> np.ndarray:
    """kNN rows: faces with a look-alike of the same person near 0.25, the others near 0.37."""
    rng = np.random.default_rng(seed)
    k = 10
    rows = []
    for _ in range(n):
        impostor = rng.lognormal(math.log(0.40), 0.05, size=k)
        if rng.random() < same_share:
            impostor[: rng.integers(1, 4)] = rng.lognormal(math.log(0.25), 0.12, size=1)
        rows.append(np.sort(impostor))
    return np.array(rows) * scale


def test_calibrated_link_lies_between_the_modes() -> None:
    t = calibrate(two_mode_sample(2000), k=10)
    assert t.source == "calibrated"
    assert t.link is not None and t.review is not None
    assert 0.27 < t.link <= t.review < 0.40
    assert t.stats["n"] == 2000 and t.stats["same_mode"] < t.stats["impostor_mode"]


def test_calibration_is_scale_free() -> None:
    base = calibrate(two_mode_sample(1500), k=10)
    wide = calibrate(two_mode_sample(1500, scale=2.5), k=10)
    assert wide.link == pytest.approx(2.5 * base.link, rel=1e-3)
    assert wide.review == pytest.approx(2.5 * base.review, rel=1e-3)


def test_one_mode_falls_back_to_a_ratio_of_the_impostor_level() -> None:
    t = calibrate(two_mode_sample(500, same_share=0.0), k=10)
    assert t.source == "fallback"
    assert t.link == pytest.approx(0.8 * t.stats["median_dk"], rel=1e-6)


def test_tiny_and_empty_samples() -> None:
    assert calibrate(np.zeros((0, 10)), k=10).link is None
    small = calibrate(two_mode_sample(10), k=10)
    assert small.source == "fallback" and small.link is not None


@pytest.mark.parametrize("bad", [np.full((40, 10), np.nan), -np.ones((40, 10)), np.ones((40, 3))])
def test_bad_input_is_refused(bad: np.ndarray) -> None:
    with pytest.raises(InvalidInput):
        calibrate(bad, k=10)


def test_refine_lowers_link_below_intruding_different_pairs() -> None:
    t = Thresholds.from_link(0.35, source="calibrated")
    r = refine_thresholds(t, same=[], different=[0.30, 0.31, 0.33, 0.5])
    assert r.source == "refined" and r.link is not None
    assert r.link < 0.31
    one = refine_thresholds(t, same=[], different=[0.30, 0.5, 0.6, 0.7])
    assert one.link == 0.35  # one odd look-alike pair does not undo a calibration


def test_refine_raises_link_for_same_pairs_but_not_past_a_different_pair() -> None:
    t = Thresholds.from_link(0.30, source="calibrated")
    r = refine_thresholds(t, same=[0.33] * 6, different=[0.32])
    assert r.link is not None and 0.30 < r.link < 0.32
    assert refine_thresholds(t, [], []) is t


def test_thresholds_round_trip_as_json() -> None:
    t = calibrate(two_mode_sample(300), k=10)
    assert Thresholds.model_validate(t.model_dump(mode="json")) == t
    assert Thresholds.from_link(None).link is None


def test_edge_weight() -> None:
    t = Thresholds.from_link(0.4)
    assert edge_weight(0.0, t) == 1.0
    assert edge_weight(0.39, t) > 0.5
    assert edge_weight(0.4, t) == 0.0 and edge_weight(0.9, t) == 0.0
    assert edge_weight(0.1, Thresholds.from_link(None)) == 0.0
