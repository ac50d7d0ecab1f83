"""Calibration questions: how fast do answers bring a wrong link threshold back?

For each cell (``benchmarks/cells.py``) and each wrong start:

1. ingest the cell through the product API with default settings (batches of 100);
2. replace the calibrated base with one whose ``link`` (and ``review``) is off by the given
   factor (0.7 and 1.3: a start 30 % wrong), as a model the calibration misjudged would, and
   open the store again so the facade reads it;
3. answer ``gc.calibration_questions(limit=1)`` from the labels, one at a time, up to
   ``--answers`` answers, recording ``link`` after each;
4. compare with the label-picked best single threshold of batch Chinese Whispers on the same
   cell (``robustness.py``'s peer; read from its cache when there).

Prints one row per cell x start and writes docs/benchmarks/calibration_questions.md.

Usage::

    .venv/bin/python benchmarks/calibration_questions.py [--cells dense dev family] [--answers 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cells import CELLS  # noqa: E402
from common import code_version, machine, say, write_section  # noqa: E402
from robustness import PEER_CACHE, run_peers  # noqa: E402

from graphcluster import GraphCluster  # noqa: E402
from graphcluster.clustering import Thresholds  # noqa: E402


def best_threshold(name: str, seed: int) -> float:
    cache = json.loads(PEER_CACHE.read_text()) if PEER_CACHE.exists() else {}
    hit = cache.get(f"{name}:{seed}")
    if hit is None:
        hit = run_peers(CELLS[name](seed), hdbscan=False)
        cache[f"{name}:{seed}"] = hit
        PEER_CACHE.parent.mkdir(parents=True, exist_ok=True)
        PEER_CACHE.write_text(json.dumps(cache, indent=1))
    return float(hit["batch CW"]["threshold"])


def run(name: str, seed: int, factor: float, answers: int) -> dict[str, Any]:
    cell = CELLS[name](seed)
    truth = dict(zip(cell.ids, cell.labels.tolist()))
    tmp = tempfile.mkdtemp(prefix="gc-calq-")
    try:
        with GraphCluster.open(tmp) as gc:
            for start in range(0, len(cell.ids), 100):
                gc.add_faces(cell.vectors[start:start + 100], ids=cell.ids[start:start + 100])
            base = Thresholds.model_validate(gc.store.get_meta()["thresholds_base"])
            calibrated = base.link
            assert base.link is not None and base.review is not None
            wrong = base.model_copy(update={"link": base.link * factor, "review": min(2.0, base.review * factor)})
            gc.store.set_meta({"thresholds_base": wrong.model_dump(mode="json"),
                               "thresholds": wrong.model_dump(mode="json")})
        with GraphCluster.open(tmp) as gc:  # reopened, the facade reads the thresholds written above
            path = [float(gc.stats().thresholds["link"])]
            t0 = time.perf_counter()
            for _ in range(answers):
                items = gc.calibration_questions(limit=1)
                if not items:
                    break
                it = items[0]
                same = truth[it.faces_a[0]] == truth[it.faces_b[0]]
                gc.answer(it.id, "yes" if same else "no", by="benchmark")
                path.append(float(gc.stats().thresholds["link"]))
            secs = time.perf_counter() - t0
            conf = gc.stats().thresholds["confidence"]["level"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"cell": name, "seed": seed, "factor": factor, "calibrated": calibrated, "path": path,
            "seconds": secs, "confidence": conf}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", default=["dense", "family", "dev", "model512"], choices=list(CELLS))
    ap.add_argument("--answers", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    lines = ["| cell | start (x calibrated) | link at start | after 5 / 10 / 20 answers | label-picked best (batch CW) "
             "| off after 20 | answers to within 5 % | confidence after |",
             "|---|---|---|---|---|---|---|---|"]
    for name in args.cells:
        best = best_threshold(name, args.seed)
        for factor in (0.7, 1.3):
            r = run(name, args.seed, factor, args.answers)
            p = r["path"]
            at = [p[min(i, len(p) - 1)] for i in (5, 10, 20)]
            within = next((i for i, v in enumerate(p) if abs(v / best - 1) <= 0.05
                           and all(abs(w / best - 1) <= 0.05 for w in p[i:])), None)
            lines.append(f"| {name} | {factor} | {p[0]:.3f} | {at[0]:.3f} / {at[1]:.3f} / {at[2]:.3f} | {best:.3f} "
                         f"| {100 * (p[-1] / best - 1):+.1f} % | {within if within is not None else 'not within 5 %'} "
                         f"| {r['confidence']} |")
            print(lines[-1], flush=True)
            say(f"{name} x{factor}: " + " ".join(f"{v:.3f}" for v in p))
    if not args.no_write:
        write_section("calibration_questions", [
            "## Calibration questions: bringing a wrong link threshold back",
            "",
            f"Command: `.venv/bin/python benchmarks/calibration_questions.py --cells {' '.join(args.cells)} "
            f"--answers {args.answers} --seed {args.seed}`. Machine: {machine()}; {code_version()}.",
            "",
            "Each cell is ingested with default settings; then the calibrated `link` and `review` are "
            "multiplied by the start factor (a start 30 % wrong) and `calibration_questions(limit=1)` is "
            "answered from the labels, one question at a time. The target is the single threshold of batch "
            "Chinese Whispers with the best BCubed F on the same cell, picked with the labels. \"answers to "
            "within 5 %\" counts the answers after which `link` stays within 5 % of it.",
            "",
            *lines,
        ])


if __name__ == "__main__":
    main()
