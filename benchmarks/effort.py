"""Human effort: BCubed F against the number of review answers, for three ways of choosing questions.

Steps:

1. build each collection (``benchmarks/cells.py``): the development set lfw_dlib128 in three
   arrival orders — ``shuffled``, ``sorted`` (person by person) and ``recurring`` (every
   person's first half of photos in random order, then the second halves: people come back
   later) — and the ``dense`` (people with >= 8 faces) and ``family`` cells; ingest each once
   in batches of 100 into a fresh embedded ``GraphCluster`` with default settings;
2. for each way of choosing questions, on a copy of that store, a simulated reviewer takes a
   page of 20 questions, answers them in order from the labels, takes the next page, until
   one answer per 25 faces is spent (``--per`` changes the budget) or nothing is left to ask:
   - ``ranked``: ``review_queue(limit=20)``, the expected-gain order;
   - ``random``: 20 questions drawn at random from the open ones (``review_queue(limit=1000)``);
   - ``uncertain``: plain uncertainty sampling, the 20 open questions whose shown pair of
     faces (the first face and the face shown beside it) is nearest the link threshold;
3. the reviewer answers as a person who knows every face: merge yes iff the two sides'
   majority persons match; face yes iff the face is its cluster's majority person; pair yes
   iff the two faces are one person; and for bulk questions the true subset — join: the faces
   that are the person's majority person; split: "no" with the members that are not;
   new person: the faces of the shown faces' majority person (when two or more, else "no");
4. after ingest and every ``--step`` answers, pairwise and BCubed F over all faces
   (unassigned faces are singletons); docs/effort.png plots the curves and
   docs/benchmarks/effort.md gets the table.

Usage::

    .venv/bin/python benchmarks/effort.py [--sets shuffled sorted recurring dense family] [--step 50] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cells  # noqa: E402
from common import DOCS, code_version, machine, predictions, say, scores, write_section  # noqa: E402

from graphcluster import GraphCluster  # noqa: E402
from graphcluster.errors import GraphClusterError  # noqa: E402

BATCH = 100
PAGE = 20
TARGETS = {"shuffled": 0.98, "sorted": 0.98, "recurring": 0.98, "dense": 0.97, "family": 0.97}
METHODS = ("ranked", "random", "uncertain")


def recurring(seed: int) -> cells.Cell:
    """The development set with every person's photos in two visits: first halves, then second halves."""
    c = cells.dev(seed)
    rng = np.random.default_rng(30_000 + seed)
    seen: Counter[str] = Counter()
    total = Counter(c.labels.tolist())
    second = np.array([bool((seen.update([p]) or True) and seen[p] > (total[p] + 1) // 2) for p in c.labels])
    order = np.concatenate([rng.permutation(np.nonzero(~second)[0]), rng.permutation(np.nonzero(second)[0])])
    return cells.Cell("recurring", c.vectors[order], c.labels[order], [c.ids[i] for i in order])


SETS = {"shuffled": cells.dev, "sorted": cells.sorted_arrival, "recurring": recurring,
        "dense": cells.dense, "family": cells.family}


def _majority(faces: list[str], ident: dict[str, str]) -> str | None:
    c = Counter(ident[f] for f in faces if f in ident)
    return max(sorted(c), key=lambda p: c[p]) if c else None


def _said(item: Any, reply: str, faces: list[str] | None) -> str:
    """yes / no / some: what an answer said about the faces shown."""
    if faces is None:
        return reply
    yes = len(faces) if reply == "yes" else len(item.faces_a) - len(faces)
    return "yes" if yes == len(item.faces_a) else ("no" if yes == 0 else "some")


class Reviewer:
    """Answers review items from the labels; counts what it said."""

    def __init__(self, gc: GraphCluster, cell: cells.Cell, method: str, seed: int) -> None:
        self.gc, self.method = gc, method
        self.ident = dict(zip(cell.ids, cell.labels.tolist()))
        self.row = {f: i for i, f in enumerate(cell.ids)}
        self.x = cell.vectors
        self.rng = random.Random(seed)
        self.link = float(gc.stats().thresholds["link"])
        self.answers = self.refused = 0
        self.kinds: Counter[tuple[str, str]] = Counter()
        self.seconds = 0.0

    def _members(self, cluster: str | None) -> list[str]:
        return self.gc.store.cluster_members([cluster])[cluster] if cluster else []

    def reply(self, item: Any) -> tuple[str, list[str] | None]:
        ident = self.ident
        if item.kind == "merge":
            return ("yes" if _majority(item.faces_a, ident) == _majority(item.faces_b, ident) else "no"), None
        if item.kind == "face":
            members = [f for f in self._members(item.cluster_b) if f != item.faces_a[0]] or item.faces_b
            return ("yes" if ident[item.faces_a[0]] == _majority(members, ident) else "no"), None
        if item.kind == "pair":
            return ("yes" if ident[item.faces_a[0]] == ident[item.faces_b[0]] else "no"), None
        if item.kind == "join":
            person = _majority([f for f in self._members(item.cluster_b) if f not in item.faces_a] or item.faces_b, ident)
            return "yes", [f for f in item.faces_a if ident[f] == person]
        if item.kind == "split":
            person = _majority(self._members(item.cluster_a) or item.faces_a, ident)
            return "no", [f for f in item.faces_a if ident[f] != person]
        person = _majority(item.faces_a, ident)  # new person
        picked = [f for f in item.faces_a if ident[f] == person]
        return ("yes", picked) if len(picked) >= 2 else ("no", list(item.faces_a))

    def _distance(self, item: Any) -> float:
        a = item.faces_a[0]
        b = item.faces_b[0] if item.faces_b else (item.faces_a[1] if len(item.faces_a) > 1 else a)
        va, vb = self.x[self.row[a]], self.x[self.row[b]]
        return float(np.sqrt(max(0.0, 2.0 - 2.0 * float(va @ vb))))

    def page(self) -> list[Any]:
        if self.method == "ranked":
            return self.gc.review_queue(limit=PAGE)
        pool = self.gc.review_queue(limit=1000)
        if self.method == "random":
            return self.rng.sample(pool, min(PAGE, len(pool)))
        return sorted(pool, key=lambda it: (abs(self._distance(it) - self.link), it.id))[:PAGE]

    def answer_some(self, budget: int) -> int:
        """Answer up to ``budget`` questions, a page at a time; returns how many (0: nothing left)."""
        done = 0
        while done < budget:
            page = self.page()
            if not page:
                break
            for item in page[: budget - done]:
                reply, faces = self.reply(item)
                t0 = time.perf_counter()
                try:
                    self.gc.answer(item.id, reply, faces=faces, by="simulated-reviewer")
                except GraphClusterError:
                    self.refused += 1
                    continue
                finally:
                    self.seconds += time.perf_counter() - t0
                self.kinds[(item.kind, _said(item, reply, faces))] += 1
                self.answers += 1
                done += 1
        return done


def ingest(cell: cells.Cell, where: Path) -> float:
    t0 = time.perf_counter()
    with GraphCluster.open(where) as gc:
        for start in range(0, len(cell.ids), BATCH):
            gc.add_faces(cell.vectors[start:start + BATCH], ids=cell.ids[start:start + BATCH])
    return time.perf_counter() - t0


def review(cell: cells.Cell, store: Path, method: str, step: int, per: int, seed: int) -> dict[str, Any]:
    budget = len(cell.ids) // per
    curve: list[tuple[int, float, float]] = []
    with GraphCluster.open(store) as gc:
        rv = Reviewer(gc, cell, method, seed)

        def measure() -> float:
            pred, _ = predictions(gc, cell.ids)
            s = scores(cell.labels, pred)
            curve.append((rv.answers, float(s["F"]), float(s["bF"])))
            return float(s["bF"])

        measure()
        dry = False
        while rv.answers < budget:
            if rv.answer_some(min(step, budget - rv.answers)) == 0:
                dry = True
                break
            measure()
        open_left = gc.stats().open_reviews
        tally = gc.store.get_meta().get("review_tally") or {}
    return {"method": method, "tally": tally, "curve": curve, "answers": rv.answers, "budget": budget, "dry": dry,
            "refused": rv.refused, "kinds": rv.kinds, "ms": 1000 * rv.seconds / max(rv.answers + rv.refused, 1),
            "open": open_left}


def plot(results: dict[str, list[dict[str, Any]]], sizes: dict[str, int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(3.3 * len(results), 3.4), squeeze=False)
    style = {"ranked": "-", "random": "--", "uncertain": ":"}
    for ax, (name, runs) in zip(axes[0], results.items()):
        for r in runs:
            a = np.array(r["curve"])
            ax.plot(a[:, 0], a[:, 2], style[r["method"]], label=r["method"])
        ax.axhline(TARGETS[name], color="grey", lw=0.8)
        ax.set_title(f"{name} ({sizes[name]:,} faces)", fontsize=9)
        ax.set_xlabel("answers", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("BCubed F")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    say(f"wrote {path}")


CODE = code_version()  # taken at start: the tree may change while a run goes on


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--step", type=int, default=50, help="answers between two measurements")
    ap.add_argument("--per", type=int, default=25, help="the budget: one answer per this many faces")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    results: dict[str, list[dict[str, Any]]] = {}
    sizes: dict[str, int] = {}
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="gc-effort-"))
    try:
        for name in args.sets:
            cell = SETS[name](args.seed)
            sizes[name] = len(cell.ids)
            base = tmp / f"{name}-ingested"
            spent = ingest(cell, base)
            say(f"{name}: {len(cell.ids):,} faces ingested in {spent:.0f} s")
            results[name] = []
            for method in args.methods:
                work = tmp / f"{name}-{method}"
                shutil.copytree(base, work)
                r = review(cell, work, method, args.step, args.per, args.seed)
                shutil.rmtree(work, ignore_errors=True)
                results[name].append(r)
                first, last = r["curve"][0], r["curve"][-1]
                kinds = ", ".join(
                    f"{k} {sum(v for (kk, _a), v in r['kinds'].items() if kk == k)}"
                    f" ({r['kinds'][(k, 'yes')]} yes, {r['kinds'][(k, 'some')]} some)"
                    for k in sorted({k for k, _a in r["kinds"]}))
                met = "yes" if last[2] >= TARGETS[name] else "no"
                rows.append(f"| {name} | {len(cell.ids):,} | {method} | {first[1]:.4f} / {first[2]:.4f} | "
                            f"{r['answers']}{' (nothing left to ask)' if r['dry'] else ''} | "
                            f"{last[1]:.4f} / **{last[2]:.4f}** | {TARGETS[name]} {met} | {kinds} | {r['refused']} | "
                            f"{r['ms']:.0f} | {r['open']} |")
                print(rows[-1], flush=True)
                say("  per kind [answers, predicted, realised]: "
                    + ", ".join(f"{k} {v}" for k, v in sorted(r["tally"].items())))
            shutil.rmtree(base, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.no_write:
        return
    plot(results, sizes, DOCS / "effort.png")
    cmd = (f"`.venv/bin/python benchmarks/effort.py --sets {' '.join(args.sets)} --methods {' '.join(args.methods)} "
           f"--step {args.step} --per {args.per} --seed {args.seed}`")
    lines = [
        "## Human effort: BCubed F against review answers",
        "",
        f"Command: {cmd}. Machine: {machine()}; {CODE}.",
        "",
        f"Seed {args.seed} (one seed per collection: the cell's people, strangers and arrival order). Each collection is",
        "ingested once in batches of 100 with default settings into the embedded store; each method then answers",
        f"on a copy of it, a page of {PAGE} at a time, one answer per {args.per} faces. *ranked*: `review_queue()`",
        "(expected BCubed gain per answer); *random*: 20 open questions at random; *uncertain*: the 20 open questions",
        "whose shown pair of faces is nearest the link threshold. The reviewer answers from the labels, bulk",
        "questions with the true subset (benchmarks/effort.py says how). F over all faces, unassigned = singletons;",
        "\"F / BCubed F\" is pairwise / BCubed. The method is explained in [decisions.md](../decisions.md#review-questions).",
        "",
        "| collection | faces | method | F / BCubed F after ingest | answers | F / BCubed F after the answers "
        "| target BCubed F met | answers by kind | refused | ms per answer | open questions left |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "\"some\": a bulk answer naming a subset (not all, not none). \"refused\": `answer()` raised.",
        "",
        "![BCubed F vs answers](../effort.png)",
    ]
    write_section("effort", lines)


if __name__ == "__main__":
    main()
