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


def write(results: list[dict[str, object]], args: argparse.Namespace) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "## Clustering quality (core, incremental)",
        "",
        "`benchmarks/quality_core.py`: lfw_dlib128 (real dlib faces, labelled), rows shuffled with the given",
        "seed, fed in batches of 100 through `MemoryGraph` + `build_region` + `recluster`, exact kNN",
        "(k = 10), default settings, no human input. The thresholds come from `calibrate` on unlabelled",
        "kNN distances (re-calibrated until 5,000 faces, then frozen); no distance was picked by looking",
        "at labels (but see the notes on LINK_Z and split_join below). Unassigned faces count as singleton clusters.",
        "",
        f"Command: `.venv/bin/python benchmarks/quality_core.py --seeds {' '.join(map(str, args.seeds))}"
        + (" --synthetic`" if args.synthetic else "`")
        + (f" --limit {args.limit}" if args.limit else ""),
        "",
        HEADER,
        "|" + "---|" * (HEADER.count("|") - 1),
        *[row(r) for r in results],
        "",
        "Target: pairwise P >= 0.99, pairwise F >= 0.975, BCubed F >= 0.93. References on the",
        "same data: HDBSCAN (all at once) 0.975 / 0.919; batch Chinese Whispers at its best threshold",
        "picked with the labels (L2 < 0.30) 0.972 / 0.923.",
        "",
        *verdict(results),
        '',
        'What each of three rules of the clustering core adds, measured on 4 shuffles and the',
        'FaceNet-like set, one run per row, on the core as it was when the rules were chosen (its',
        'default row is not the table above: later rules moved every row). Each row is re-measured on',
        'the current core by `.venv/bin/python benchmarks/quality_core.py --seeds 0 1 2 3 --synthetic`',
        'with the `--set` options in its first column added (`--set` runs never write this page):',
        '',
        '| rules | lfw seed 0 P / F / BCubed F | lfw F, seeds 0-3 | lfw P, seeds 0-3 | facenet512 P / F / BCubed F |',
        '|---|---|---|---|---|',
        '| all three rules off: `--set large_context=3 --set attach_stored=False`, lone neighbours voting (*) | 0.9966 / 0.9748 / 0.9337 | 0.9748 0.9726 0.9809 0.9775 (mean 0.9765) | 0.9966 0.9962 0.9912 0.9926 | 0.9698 / 0.9642 / 0.9548 |',
        '| peeled neighbours still vote: `--set large_context=3`, lone neighbours voting (*) | 0.9968 / 0.9757 / 0.9345 | 0.9757 0.9736 0.9835 0.9785 (mean 0.9778) | 0.9968 0.9961 0.9964 0.9921 | 0.9632 / 0.9756 / 0.9638 |',
        "| a large cluster gives only the seeds' neighbours, with the support rule: lone neighbours voting (*) | 0.9964 / 0.9754 / 0.9344 | 0.9754 0.9738 0.9808 0.9785 (mean 0.9771) | 0.9964 0.9964 0.9918 0.9918 | 0.9709 / 0.9787 / 0.9655 |",
        '| lone neighbours abstain: the default (no `--set`) | 0.9972 / 0.9760 / 0.9351 | 0.9760 0.9749 0.9808 0.9792 (mean 0.9777) | 0.9972 0.9965 0.9918 0.9926 | 0.9708 / 0.9801 / 0.9671 |',
        '',
        "(*) Lone neighbours voting for themselves is a variant measured and not kept in the code.",
        "",
        "`attach_stored`: a face attached to a cluster by its neighbours' unanimous votes (`attach_lone`)",
        'has no link closer than `link`, so the next re-check of its cluster (`split_weak`) peels it off,',
        'together with every other such member; without the rule they count each other as lone faces',
        'voting elsewhere and none comes back (on seed 0, faces attached in batch 36 are lost in batch 54).',
        'With it, a peeled neighbour votes for the label holding most of its former cluster. `large_context =',
        '1` is chosen over 3 for the FaceNet-like set (precision 0.9709 against 0.9632) and the cost at 1M',
        '(docs/clustering.md); on lfw the two are within the spread between shuffles. A neighbour that is',
        'alone abstains instead of blocking the vote: better on all five runs. With abstaining lone',
        'neighbours, `attach_stored = False` measures the same within 0.0004 F (seed 0 identical); it stays,',
        'because a face peeled off *another* cluster should still block. The rules of rows 2-4 were',
        'chosen looking at lfw (as LINK_Z and split_join were); the FaceNet-like set is the check',
        'that a rule is not an lfw fit.',
        "",
        "Two more rules of the core (docs/clustering.md): the re-check's join limit is scaled by",
        "min(1, the members' median nearest-outsider distance / the calibrated nearest-impostor mode)",
        "(local scale, no new constant), and a lone face joins the cluster that all (>= `attach_min = 4`)",
        "of its neighbours closer than `review` belong to. Without / with them in the same run conditions",
        "(`--without attach local-scale` switches both off):",
        "",
        "| rules | lfw seed | P | R | F | BCubed P | R | F |",
        "|---|---|---|---|---|---|---|---|",
        "| without | 0 | 0.9872 | 0.9344 | 0.9600 | 0.9797 | 0.8869 | 0.9310 |",
        "| with | 0 | 0.9969 | 0.9604 | 0.9783 | 0.9861 | 0.8882 | 0.9346 |",
        "| without | 1 | 0.9902 | 0.9295 | 0.9589 | 0.9797 | 0.8798 | 0.9271 |",
        "| with | 1 | 0.9967 | 0.9455 | 0.9704 | 0.9861 | 0.8748 | 0.9271 |",
        "",
        "The synthetic rows (`--synthetic`: `make_faces(12000, dim=128)`, `dim=512`, `synth512hard` =",
        "`make_faces(12000, dim=512, mean_size=2.4, spread=0.75, lookalike_share=0.3, lookalike_distance=0.9)`",
        "and `facenet512` = `make_faces(12000, dim=512, mean_size=2.4, spread=0.7, spread_sd=0.35, centre_rank=8,",
        "lookalike_share=0.3, lookalike_distance=1.0)`: per-face spread and anisotropic centres, so same-person",
        "nearest distances are wide (~0.54-0.89) and nearest impostors concentrate below random pairs, like a",
        "real FaceNet-512). The isotropic `make_faces` sets have no concentrated nearest-impostor mode",
        "(strangers sit at the random-pair level, look-alikes far closer), so their upper nearest-neighbour",
        "mode is wider than the lower one and they calibrate to a *fallback* link: the upper tail of the",
        "lower mixture component (docs/calibration.md). A fallback of median + upper quartile of all",
        "nearest distances would, in a young database of people seen once, reach the random-pair floor",
        "(synth512hard at 900-2,000 faces: link 1.32, everything merged).",
        "",
        "facenet512's precision (about 0.971) is the open calibration weakness: its look-alikes' nearest",
        "impostors (~0.87-1.0) are absorbed into the lower mixture component, whose upper tail (`same_cap`,",
        "0.984) then binds, inside the nearest-impostor q10 (0.97).",
        "",
        "Why the cluster re-check (`split_weak`, below): without it (the variant rows marked 'no re-check'),",
        "almost all false pairs sit in three clusters of East-Asian faces (about 9,000 of 11,000 false",
        "pairs on seed 0: 108, 74 and 62 faces of 10-20 people each), which dlib's descriptors place",
        "closer together than the global impostor level (same person ~0.25, nearest impostor",
        "~0.28-0.30 there, against ~0.37 elsewhere): one global `link` cannot separate them, and",
        "once such a cluster exists it is a fixed point (a final whole-graph recluster with the",
        "frozen thresholds leaves it as it is).",
        "",
        "Precision is sensitive to the calibration's sampling noise on this set: the variants below",
        "marked 'k-th-neighbour reference' calibrate without random pairs (the k-th neighbour is the",
        "impostor reference), and seed 0's link is then 0.306 instead of 0.312, with precision (no",
        "re-check) 0.964 instead of 0.954.",
        "",
        "Variants measured on seed 0 (same command, module constants changed):",
        "",
        "| variant | link | P | R | F | BCubed F |",
        "|---|---|---|---|---|---|",
        "| LINK_Z 2.0 (k-th-neighbour reference) | 0.317 | 0.912 | 0.981 | 0.945 | 0.938 |",
        "| LINK_Z 2.5 (k-th-neighbour reference) | 0.306 | 0.964 | 0.968 | 0.966 | 0.931 |",
        "| LINK_Z 3.0 (k-th-neighbour reference) | 0.295 | 0.981 | 0.951 | 0.966 | 0.916 |",
        "| LINK_Z 2.0, only newcomers move (k-th-neighbour reference) | 0.317 | 0.925 | 0.978 | 0.951 | 0.935 |",
        "| LINK_Z 2.5, only newcomers move (k-th-neighbour reference) | 0.306 | 0.940 | 0.965 | 0.952 | 0.926 |",
        "| LINK_Z 2.5, random-pair reference, no re-check | 0.312 | 0.954 | 0.973 | 0.963 | 0.937 |",
        "| re-check (`split_min = 10`), `split_join = 0.85` (*) | 0.312 | 0.998 | 0.691 | 0.817 | 0.840 |",
        "| re-check, `split_join = 0.92` (*) | 0.312 | 0.997 | 0.855 | 0.921 | 0.897 |",
        "| re-check, `split_join = 0.96` (*) | 0.312 | 0.989 | 0.945 | 0.966 | 0.931 |",
        "| Chinese Whispers on mutual top-3 edges only (M = 3), no re-check | 0.312 | 0.992 | 0.680 | 0.807 | 0.867 |",
        "| mutual top-3 edges, `merge_mean = 0.95` (fragments re-merge by average linkage), no re-check | 0.312 | 0.984 | 0.927 | 0.955 | 0.925 |",
        "| mutual top-5 edges, no re-check | 0.312 | 0.965 | 0.811 | 0.881 | 0.912 |",
        "| edge kept only if d < 0.85 x the 10th-nearest edge of both ends (local density) | 0.312 | 0.952 | 0.073 | 0.136 | 0.753 |",
        "| edge kept only if d < the median edge of either end | 0.312 | 0.956 | 0.972 | 0.964 | 0.929 |",
        "| edge kept only if d < the median edge of both ends | 0.312 | 0.971 | 0.850 | 0.906 | 0.882 |",
        "| merge also needs mean cross distance < 0.9 x the fragments' distance to third parties, mutual top-3 edges | 0.312 | 0.968 | 0.437 | 0.602 | 0.901 |",
        "| no re-check + a final whole-graph recluster with the frozen thresholds | 0.312 | 0.954 | 0.973 | 0.963 | 0.937 |",
        "",
        "(*) measured with a re-check in which a split-off part could take the name of the part that",
        "kept the label and so rejoin it; the default re-check does not allow that, and its figures",
        "are the table at the top.",
        "",
        "What the variants show: pruning edges before Chinese Whispers (mutual kNN, local density)",
        "does cut the false merges, but George W Bush (529 faces, 139k of the set's true pairs)",
        "then splits into dozens of fragments that the merge step cannot rejoin (his fragments'",
        "members are partly held outside the region), and pairwise recall collapses. The dense",
        "clusters themselves survive every variant in smaller form.",
        "",
        "What works: re-checking each cluster held wholly in the region (at least 10 nodes) after the",
        "merge step: Chinese Whispers on its mutual top-3 edges finds its tight parts, which rejoin,",
        "closest first, while the links between them average below `split_join x link` (average",
        "linkage). Large identities are partly held outside the region and never re-checked, so",
        "they do not fragment. `split_join` was chosen among {0.85, 0.92, 0.96} with this set's",
        "labels (like LINK_Z): a ratio to the calibrated link, so it carries over to another scale,",
        "but it is the second place where this benchmark could flatter the held-out result. Cost:",
        "the run takes 2-4x as long as with `--set split_min=0` (95-144 s against 32-41 s,",
        "noisy shared machine; the re-check is bounded by the region, not the graph).",
        "Not measured: a local impostor level per face taken from random faces rather than its kNN.",
        '',
        '### The same code on synthetic FaceNet-512-like data (not the held-out set)',
        '',
        'Same pipeline (batches of 100, exact kNN, calibration with random pairs), measured once with',
        'an ad-hoc script outside benchmarks/, pairwise P / R / F and BCubed F:',
        '',
        '| data | link (source) | without the re-check | with the re-check |',
        '|---|---|---|---|',
        '| `facenet_like(600, single=0.4)` from tests/unit/test_calibration.py (2,949 faces; per-face spread, 30 % look-alikes, overlapping distances) | 0.953 (calibrated) | 0.772 / 0.960 / 0.856 / 0.918 | 0.903 / 0.903 / 0.903 / 0.938 |',
        '| `make_faces(3000, dim=512, spread=0.75, lookalike_share=0.3, lookalike_distance=0.9)` (tight, isotropic) | 0.827 (fallback) | 1.000 / 0.988 / 0.994 / 0.928 | the re-check is skipped under a fallback link: run there, it gives 1.000 / 0.051 / 0.097 / 0.392 |',
        '',
        'A variant that also rejoins parts whose links are no longer than 1.1 x the links inside',
        'them (`SPLIT_RATIO`) lifts that recall only to 0.53 and costs lfw precision (seed 0: 0.979);',
        'it is not used.',
        "",
        "LINK_Z (how far into the impostor mode's lower tail `link` sits) is the one calibration",
        "constant that was chosen among {2, 2.5, 3} with this set's labels; it is a property of the",
        "mixture, not a distance, so it carries over to a model with another scale, but it is the",
        "place where this benchmark could flatter the held-out result.",
        "",
    ]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
