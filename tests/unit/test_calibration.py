"""calibrate / refine_thresholds / edge_weight on synthetic distance samples."""

from __future__ import annotations

import csv
import math
import os

import numpy as np
import pytest

from graphcluster.clustering import (
    Thresholds,
    calibrate,
    edge_weight,
    fit_to_answers,
    refine_thresholds,
)
from graphcluster.calibration import drift
from graphcluster.errors import InvalidInput
from graphcluster.synth import make_faces


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
    assert t.source == "fallback" and t.link is not None
    assert t.link <= t.stats["reference_floor"] * (1 + 1e-9)  # never into the impostor reference
    assert t.stats["reference"] == "kth_neighbour"


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


# -- scenarios: unlabelled calibration checked against the generator's labels ------------------

LFW = "/work/shared/data/lfw_dlib128"


def knn_rows(v: np.ndarray, k: int = 10) -> tuple[np.ndarray, int]:
    k = min(k, len(v) - 1)
    d2 = np.maximum(2.0 - 2.0 * v @ v.T, 0.0)
    np.fill_diagonal(d2, np.inf)
    return np.sqrt(np.sort(d2, axis=1)[:, :k]), k


def random_pairs(v: np.ndarray, seed: int = 0, rounds: int = 3) -> np.ndarray:
    """What the engine passes: distances of random pairs of stored faces."""
    rng = np.random.default_rng(seed)
    return np.concatenate([np.linalg.norm(v - v[rng.permutation(len(v))], axis=1) for _ in range(rounds)])


def bulks(v: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per face: distance to its nearest same-person face, and to its nearest other person."""
    d = np.sqrt(np.maximum(2.0 - 2.0 * v @ v.T, 0.0))
    np.fill_diagonal(d, np.inf)
    same = labels[:, None] == labels[None, :]
    to_same = np.where(same, d, np.inf).min(axis=1)
    to_other = np.where(~same, d, np.inf).min(axis=1)
    return to_same[np.isfinite(to_same)], to_other[np.isfinite(to_other)]


def people(n_people: int, per: int, *, dim: int = 32, spread: float = 0.15, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``n_people`` people with ``per`` photos each, nobody seen once (a family library)."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((n_people, dim))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    labels = np.repeat(np.arange(n_people), per)
    v = c[labels] + spread * rng.standard_normal((len(labels), dim)) / np.sqrt(dim)
    return v / np.linalg.norm(v, axis=1, keepdims=True), labels


def facenet_like(n_people: int, *, single: float, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """FaceNet-512-like scale: same person ~0.5-1.2, different people ~1.05-1.55, overlapping.

    ``make_faces`` gives every face the same spread, so its same-person distances are
    narrow; here each face has its own spread (image quality varies), the centres have a
    decaying spectrum (random pairs spread out like a real model's) and 30 % of the people
    have a look-alike.
    """
    rng = np.random.default_rng(seed)
    dim = 512
    spec = 1.0 / np.sqrt(1.0 + np.arange(dim) / 8.0)
    c = rng.standard_normal((n_people, dim)) * spec
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    look = rng.random(n_people) < 0.3
    twin = rng.integers(n_people, size=n_people)
    c[look] = c[twin[look]] + rng.standard_normal((int(look.sum()), dim)) * spec / np.linalg.norm(spec)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    sizes = np.where(rng.random(n_people) < single, 1, rng.poisson(6, n_people) + 2)
    labels = np.repeat(np.arange(n_people), sizes)
    scale = np.exp(rng.normal(np.log(0.7), 0.35, len(labels)))[:, None]
    v = c[labels] + scale * rng.standard_normal((len(labels), dim)) / np.sqrt(dim)
    return v / np.linalg.norm(v, axis=1, keepdims=True), labels


def assert_between(v: np.ndarray, labels: np.ndarray, *, impostor_q: float = 0.1) -> Thresholds:
    rows, k = knn_rows(v)
    t = calibrate(rows, k=k, random_pair_distances=random_pairs(v))
    to_same, to_other = bulks(v, labels)
    assert t.link is not None
    assert t.link > float(np.median(to_same)), (t.link, t.stats)
    assert t.link < float(np.quantile(to_other, impostor_q)), (t.link, t.stats)
    return t


def test_family_library_without_strangers_is_not_split_into_singletons() -> None:
    v, labels = people(6, 10)
    t = assert_between(v, labels)
    assert t.source == "fallback" and "reason" in t.stats
    old = calibrate(knn_rows(v)[0], k=10)  # without random pairs: the k-th neighbour as reference
    assert old.link is not None


@pytest.mark.parametrize(("n_people", "per"), [(3, 30), (12, 8)])
def test_family_libraries_of_other_shapes(n_people: int, per: int) -> None:
    v, labels = people(n_people, per, seed=n_people)
    assert_between(v, labels)


def test_make_faces_family() -> None:
    f = make_faces(60, dim=32, spread=0.15, junk_share=0.0, seed=1)
    assert_between(f.vectors.astype(np.float64), f.labels)


@pytest.mark.skipif(not os.path.exists(LFW), reason="lfw_dlib128 not available")
@pytest.mark.parametrize("n", [200, 3000])
def test_lfw_like_with_many_people_seen_once(n: int) -> None:
    x = np.load(os.path.join(LFW, "embeddings.npy")).astype(np.float64)
    with open(os.path.join(LFW, "faces.csv"), newline="") as fh:
        ids = np.array([r["identity"] for r in csv.DictReader(fh)])
    pick = np.random.default_rng(n).permutation(len(x))[:n]
    t = assert_between(x[pick], ids[pick])
    assert t.source == "calibrated"


@pytest.mark.parametrize(("n_people", "single"), [(10, 0.0), (500, 0.0), (600, 0.4)])
def test_facenet_like_scale_with_overlapping_distances(n_people: int, single: float) -> None:
    v, labels = facenet_like(n_people, single=single)
    to_same, to_other = bulks(v, labels)
    if n_people >= 100:  # with enough people look-alikes make the two kinds overlap
        assert np.quantile(to_other, 0.01) < np.quantile(to_same, 0.99)
    # overlapping: the impostor bulk is the lower quartile of nearest-impostor distances
    assert_between(v, labels, impostor_q=0.25)


@pytest.mark.parametrize("n", [20, 25])
def test_small_collections(n: int) -> None:
    v, labels = people(n // 5, 5, seed=n)
    t = assert_between(v, labels)
    assert t.source == "fallback" and "fewer than" in t.stats["reason"]


def test_one_person_only() -> None:
    """One person alone is, geometrically, a crowd of strangers at a smaller scale.

    Random pairs are then the same person, so the impostor reference caps ``link`` at their
    lower tail: precision-safe, and still a large share of faces link to their nearest
    neighbour (the kNN graph then chains them into one cluster).
    """
    v, _ = people(1, 200)
    rows, k = knn_rows(v)
    t = calibrate(rows, k=k, random_pair_distances=random_pairs(v))
    assert t.link is not None and t.review is not None and t.link <= t.review
    assert float(np.mean(rows[:, 0] < t.link)) >= 0.4


def test_bad_random_pairs_are_refused_with_the_position() -> None:
    rows = two_mode_sample(100)
    with pytest.raises(InvalidInput, match=r"random_pair_distances\[2\]"):
        calibrate(rows, k=10, random_pair_distances=[0.5, 0.6, float("nan")])


# -- the same rules on two very different scales ------------------------------------------------


def squeeze(v: np.ndarray, m: float = 2.3, seed: int = 0) -> np.ndarray:
    """Add a common direction and re-normalise: every distance shrinks ~2.5x (a dlib-like scale:
    random pairs ~0.56 instead of ~1.41), the geometry is otherwise the same."""
    u = np.random.default_rng(seed).standard_normal(v.shape[1])
    w = v + m * u / np.linalg.norm(u)
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def young_hard_set() -> tuple[np.ndarray, np.ndarray]:
    """The first 900 faces of quality_core's synth512hard: most people seen once so far."""
    f = make_faces(12000, dim=512, mean_size=2.4, spread=0.75, lookalike_share=0.3, lookalike_distance=0.9, seed=0)
    return f.vectors[:900].astype(np.float64), f.labels[:900]


def facenet_set(n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    f = make_faces(12000, dim=512, mean_size=2.4, spread=0.7, spread_sd=0.35, centre_rank=8,
                   lookalike_share=0.3, lookalike_distance=1.0, seed=0)
    return f.vectors[:n].astype(np.float64), f.labels[:n]


@pytest.mark.parametrize("squeezed", [False, True])
def test_wide_upper_mode_falls_back_to_the_lower_mode_not_into_the_impostors(squeezed: bool) -> None:
    """Isotropic make_faces: nearest strangers sit at the random-pair level and look-alikes
    much closer, so the upper mode is wide and rejected. The old fallback took the median +
    upper quartile of all nearest distances; with a third of them impostors that reached the
    random-pair floor (link 1.32 here: every face merged). Now the lower mixture component
    bounds it, on either scale."""
    v, labels = young_hard_set()
    if squeezed:
        v = squeeze(v)
    t = assert_between(v, labels, impostor_q=0.01)
    assert t.source == "fallback" and t.stats["fallback"] == "same_mode"
    assert t.review is not None and t.review < t.stats["reference_ceiling"]


def test_links_on_two_scales_sit_between_each_scales_bulks() -> None:
    """The same faces at a FaceNet-like scale (same ~0.5-1.1, different ~1.2-1.5) and squeezed
    to a dlib-like one (~2.5x closer): each link lies between that scale's same-person and
    nearest-impostor bulks, and the two links are in the ratio of the scales."""
    links = {}
    for name, (v, labels) in {"hard": young_hard_set(), "facenet": facenet_set()}.items():
        wide = assert_between(v, labels, impostor_q=0.25)
        narrow = assert_between(squeeze(v), labels, impostor_q=0.25)
        assert wide.link is not None and narrow.link is not None
        links[name] = (wide.link, narrow.link)
        assert wide.source == narrow.source
    for wide_link, narrow_link in links.values():
        assert 0.6 < wide_link < 1.05 and 0.24 < narrow_link < 0.42
        assert 2.2 < wide_link / narrow_link < 2.8


def test_make_faces_options_keep_the_default_output() -> None:
    a = make_faces(300, dim=64, seed=3)
    b = make_faces(300, dim=64, seed=3, spread_sd=0.0, centre_rank=None)
    assert np.array_equal(a.vectors, b.vectors) and np.array_equal(a.labels, b.labels)
    c = make_faces(300, dim=64, seed=3, spread_sd=0.35, centre_rank=8)
    assert not np.array_equal(a.vectors, c.vectors)


# -- collections the development set does not look like -----------------------------------------


def _lfw() -> tuple[np.ndarray, np.ndarray]:
    x = np.load(os.path.join(LFW, "embeddings.npy")).astype(np.float64)
    with open(os.path.join(LFW, "faces.csv"), newline="") as fh:
        ids = np.array([r["identity"] for r in csv.DictReader(fh)])
    return x, ids


@pytest.mark.skipif(not os.path.exists(LFW), reason="lfw_dlib128 not available")
def test_near_duplicates_do_not_move_the_link() -> None:
    """Burst shots and re-imports (a spike of tiny distances) must not become the 'same-person
    mode' (which would put link at ~0.01); they are skipped below a scale-free duplicate floor."""
    x, ids = _lfw()
    pick = np.random.default_rng(5).permutation(len(x))[:3000]
    v, labels = x[pick], ids[pick]
    rng = np.random.default_rng(6)
    dup = rng.choice(len(v), size=150, replace=False)
    jitter = v[dup] + rng.normal(scale=0.01 / np.sqrt(v.shape[1]), size=(150, v.shape[1]))
    w = np.vstack([v, jitter / np.linalg.norm(jitter, axis=1, keepdims=True)])
    plain = calibrate(knn_rows(v)[0], k=10, random_pair_distances=random_pairs(v))
    duped = calibrate(knn_rows(w)[0], k=10, random_pair_distances=random_pairs(w))
    assert plain.link is not None and duped.link is not None
    assert abs(duped.link / plain.link - 1) < 0.03, (plain.link, duped.link)
    assert duped.stats["duplicates"] >= 150
    assert_between(w, np.concatenate([labels, labels[dup]]))


@pytest.mark.skipif(not os.path.exists(LFW), reason="lfw_dlib128 not available")
@pytest.mark.parametrize("min_faces", [8, 40])
def test_few_people_with_many_photos_each_link_their_faces(min_faces: int) -> None:
    """No one seen once: no nearest-stranger mode. The link must still reach well into each
    person's own neighbourhood (at the median nearest distance most faces would stay
    unassigned) and stay clear of the strangers."""
    x, ids = _lfw()
    names, inv, counts = np.unique(ids, return_inverse=True, return_counts=True)
    rows = np.nonzero(counts[inv] >= min_faces)[0]
    rows = np.random.default_rng(min_faces).permutation(rows)[:2000]
    v, labels = x[rows], ids[rows]
    t = assert_between(v, labels)
    assert t.source == "fallback" and t.stats["basis"] == "genuine"
    to_same, _ = bulks(v, labels)
    assert float(np.mean(to_same < t.link)) > 0.85  # most faces link to their nearest own face


def test_answers_place_the_link_and_one_odd_answer_does_not_trap_it() -> None:
    rng = np.random.default_rng(0)
    boundary = 0.40
    d = np.exp(rng.uniform(np.log(0.25), np.log(0.6), 40))
    same = rng.random(40) < 1 / (1 + np.exp(30 * (np.log(d) - np.log(boundary))))
    t = Thresholds.from_link(0.28, source="calibrated")
    fitted = fit_to_answers(t, d[same].tolist(), d[~same].tolist())
    assert fitted.source == "refined" and fitted.link is not None
    # the link sits inside the fitted 50 % point (a stranger inside costs more than a miss)
    # and near the true boundary
    assert fitted.link < fitted.stats["answers_centre"], fitted.stats
    assert abs(fitted.link / boundary - 1) < 0.05, fitted.link
    odd = fit_to_answers(t, d[same].tolist() + [0.55], d[~same].tolist())
    assert odd.link is not None and abs(odd.link / fitted.link - 1) < 0.05
    only_same = fit_to_answers(t, [0.25, 0.3], [])
    assert only_same.link is not None and only_same.link > 0.3  # one kind only: moves past them


def test_drift_distance() -> None:
    rng = np.random.default_rng(1)
    ref = np.quantile(rng.normal(0.3, 0.03, 5000), np.linspace(0.1, 0.9, 9))
    assert drift(rng.normal(0.3, 0.03, 1000), ref) < 0.06
    assert drift(rng.normal(0.24, 0.03, 1000), ref) > 0.5


@pytest.mark.skipif(not os.path.exists(LFW), reason="lfw_dlib128 not available")
def test_repeated_people_with_few_photos_each_do_not_take_the_genuine_rule() -> None:
    """The demo's sample: 85 % of faces in people with a few photos, no clear nearest-stranger
    mode. Their k nearest are mostly strangers (far beyond the nearest), so the family-album
    rule would put link among them; the nearest-neighbour fallback is used instead."""
    from pathlib import Path

    from graphcluster.demo import sample_faces

    ids, vectors, _, person = sample_faces(1500, 0, Path(LFW))
    v = np.asarray(vectors, dtype=np.float64)
    t = assert_between(v, np.asarray([person.get(f, f) for f in ids]))
    if t.stats.get("basis") == "genuine":
        assert t.stats["neighbourhood_ratio"] > 1.25 and "mostly strangers" in t.stats["reason"]
