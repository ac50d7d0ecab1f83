"""Synthetic FaceNet-like embeddings with known identities (demo, tests, benchmarks).

Each identity is a random centre on the unit sphere; a face is the centre plus isotropic
Gaussian noise, re-normalised. ``spread`` sets the within-person distance (two faces of one
person are about ``sqrt(2) * spread / sqrt(1 + spread**2)`` apart); different people are about
``sqrt(2)`` apart, except look-alikes, whose centres are placed near another identity's.
Identity sizes follow a heavy-tailed (Zipf-like) law, as in photo collections, and a share of
faces are junk (a random direction each: a false detection or a stranger in the background).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SyntheticFaces", "make_faces"]


@dataclass(frozen=True)
class SyntheticFaces:
    vectors: np.ndarray  # (n, dim) float32, unit rows
    labels: np.ndarray  # (n,) int identity; junk faces get unique negative labels
    ids: list[str]


def _unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x / np.linalg.norm(x, axis=-1, keepdims=True)
    return out


def make_faces(
    n: int,
    *,
    dim: int = 128,
    mean_size: float = 8.0,
    spread: float = 0.35,
    lookalike_share: float = 0.1,
    lookalike_distance: float = 0.55,
    junk_share: float = 0.03,
    seed: int = 0,
    spread_sd: float = 0.0,
    centre_rank: float | None = None,
) -> SyntheticFaces:
    """Generate ``n`` faces of about ``n / mean_size`` identities, shuffled.

    Args:
        n: number of faces.
        dim: embedding dimension (128 and 512 are the usual FaceNet sizes).
        mean_size: average faces per identity (sizes are heavy-tailed, at least 1).
        spread: within-person noise (see the module docstring).
        lookalike_share: share of identities whose centre sits near another identity's.
        lookalike_distance: noise that places a look-alike centre near its twin.
        junk_share: share of faces that belong to nobody.
        seed: random seed; the same seed gives the same faces.
        spread_sd: per-face spread: each face's noise is ``spread * exp(N(0, spread_sd))``
            (image quality varies; 0, the default, gives every face the same spread, which
            makes same-person distances unrealistically narrow in high dimension).
        centre_rank: when set, identity centres (and look-alike offsets) have a decaying
            spectrum ``1 / sqrt(1 + i / centre_rank)`` over the dimensions, so different
            people are not all ``sqrt(2)`` apart: random pairs spread out and the nearest
            of many strangers sits clearly below the random-pair level, as with a real
            model. None (the default): isotropic centres.

    The defaults of the last two keep the output of earlier versions (benchmarks depend on
    it). A FaceNet-512-like set (same person ~0.45-1.3, different people ~1.0-1.55, nearest
    impostors concentrated below random pairs): ``make_faces(n, dim=512, spread=0.7,
    spread_sd=0.35, centre_rank=8, lookalike_share=0.3, lookalike_distance=1.0)``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    n_junk = int(round(n * junk_share))
    n_real = n - n_junk
    sizes: list[int] = []
    while sum(sizes) < n_real:
        sizes.append(int(min(rng.zipf(1.6), mean_size * 40)) if rng.random() < 0.5 else int(rng.poisson(mean_size - 1) + 1))
    sizes[-1] -= sum(sizes) - n_real
    sizes = [s for s in sizes if s > 0]
    spec = np.ones(dim) if centre_rank is None else 1.0 / np.sqrt(1.0 + np.arange(dim) / centre_rank)
    spec_scale = np.sqrt(dim) if centre_rank is None else float(np.linalg.norm(spec))
    centres = _unit(rng.standard_normal((len(sizes), dim)) * spec)
    n_look = int(len(sizes) * lookalike_share)
    for i in rng.choice(len(sizes), size=n_look, replace=False) if len(sizes) > 1 else []:
        twin = int(rng.integers(len(sizes)))
        if twin != i:
            centres[i] = _unit(centres[twin] + lookalike_distance * rng.standard_normal(dim) * spec / spec_scale)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    noise = spread * rng.standard_normal((n_real, dim)) / np.sqrt(dim)
    if spread_sd > 0:
        noise *= np.exp(rng.normal(0.0, spread_sd, (n_real, 1)))
    real = _unit(centres[labels] + noise)
    junk = _unit(rng.standard_normal((n_junk, dim)))
    vectors = np.vstack([real, junk]).astype(np.float32)
    all_labels = np.concatenate([labels, -1 - np.arange(n_junk)])
    order = rng.permutation(n)
    return SyntheticFaces(
        vectors=vectors[order], labels=all_labels[order], ids=[f"f{i:07d}" for i in range(n)]
    )
