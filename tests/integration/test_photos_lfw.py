"""Photo ingest against the development set: the 545 photos of ``../shared/data/lfw_photos``
give, for the face nearest each photo's centre, the ``lfw_dlib128`` vector of the same LFW
photo, and the labelled people come out as clusters. Skipped when the data is absent.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from graphcluster import GraphCluster

DEV = Path(__file__).resolve().parents[2].parent / "shared/data/lfw_dlib128"


def _pairwise_f(truth: list[str], pred: list[str]) -> float:
    def pairs(c: Counter[object]) -> int:
        return sum(v * (v - 1) // 2 for v in c.values())

    tp = pairs(Counter(zip(truth, pred)))
    p, r = tp / pairs(Counter(pred)), tp / pairs(Counter(truth))
    return 2 * p * r / (p + r)


def test_the_centre_faces_match_the_development_vectors_and_cluster_by_person(
    tmp_path: Path, lfw_photos: Path
) -> None:
    if not (DEV / "embeddings.npy").is_file():
        pytest.skip(f"the development vectors ({DEV}) are not on this machine")
    with (DEV / "faces.csv").open(newline="", encoding="utf-8") as fh:
        dev_row = {r["source"]: int(r["face_id"]) for r in csv.DictReader(fh)}
    dev = np.load(DEV / "embeddings.npy")
    with (lfw_photos / "labels.csv").open(newline="", encoding="utf-8") as fh:
        labels = list(csv.DictReader(fh))
    with GraphCluster.open(tmp_path / "db") as gc:
        report = gc.add_photos(lfw_photos)
        assert report.counts.get("added") == len(labels) == 545
        by_path = {p.path: p.face_ids for p in report.photos}
        faces = gc.store.get_faces([f for ids in by_path.values() for f in ids], with_embedding=True)
        cos, truth, centre = [], [], []
        for row in labels:
            ids = by_path[row["file"]]
            if not ids:
                continue
            fid = min(ids, key=lambda f: np.hypot((faces[f].bbox[0] + faces[f].bbox[2]) / 2 - 125,
                                                  (faces[f].bbox[1] + faces[f].bbox[3]) / 2 - 125))
            centre.append(fid)
            truth.append(row["identity"])
            cos.append(float(np.dot(faces[fid].embedding, dev[dev_row[row["source"]]])))
        assert len(cos) >= 0.95 * len(labels)
        assert np.mean(np.array(cos) >= 0.99) >= 0.95, sorted(cos)[:10]
        assigned = gc.assignments()
        pred = [assigned[f] or f"alone:{f}" for f in centre]
        # docs/photos.md: pairwise F 0.94 on these photos (benchmarks/photos.py)
        assert _pairwise_f(truth, pred) >= 0.9
