"""Human effort: how many review answers lift the clustering to BCubed F 0.98.

Steps:

1. load lfw_dlib128, shuffle with a fixed seed; open a fresh embedded ``GraphCluster`` with
   default settings;
2. a simulated reviewer answers ``gc.review_queue()`` from the labels:
   - merge: "yes" iff the majority identities of the two sides shown match;
   - face: "yes" iff the face's identity is the majority identity of the cluster it sits in;
   - new_identity: "yes" iff all the faces shown share one identity;
3. mode ``interleaved``: after each batch of 100 faces answer up to ``--per-batch`` questions;
   mode ``after``: ingest everything first. In both, once ingest is done keep answering until
   BCubed F reaches the target, the queue runs dry or ``--max-answers`` is spent;
4. record pairwise and BCubed F over all faces against the number of answers, plot them
   (docs/effort.png) and write docs/benchmarks/effort.md.

Usage::

    .venv/bin/python benchmarks/effort.py [--modes interleaved after] [--per-batch 4] [--max-answers 1500]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import code_version, DOCS, load_lfw, machine, predictions, say, scores, write_section  # noqa: E402

from graphcluster import GraphCluster  # noqa: E402
from graphcluster.errors import GraphClusterError  # noqa: E402
from graphcluster.settings import Settings  # noqa: E402

BATCH = 100
TARGET = 0.98


def _majority(faces: list[str], ident: dict[str, str]) -> str | None:
    c = Counter(ident[f] for f in faces if f in ident)
    return c.most_common(1)[0][0] if c else None


class Reviewer:
    """Answers review items from the labels and counts what it said."""

    def __init__(self, gc: GraphCluster, ident: dict[str, str]) -> None:
        self.gc, self.ident = gc, ident
        self.answers = 0
        self.by_kind: Counter[tuple[str, str]] = Counter()
        self.refused = 0  # answer() raised (obsolete item, conflicting constraint)
        self.errors: Counter[str] = Counter()  # what answer() said, by exception type and kind
        self.seconds = 0.0
        self.log: list[tuple[str, float, str]] = []  # (kind, priority, reply) of every answer, in order

    def reply(self, item: Any) -> str:
        if item.kind == "merge":
            a = item.faces_a or self._members(item.cluster_a)
            b = item.faces_b or self._members(item.cluster_b)
            return "yes" if _majority(a, self.ident) == _majority(b, self.ident) else "no"
        if item.kind == "face":
            face = item.faces_a[0]
            members = [f for f in self._members(item.cluster_b) if f != face] or item.faces_b
            return "yes" if self.ident[face] == _majority(members, self.ident) else "no"
        return "yes" if len({self.ident[f] for f in item.faces_a}) == 1 else "no"

    def _members(self, cluster: str | None) -> list[str]:
        if not cluster:
            return []
        try:
            return [m["face_id"] for m in self.gc.cluster(cluster)["members"]]
        except GraphClusterError:
            return []

    def answer_some(self, budget: int) -> int:
        """Answer up to ``budget`` questions; returns how many were answered (0 = queue dry)."""
        done = 0
        stalls = 0
        while done < budget:
            queue = self.gc.review_queue(limit=min(20, budget - done))
            if not queue:
                break
            progressed = False
            for item in queue:
                if done >= budget:
                    break
                t0 = time.perf_counter()
                reply = self.reply(item)
                sub = item.kind
                if item.kind == "face":  # an unassigned face offered to a cluster, or a tentative member
                    held = self.gc.store.memberships(item.faces_a)[item.faces_a[0]].cluster_id
                    sub = "face:unassigned" if held is None else "face:member"

                try:
                    self.gc.answer(item.id, reply, by="simulated-reviewer")
                except GraphClusterError as exc:
                    self.refused += 1
                    why = re.sub(r"'[^']*'", "'…'", str(exc))[:160]  # ids differ: group by the reason
                    self.errors[f"{item.kind} '{reply}': {type(exc).__name__}: {why}"] += 1
                    self.seconds += time.perf_counter() - t0
                    continue
                self.seconds += time.perf_counter() - t0
                self.by_kind[(item.kind, reply)] += 1
                self.log.append((sub, float(item.priority), reply))
                self.answers += 1
                done += 1
                progressed = True
            stalls = 0 if progressed else stalls + 1
            if not progressed and (stalls >= 3 or not self.gc.review_queue(limit=1)):
                break  # nothing answerable left (every item refused three times in a row)
        return done


def run(mode: str, seed: int, per_batch: int, max_answers: int, step: int, limit: int | None) -> dict[str, Any]:
    x, truth, ids = load_lfw(seed, limit)
    ident = dict(zip(ids, truth.tolist()))
    tmp = tempfile.mkdtemp(prefix=f"gc-effort-{mode}-")
    curve: list[tuple[int, float, float]] = []
    pr: list[tuple[int, float, float, float]] = []  # answers, pairwise P, BCubed P, BCubed R
    try:
        with GraphCluster.open(tmp, settings=Settings()) as gc:
            rv = Reviewer(gc, ident)
            t0 = time.perf_counter()
            crashed = None
            for start in range(0, len(ids), BATCH):
                try:
                    gc.add_faces(x[start:start + BATCH], ids=ids[start:start + BATCH])
                except GraphClusterError as exc:  # an engine bug, reported as such (see the report)
                    crashed = f"add_faces of batch {start // BATCH} raised after {rv.answers} answers: {exc}"
                    say(f"{mode}: {crashed}")
                    ids, truth = ids[:start], truth[:start]
                    break
                if mode == "interleaved":
                    rv.answer_some(per_batch)
                if (start // BATCH) % 20 == 0:
                    say(f"{mode}: {start + BATCH}/{len(ids)} faces, {rv.answers} answers, "
                        f"{time.perf_counter() - t0:.0f} s")
            ingest_answers = rv.answers

            def measure() -> dict[str, float]:
                pred, st = predictions(gc, ids)
                s = scores(truth, pred)
                curve.append((rv.answers, float(s["F"]), float(s["bF"])))
                pr.append((rv.answers, float(s["P"]), float(s["bP"]), float(s["bR"])))
                return s | st

            first = measure()
            say(f"{mode}: ingest done, {rv.answers} answers, F {first['F']:.4f} bF {first['bF']:.4f}")
            last, reached, dry = first, None, False
            if last["bF"] >= TARGET:
                reached = rv.answers
            quota = len(ids) // 25  # the target's budget: also measured exactly there
            while crashed is None and reached is None and rv.answers < max_answers:
                chunk = min(step, max_answers - rv.answers)
                if rv.answers < quota:
                    chunk = min(chunk, quota - rv.answers)
                if rv.answer_some(chunk) == 0:
                    dry = True
                    break
                last = measure()
                if last["bF"] >= TARGET:
                    reached = rv.answers
                if len(curve) % 5 == 0:
                    say(f"{mode}: {rv.answers} answers, F {last['F']:.4f} bF {last['bF']:.4f}")
            if dry or reached is not None or rv.answers >= max_answers:
                last = measure() if curve[-1][0] != rv.answers else last
            stats = gc.stats()
            return {"mode": mode, "n": len(ids), "curve": curve, "first": first, "last": last, "reached": reached,
                    "dry": dry, "crashed": crashed, "answers": rv.answers, "ingest_answers": ingest_answers, "kinds": rv.by_kind,
                    "refused": rv.refused, "errors": rv.errors, "log": rv.log, "pr": pr, "answer_s": rv.seconds, "open": stats.open_reviews,
                    "seconds": time.perf_counter() - t0}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def at_quota(r: dict[str, Any]) -> tuple[int, float] | None:
    """(answers, BCubed F) at the last measurement within the budget of 1 answer per 25 faces."""
    inside = [(a, bf) for a, _f, bf in r["curve"] if a <= r["n"] // 25]
    return inside[-1] if inside else None


def first_reaching(r: dict[str, Any], level: float) -> int | None:
    """Answers at the first measurement with BCubed F >= level."""
    return next((a for a, _f, bf in r["curve"] if bf >= level), None)


def yes_by_kind(r: dict[str, Any], upto: int | None = None) -> str:
    log = r["log"][:upto] if upto is not None else r["log"]
    c = Counter((k, a) for k, _p, a in log)
    kinds = sorted({k for k, _a in c})
    return ", ".join(f"{k} {c[(k, 'yes')]}/{c[(k, 'yes')] + c[(k, 'no')]}" for k in kinds)


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r, colour in zip(results, ("tab:blue", "tab:orange", "tab:green")):
        if r["crashed"]:  # scored on a prefix of the faces: not comparable, see the table
            continue
        a = np.array(r["curve"])
        ax.plot(a[:, 0], a[:, 1], "--", color=colour, label=f"pairwise F ({r['mode']})")
        ax.plot(a[:, 0], a[:, 2], "-", color=colour, label=f"BCubed F ({r['mode']})")
    n = max(r["n"] for r in results)
    ax.axhline(TARGET, color="grey", lw=0.8)
    ax.axvline(n / 25, color="grey", lw=0.8, ls=":")
    ax.text(n / 25, ax.get_ylim()[0], " 1 answer / 25 faces", fontsize=8, va="bottom")
    ax.set_xlabel("answers by the simulated reviewer")
    ax.set_ylabel("F over all faces")
    ax.set_title(f"lfw_dlib128 ({n:,} faces): quality vs human answers")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    say(f"wrote {path}")


CODE = code_version()  # taken at start: the tree may change while a long run goes on



# Written by hand (docs/benchmarks/effort.md); kept here so that a rerun does not drop it. The
# figures of a run are the table above; update a bullet when a run stops bearing it out.
NOTES = [
    '',
    '### What the numbers say',
    '',
    '- **The ranking is by the expected number of faces an answer puts right** (docs/decisions.md,',
    '  `graphcluster/clustering/questions.py`), one scale for merge, face and new-identity questions:',
    '  the share of "yes" among the first 469 answers (1 per 25 faces) is well above the run\'s (table),',
    '  and BCubed precision does not fall as answers join parts (recall is what rises).',
    '- **0.98 at 1 answer per 25 faces is out of reach from this clustering with one-join answers.**',
    '  An oracle that knows the truth and spends each answer on the best join of two parts of one',
    '  person recovers at most about +0.07 of BCubed recall with 469 answers (of a deficit near 0.1,',
    '  measured on the clustering after ingest); with BCubed precision near 0.985 that caps BCubed F',
    '  near 0.975. Reaching 0.98 needs fewer fragments / unassigned faces before any answer',
    '  (clustering recall), or answers that join more than two parts at once.',
    '- **Answers during ingest are worth little** (*interleaved* against *after*: BCubed F when ingest',
    '  ends): early questions join small groups the clustering would have joined anyway as more faces',
    '  arrive. Ask once a body of faces is in.',
    '- **The merge chance is scaled by the squared cover of its links**: scaled once, merge questions',
    '  with a priority below 1.5 come back "yes" 5 % of the time, and BCubed F at 469 answers is lower',
    '  (0.952 against 0.954). Face questions\' "yes" rate is flat (45–60 %) over their priority range:',
    '  the mixture odds order them only weakly.',
]

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", nargs="+", default=["interleaved", "after"], choices=["interleaved", "after"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-batch", type=int, default=4, help="answers after each batch of 100 (interleaved)")
    ap.add_argument("--max-answers", type=int, default=1500)
    ap.add_argument("--step", type=int, default=25, help="answers between two measurements after ingest")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--dump", type=Path, default=None, help="write every answer (kind, priority, reply) as JSON here")
    args = ap.parse_args()
    results = [run(m, args.seed, args.per_batch, args.max_answers, args.step, args.limit) for m in args.modes]
    rows = []
    for r in results:
        yes = sum(v for (k, a), v in r["kinds"].items() if a == "yes")
        kinds = ", ".join(f"{k} {sum(v for (kk, a), v in r['kinds'].items() if kk == k)} "
                          f"({r['kinds'][(k, 'yes')]} yes)" for k in ("merge", "face", "new_identity"))
        if r["crashed"]:
            status = f"**crashed** ({r['crashed']}); scores over the {r['n']:,} faces ingested before"
        elif r["reached"] is not None:
            status = f"reached at {r['reached']} answers (1 per {r['n'] / max(r['reached'], 1):.0f} faces)"
        else:
            status = ("queue ran dry" if r["dry"] else f"stopped at --max-answers {r['answers']}") + \
                f" at BCubed F {r['last']['bF']:.4f}"
        q = at_quota(r)
        quota = f"{q[1]:.4f} ({q[0]} answers)" if q else "—"
        r95 = first_reaching(r, 0.95)
        in_quota = r["log"][: r["n"] // 25]
        yes_q = sum(1 for _k, _p, a in in_quota if a == "yes") / max(len(in_quota), 1)
        rows.append(f"| {r['mode']} | {r['n']:,} | {r['ingest_answers']} | {r['first']['F']:.4f} / {r['first']['bF']:.4f} "
                    f"| {quota} | {r95 if r95 is not None else '—'} "
                    f"| {r['answers']} | {r['last']['F']:.4f} / {r['last']['bF']:.4f} | {status} | "
                    f"{yes_q:.2f} / {yes / max(r['answers'], 1):.2f} | {kinds} | {r['refused']} | "
                    f"{1000 * r['answer_s'] / max(r['answers'] + r['refused'], 1):.0f} | {r['open']} |")
        print(rows[-1], flush=True)
        say(f"{r['mode']}: yes/asked by kind, first {r['n'] // 25} answers: {yes_by_kind(r, r['n'] // 25)}; "
            f"all: {yes_by_kind(r)}")
    if args.dump:
        import json

        args.dump.write_text(json.dumps([{k: r[k] for k in ("mode", "n", "curve", "pr", "log")} for r in results]))
    if args.no_write:
        return
    plot(results, DOCS / "effort.png")
    cmd = (f"`.venv/bin/python benchmarks/effort.py --modes {' '.join(args.modes)} --per-batch {args.per_batch} "
           f"--max-answers {args.max_answers} --step {args.step}" + (f" --limit {args.limit}" if args.limit else "") + "`")
    n = max(r["n"] for r in results)
    lines = [
        "## Human effort: answers needed to reach BCubed F 0.98",
        "",
        f"Command: {cmd}. Machine: {machine()}; {CODE}.",
        "",
        f"lfw_dlib128, {n:,} faces shuffled with seed {args.seed}, batches of 100, default settings, embedded store.",
        "A simulated reviewer answers `review_queue()` from the labels (merge: yes iff the two sides' majority",
        "identities match; face: yes iff the face's identity is its cluster's majority identity; new identity:",
        "yes iff all faces shown share one identity). *interleaved*: up to "
        f"{args.per_batch} answers after each batch, then more after ingest;",
        "*after*: every answer after ingest. F is measured over all faces (unassigned = singletons) after",
        f"ingest and then every {args.step} answers. Target: BCubed F {TARGET} with at most 1 answer per 25 faces",
        f"(= {n // 25} answers here).",
        "",
        "| mode | faces | answers during ingest | F / BCubed F after ingest | BCubed F at 1 answer / 25 faces "
        "| answers to BCubed F 0.95 | answers in all | F / BCubed F at the end "
        "| BCubed F 0.98 | share yes (first n/25 / all) | answers by kind | refused | ms per answer | open reviews left |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "\"refused\": `answer()` raised (the item had become obsolete or conflicted with a decision); those are",
        "not counted as answers. Questions answered, by kind, over all runs: "
        + ", ".join(f"{k} {sum(v for r in results for (kk, _a), v in r['kinds'].items() if kk == k)}"
                    for k in ("merge", "face", "new_identity")) + ".",
        "",
        *[f"- {r['mode']}: refused {v}x — {k}" for r in results for k, v in r["errors"].most_common(5)],
        "",
        "![F vs answers](../effort.png)",
        "",
    ]
    lines += NOTES
    write_section("effort", lines)


if __name__ == "__main__":
    main()
