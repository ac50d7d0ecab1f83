"""Quality of the clustering core on real labelled faces, fed incrementally.

Feeds ``lfw_dlib128`` (shuffled with a fixed seed) in batches of 100 through ``MemoryGraph`` +
``build_region`` + ``recluster`` with exact numpy kNN, default settings and no human input;
the thresholds come from ``calibrate`` on the unlabelled kNN distances (re-calibrated while
the database is young, then frozen: a simpler policy than the engine's, which keeps
re-fitting on growth and drift, graphcluster/calibration.py; benchmarks/robustness.py
measures the engine itself). Prints pairwise and BCubed
precision/recall/F, the number of clusters and the share of faces auto / review /
unassigned, and writes docs/benchmarks/quality_core.md.

Usage::

    .venv/bin/python benchmarks/quality_core.py [--seeds 0 1] [--limit N] [--no-write]
        [--set large_context=3 --set attach_stored=False ...]

``--set FIELD=VALUE`` (a field of ``graphcluster.clustering.Tuning``) runs the clustering with
that constant changed, so a with/without comparison is one command; such a run never writes the doc.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import time
from collections import Counter
from pathlib import Path

import numpy as np

from graphcluster.clustering import MemoryGraph, Thresholds, Tuning, build_region, calibrate, recluster
from graphcluster.settings import Settings
from graphcluster.synth import make_faces

DATA = Path("/work/shared/data/lfw_dlib128")
OUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "quality_core.md"
WARMUP = 5000  # re-calibrate until this many faces, then freeze (the engine does not freeze)
SAMPLE = 2000
RESHUFFLE = 0.03  # as graphcluster/calibration.py


def load(seed: int, limit: int | None, data: str = "lfw") -> tuple[np.ndarray, np.ndarray]:
    """The faces and their true labels: lfw_dlib128 shuffled with ``seed``, or ``synth128`` /
    ``synth512`` (``make_faces(12000, dim=...)``, FaceNet-like identities with look-alikes and
    junk; junk faces have unique labels, i.e. count as true singletons)."""
    if data == "synth512hard":  # lfw-like: 2.4 faces per person, wide spread, many look-alikes
        sf = make_faces(limit or 12000, dim=512, mean_size=2.4, spread=0.75, lookalike_share=0.3,
                        lookalike_distance=0.9, seed=seed)
        return sf.vectors.astype(np.float32), sf.labels.astype(str)
    if data == "facenet512":  # FaceNet-512-like: per-face spread, anisotropic centres, 30 % look-alikes
        sf = make_faces(limit or 12000, dim=512, mean_size=2.4, spread=0.7, spread_sd=0.35, centre_rank=8,
                        lookalike_share=0.3, lookalike_distance=1.0, seed=seed)
        return sf.vectors.astype(np.float32), sf.labels.astype(str)
    if data.startswith("synth"):
        sf = make_faces(limit or 12000, dim=int(data[5:]), seed=seed)
        return sf.vectors.astype(np.float32), sf.labels.astype(str)
    x = np.load(DATA / "embeddings.npy").astype(np.float32)
    with open(DATA / "faces.csv", newline="") as fh:
        ids = np.array([row["identity"] for row in csv.DictReader(fh)])
    perm = np.random.default_rng(seed).permutation(len(x))
    x, ids = x[perm], ids[perm]
    if limit:
        x, ids = x[:limit], ids[:limit]
    return x, ids


def knn(x: np.ndarray, queries: np.ndarray, upto: int, k: int, self_offset: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Exact kNN of ``queries`` among ``x[:upto]`` (excluding the query itself)."""
    d2 = 2.0 - 2.0 * queries @ x[:upto].T
    if self_offset is not None:
        d2[np.arange(len(queries)), self_offset + np.arange(len(queries))] = np.inf
    kk = min(k, upto - (1 if self_offset is not None else 0))
    idx = np.argpartition(d2, kk - 1, axis=1)[:, :kk]
    dd = np.take_along_axis(d2, idx, 1)
    order = np.argsort(dd, axis=1)
    idx = np.take_along_axis(idx, order, 1)
    return idx, np.sqrt(np.maximum(np.take_along_axis(dd, order, 1), 0.0))


def random_pairs(v: np.ndarray, rng: np.random.Generator, rounds: int = 3) -> np.ndarray:
    """Distances of random pairs among the sampled faces (the impostor reference), as the engine does."""
    if len(v) < 2:
        return np.zeros(0)
    out = [np.linalg.norm(v - v[rng.permutation(len(v))], axis=1) for _ in range(rounds)]
    return np.concatenate(out)


def scores(truth: np.ndarray, pred: list[str]) -> dict[str, float]:
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(np.array(pred), return_inverse=True)
    pairs = Counter(zip(t.tolist(), p.tolist()))
    nt, npred = np.bincount(t), np.bincount(p)
    tp = sum(v * (v - 1) / 2 for v in pairs.values())
    pp, tt = float((npred * (npred - 1) / 2).sum()), float((nt * (nt - 1) / 2).sum())
    prec = tp / pp if pp else 1.0
    rec = tp / tt if tt else 1.0
    bp = sum(v * v / npred[b] for (a, b), v in pairs.items()) / len(t)
    br = sum(v * v / nt[a] for (a, b), v in pairs.items()) / len(t)
    return {"P": prec, "R": rec, "F": 2 * prec * rec / (prec + rec), "bP": bp, "bR": br,
            "bF": 2 * bp * br / (bp + br), "clusters": float(len(npred))}


def simulate(seed: int, limit: int | None, batch: int = 100, data: str = "lfw",
             tuning: Tuning | None = None) -> tuple[MemoryGraph, list[str], np.ndarray, Thresholds, dict[str, float]]:
    """Feed the faces in batches; returns the graph, face names, true labels, thresholds, timings."""
    s = Settings() if tuning is None else Settings(tuning=tuning)
    x, truth = load(seed, limit, data)
    n = len(x)
    g = MemoryGraph()
    names = [f"f{i:05d}" for i in range(n)]
    counter = itertools.count()
    thresholds = Thresholds.from_link(None, source="uncalibrated")
    frozen = False
    rng = np.random.default_rng(s.seed)
    started = time.perf_counter()
    region_sizes = []
    parts: dict[str, int] = {}
    reshuffle, cleanups = False, 0
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        if not frozen and stop > s.k + 1:
            pick = np.sort(rng.choice(stop, size=min(SAMPLE, stop), replace=False))
            _, dd = knn(x, x[pick], stop, s.k + 1, None)
            rows = np.array([r[1:] for r in dd])  # drop the face itself (distance 0)
            before = thresholds.link
            thresholds = calibrate(rows[:, : s.k], k=s.k, random_pair_distances=random_pairs(x[pick], rng))
            frozen = stop >= WARMUP
            # like the engine (graphcluster/calibration.py): a move of more than RESHUFFLE
            # re-clusters everything stored so far once, after this batch
            reshuffle = bool(before and thresholds.link and abs(thresholds.link - before) / before > RESHUFFLE)
        idx, dd = knn(x, x[start:stop], stop, s.k, start)
        g.add_faces(names[start:stop])
        g.add_edges((names[start + i], names[j], float(d)) for i in range(stop - start)
                    for j, d in zip(idx[i], dd[i]))
        region = build_region(g, names[start:stop], thresholds, region_limit=s.region_limit, tuning=s.tuning)
        region_sizes.append(len(region.faces))
        for key, count in region.parts.items():
            parts[key] = parts.get(key, 0) + count
        result = recluster(region, thresholds, seed=s.seed, max_iterations=s.max_iterations,
                           auto_confidence=s.auto_confidence, min_cluster_size=s.min_cluster_size,
                           new_id=lambda: f"c{next(counter)}", tuning=s.tuning)
        g.apply(result)
        if reshuffle:
            reshuffle = False
            cleanups += 1
            everything = g.faces()
            region = build_region(g, everything, thresholds, region_limit=len(everything) + 1, tuning=s.tuning)
            g.apply(recluster(region, thresholds, seed=s.seed, max_iterations=s.max_iterations,
                              auto_confidence=s.auto_confidence, min_cluster_size=s.min_cluster_size,
                              new_id=lambda: f"c{next(counter)}", tuning=s.tuning))
    seconds = time.perf_counter() - started
    info = {"cleanups": float(cleanups), "seconds": seconds, "region_mean": float(np.mean(region_sizes)),
            "region_max": float(np.max(region_sizes)),
            "region_parts": {k: round(v / len(region_sizes), 1) for k, v in parts.items()}}
    return g, names, truth, thresholds, info


def run(seed: int, limit: int | None, batch: int = 100, data: str = "lfw",
        tuning: Tuning | None = None) -> dict[str, object]:
    g, names, truth, thresholds, info = simulate(seed, limit, batch, data, tuning)
    n = len(names)
    labels = g.labels(names)
    pred = [c if c is not None else f"u:{f}" for f, (c, _) in ((f, labels[f]) for f in names)]
    status = Counter(st for _, st in labels.values())
    out: dict[str, object] = dict(scores(truth, pred))
    out.update(data=data, seed=seed, n=n, seconds=info["seconds"], link=thresholds.link, review=thresholds.review,
               source=thresholds.source, auto=status["auto"] / n, review_share=status["review"] / n,
               unassigned=status["unassigned"] / n, region_mean=info["region_mean"],
               region_max=int(info["region_max"]), region_parts=info["region_parts"], stats=thresholds.stats)
    return out


HEADER = "| data | seed | faces | link (calibrated) | pairwise P | R | F | BCubed P | R | F | clusters | auto | review | unassigned | region mean / max | s |"


def row(r: dict[str, object]) -> str:
    return (f"| {r['data']} | {r['seed']} | {r['n']} | {r['link']:.4f} ({r['source']}) | {r['P']:.4f} | {r['R']:.4f} | "
            f"{r['F']:.4f} | {r['bP']:.4f} | {r['bR']:.4f} | {r['bF']:.4f} | {int(r['clusters'])} | "  # type: ignore[arg-type]
            f"{r['auto']:.3f} | {r['review_share']:.3f} | {r['unassigned']:.3f} | "
            f"{r['region_mean']:.0f} / {r['region_max']} | {r['seconds']:.0f} |")


def tuning_from(items: list[str]) -> Tuning | None:
    """A ``Tuning`` with each ``FIELD=VALUE`` of ``items`` changed (None when there are none)."""
    if not items:
        return None
    fields = Tuning.model_fields
    changes: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in fields:
            raise SystemExit(f"--set {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(fields)}")
        changes[key] = value
    try:
        tuning = Tuning(**changes)  # type: ignore[arg-type]  # pydantic converts the strings
    except ValueError as e:
        raise SystemExit(f"--set: {e}") from None
    for key in changes:
        print(f"{key} = {getattr(tuning, key)!r} (default {fields[key].default!r})")
    return tuning


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--synthetic", action="store_true",
                    help="also run make_faces(12000, dim=128) and (dim=512), seed 0 (not the held-out set: "
                         "a check that a rule does not only fit lfw)")
    ap.add_argument("--only-synthetic", action="store_true", help="run only the synthetic sets")
    ap.add_argument("--without", nargs="*", default=[], choices=["attach", "local-scale"],
                    help="switch a rule off, to measure what it adds in one run (implies --no-write)")
    ap.add_argument("--attach-min", type=int, default=None, help="another Tuning.attach_min (implies --no-write)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="change a field of graphcluster.clustering.Tuning (repeatable); implies --no-write")
    args = ap.parse_args()
    # --without and --attach-min are shorthands for --set (a rule switched off, or another minimum)
    shorthand = {"attach": "attach_min=0", "local-scale": "local_scale=False"}
    changes = [shorthand[w] for w in args.without] + args.set
    if args.attach_min is not None:
        changes.append(f"attach_min={args.attach_min}")
    tuning = tuning_from(changes)
    if changes:
        args.no_write = True
    runs = [] if args.only_synthetic else [("lfw", s) for s in args.seeds]
    if args.synthetic or args.only_synthetic:
        runs += [("synth128", 0), ("synth512", 0), ("synth512hard", 0), ("facenet512", 0)]
    results = []
    print(HEADER)
    for data, seed in runs:
        r = run(seed, args.limit, data=data, tuning=tuning)
        results.append(r)
        print(row(r), flush=True)
    for r in results:
        print(f"{r['data']} seed {r['seed']} calibration stats: {r['stats']}")
        print(f"{r['data']} seed {r['seed']} region faces per batch, by where they came from: {r['region_parts']}")
    if not args.no_write:
        write(results, args)


def verdict(results: list[dict[str, object]]) -> list[str]:
    """One line per lfw run: does it meet the target (P >= 0.99, F >= 0.975, BCubed F >= 0.93)?"""
    out = []
    for r in results:
        if r["data"] != "lfw":
            continue
        short = [name for name, key, bar in (("P", "P", 0.99), ("F", "F", 0.975), ("BCubed F", "bF", 0.93))
                 if float(r[key]) < bar]  # type: ignore[arg-type]
        out.append(f"- lfw seed {r['seed']}: P {r['P']:.4f}, F {r['F']:.4f}, BCubed F {r['bF']:.4f}: "
                   + ("meets the target" if not short else "short on " + ", ".join(short)))
    return out


# How to read the page (written by hand, kept by every rerun; the figures are in the table above).
NOTES = [
    "What a rule of the clustering core adds (docs/clustering.md says what each does) is one command:",
    "the same run with a field of `graphcluster.clustering.Tuning` changed, e.g. `--set split_min=0` (no",
    "cluster re-check), `--set large_context=3`, `--set attach_stored=False`, or `--without attach",
    "local-scale` (no lone-face attachment, no local scale). Such runs print their table beside this",
    "one and never write this page.",
    "",
    "Why the cluster re-check (`split_weak`): dlib's descriptors place some groups of people (on lfw,",
    "many East-Asian faces) closer together than the global impostor level, so one global `link`",
    "cannot separate them, and once such a cluster exists a whole-graph recluster with the same",
    "thresholds leaves it as it is. The re-check runs Chinese Whispers on the mutual top-3 edges of",
    "each cluster held wholly in the region (at least `split_min` nodes) and rejoins its tight parts,",
    "closest first, while the links between them average below `split_join x link`. Large",
    "identities are partly held outside the region and never re-checked, so they do not fragment.",
    "",
    "Where the labels of this set were used: `LINK_Z` (how far into the impostor mode's lower tail",
    "`link` sits), `split_join` and `attach_min` were each chosen among a few values looking at lfw.",
    "`LINK_Z` and `split_join` are ratios and `attach_min` a count of votes, not distances, so they",
    "carry over to a model with another scale, but these are the places where this benchmark could",
    "flatter the held-out result; the synthetic rows are the check that a rule is not an lfw fit.",
    "",
    "The synthetic rows (`--synthetic`): `make_faces(12000, dim=128)`, `dim=512`, `synth512hard` =",
    "`make_faces(12000, dim=512, mean_size=2.4, spread=0.75, lookalike_share=0.3, lookalike_distance=0.9)`",
    "and `facenet512` = `make_faces(12000, dim=512, mean_size=2.4, spread=0.7, spread_sd=0.35, centre_rank=8,",
    "lookalike_share=0.3, lookalike_distance=1.0)`: per-face spread and anisotropic centres, so same-person",
    "nearest distances are wide and nearest impostors concentrate below random pairs, like a real",
    "FaceNet-512. The isotropic `make_faces` sets have no concentrated nearest-impostor mode",
    "(strangers sit at the random-pair level, look-alikes far closer), so their upper nearest-neighbour",
    "mode is wider than the lower one and they calibrate to a *fallback* link: the upper tail of the",
    "lower mixture component (docs/calibration.md); the re-check and the local scale do not run",
    "under a fallback link. On `facenet512` the look-alikes' nearest impostors are absorbed into the",
    "lower mixture component, whose upper tail (`same_cap`) then sets the link: its precision is the",
    "open calibration weakness.",
]


def write(results: list[dict[str, object]], args: argparse.Namespace) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import code_version, machine  # here: common imports this module

    OUT.parent.mkdir(parents=True, exist_ok=True)
    cmd = (f".venv/bin/python benchmarks/quality_core.py --seeds {' '.join(map(str, args.seeds))}"
           + (" --synthetic" if args.synthetic else "") + (f" --limit {args.limit}" if args.limit else ""))
    lines = [
        "## Clustering quality (core, incremental)",
        "",
        f"Command: `{cmd}`. Machine: {machine()}; {code_version()}.",
        "",
        "lfw_dlib128 (real dlib faces, labelled), rows shuffled with the given seed, fed in batches of 100",
        "through `MemoryGraph` + `build_region` + `recluster`, exact kNN (k = 10), default settings, no",
        "human input. The thresholds come from `calibrate` on unlabelled kNN distances (re-calibrated",
        "until 5,000 faces, then frozen); no distance is picked by looking at labels (but see the notes",
        "below). Unassigned faces count as singleton clusters.",
        "",
        HEADER,
        "|" + "---|" * (HEADER.count("|") - 1),
        *[row(r) for r in results],
        "",
        "Target: pairwise P >= 0.99, pairwise F >= 0.975, BCubed F >= 0.93. The peers on the same data,",
        "their thresholds picked with the labels: docs/benchmarks/quality.md.",
        "",
        *verdict(results),
        "",
        *NOTES,
        "",
    ]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
