"""Collections graphcluster was not developed on, resampled and transformed from lfw_dlib128.

Each cell is a function ``(seed) -> Cell`` built only from ``/work/shared/data/lfw_dlib128``;
the seed picks the people, the strangers, the transform and the arrival order. A cell stands
in for a kind of collection a user may bring:

- ``dev``: the development set itself, shuffled;
- ``dense``: only people with at least 8 faces (few people, many faces each: almost every
  nearest neighbour is the same person);
- ``family``: the 12 people with most faces plus 3 % strangers seen once (a family album);
- ``longtail``: person sizes drawn Zipf-like (rank r gets about 150 / r faces);
- ``model512``: every vector centred, mapped by a random 128 -> 512 Gaussian transform and
  given independent noise, then re-normalised: another model's geometry (strangers near
  orthogonal, the same-person median similarity moved by more than 0.2 cosine);
- ``young300`` / ``young3000``: the first 300 / 3,000 faces of the shuffled set only;
- ``sorted``: the development set arriving person by person (all of one person's photos
  together, people in random order) instead of shuffled;
- ``dups``: the development set with 5 % of its faces duplicated with tiny jitter (burst
  shots, re-imports) at random places in the arrival order.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path("/work/shared/data/lfw_dlib128")


@dataclass(frozen=True)
class Cell:
    name: str
    vectors: np.ndarray  # (n, d) float32, unit rows, in arrival order
    labels: np.ndarray  # (n,) identity strings
    ids: list[str]

    @property
    def singleton_share(self) -> float:
        """Share of faces whose person has no other face in the cell (the unassigned floor)."""
        _, inv, counts = np.unique(self.labels, return_inverse=True, return_counts=True)
        return float((counts[inv] == 1).mean())


_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def lfw() -> tuple[np.ndarray, np.ndarray]:
    """lfw_dlib128 in file order: (vectors, identity labels)."""
    if "lfw" not in _CACHE:
        x = np.load(DATA / "embeddings.npy").astype(np.float32)
        with open(DATA / "faces.csv", newline="") as fh:
            ident = np.array([row["identity"] for row in csv.DictReader(fh)])
        _CACHE["lfw"] = (x, ident)
    return _CACHE["lfw"]


def _cell(name: str, rows: np.ndarray, rng: np.random.Generator, *, shuffle: bool = True,
          vectors: np.ndarray | None = None) -> Cell:
    x, ident = lfw()
    rows = np.asarray(rows)
    if shuffle:
        rows = rows[rng.permutation(len(rows))]
    v = x[rows] if vectors is None else vectors[rows]
    return Cell(name, np.ascontiguousarray(v, dtype=np.float32), ident[rows], [f"{name}-{int(r)}" for r in rows])


def _normalise(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def dev(seed: int) -> Cell:
    x, _ = lfw()
    return _cell("dev", np.arange(len(x)), np.random.default_rng(seed))


def dense(seed: int) -> Cell:
    _, ident = lfw()
    _, inv, counts = np.unique(ident, return_inverse=True, return_counts=True)
    return _cell("dense", np.nonzero(counts[inv] >= 8)[0], np.random.default_rng(seed))


def family(seed: int) -> Cell:
    _, ident = lfw()
    rng = np.random.default_rng(seed)
    names, inv, counts = np.unique(ident, return_inverse=True, return_counts=True)
    top = np.argsort(-counts, kind="stable")[:12]
    members = np.nonzero(np.isin(inv, top))[0]
    singles = np.nonzero(counts[inv] == 1)[0]
    strangers = rng.choice(singles, size=round(0.03 * len(members) / 0.97), replace=False)
    return _cell("family", np.concatenate([members, strangers]), rng)


def longtail(seed: int) -> Cell:
    _, ident = lfw()
    rng = np.random.default_rng(seed)
    _, inv, counts = np.unique(ident, return_inverse=True, return_counts=True)
    people = rng.permutation(len(counts))[:2500]
    people = people[np.argsort(-counts[people], kind="stable")]  # the biggest available take the top ranks
    rows = []
    for rank, p in enumerate(people, start=1):
        want = max(1, round(150 / rank))
        faces = np.nonzero(inv == p)[0]
        rows.extend(rng.choice(faces, size=min(want, len(faces)), replace=False).tolist())
    return _cell("longtail", np.array(rows), rng)


def model512(seed: int) -> Cell:
    x, _ = lfw()
    rng = np.random.default_rng(10_000 + seed)
    centred = _normalise(x - x.mean(axis=0))
    w = rng.normal(size=(x.shape[1], 512)) / np.sqrt(x.shape[1])
    y = _normalise(centred @ w)
    y = _normalise(y + rng.normal(scale=0.3 / np.sqrt(512), size=y.shape))
    return _cell("model512", np.arange(len(x)), np.random.default_rng(seed), vectors=y)


def young(n: int) -> Callable[[int], Cell]:
    def make(seed: int) -> Cell:
        c = dev(seed)
        return Cell(f"young{n}", c.vectors[:n], c.labels[:n], c.ids[:n])
    return make


def sorted_arrival(seed: int) -> Cell:
    _, ident = lfw()
    rng = np.random.default_rng(seed)
    names, inv = np.unique(ident, return_inverse=True)
    order = rng.permutation(len(names))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    rows = np.lexsort((rng.random(len(inv)), rank[inv]))
    return _cell("sorted", rows, rng, shuffle=False)


def dups(seed: int) -> Cell:
    base = dev(seed)
    rng = np.random.default_rng(20_000 + seed)
    n = len(base.ids)
    pick = rng.choice(n, size=round(0.05 * n), replace=False)
    dim = base.vectors.shape[1]
    jitter = _normalise(base.vectors[pick] + rng.normal(scale=0.01 / np.sqrt(dim), size=(len(pick), dim)))
    vectors = np.concatenate([base.vectors, jitter])
    labels = np.concatenate([base.labels, base.labels[pick]])
    ids = base.ids + [f"{base.ids[i]}-dup" for i in pick]
    order = rng.permutation(len(ids))
    return Cell("dups", vectors[order], labels[order], [ids[i] for i in order])


CELLS: dict[str, Callable[[int], Cell]] = {
    "dev": dev,
    "dense": dense,
    "family": family,
    "longtail": longtail,
    "model512": model512,
    "young300": young(300),
    "young3000": young(3000),
    "sorted": sorted_arrival,
    "dups": dups,
}
