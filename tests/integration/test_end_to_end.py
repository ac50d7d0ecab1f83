"""End to end on real faces: ingest in batches, a reviewer answers from the labels, and every
human decision still holds after more batches, a cleanup, and closing and reopening the store.

Real faces come from lfw_dlib128 (``GRAPHCLUSTER_SAMPLE_DATA`` or ``../shared/data`` beside the
repository); where that folder is absent, labelled synthetic faces stand in.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from graphcluster import GraphCluster, Settings
from graphcluster.synth import make_faces

REPO = Path(__file__).resolve().parents[2]


def _sample(n: int, seed: int = 7) -> tuple[list[str], np.ndarray, list[dict[str, str]], dict[str, str]]:
    folder = Path(os.environ.get("GRAPHCLUSTER_SAMPLE_DATA", REPO.parent / "shared/data/lfw_dlib128"))
    rng = np.random.default_rng(seed)
    if (folder / "embeddings.npy").is_file():
        vectors = np.load(folder / "embeddings.npy")
        with (folder / "faces.csv").open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        counts = Counter(r["identity"] for r in rows)
        # people with several photos (capped, so one famous face does not fill the sample) + singletons
        seen: Counter[str] = Counter()
        picked = []
        for i in rng.permutation(len(rows)):
            who = rows[i]["identity"]
            if (counts[who] >= 2 and seen[who] < 20) or (counts[who] == 1 and rng.random() < 0.1):
                seen[who] += 1
                picked.append(int(i))
            if len(picked) == n:
                break
        ids = [f"lfw-{rows[i]['face_id']}" for i in picked]
        meta = [{"source": rows[i]["source"], "image": rows[i]["source"]} for i in picked]
        labels = {fid: rows[i]["identity"] for fid, i in zip(ids, picked)}
        return ids, vectors[picked], meta, labels
    faces = make_faces(n, dim=128, seed=seed)
    labels = {fid: str(lab) for fid, lab in zip(faces.ids, faces.labels)}
    return faces.ids, faces.vectors, [{} for _ in faces.ids], labels


def _answer_from_labels(gc: GraphCluster, labels: dict[str, str], limit: int) -> int:
    def majority(faces: list[str]) -> str:
        return Counter(labels[f] for f in faces).most_common(1)[0][0]

    answered = 0
    # one at a time: an answer may make later questions obsolete
    while answered < limit and (queue := gc.review_queue(limit=1)):
        item = queue[0]
        if item.kind == "merge":
            yes = majority(item.faces_a) == majority(item.faces_b)
        elif item.kind == "face":
            members = [f for f, c in gc.assignments().items() if c == item.cluster_b and f != item.faces_a[0]]
            yes = bool(members) and labels[item.faces_a[0]] == majority(members)
        else:
            yes = len({labels[f] for f in item.faces_a}) == 1
        gc.answer(item.id, "yes" if yes else "no", by="simulated-reviewer")
        answered += 1
    return answered


def _check_every_decision_holds(gc: GraphCluster, locked: dict[str, set[str]]) -> None:
    where = gc.assignments()
    for d in gc.decisions():
        if d.undone:
            continue
        if d.kind == "same_person":
            assert where[d.a] is not None and where[d.a] == where[d.b], d
        elif d.kind == "different_person":
            assert where[d.a] is None or where[d.a] != where[d.b], d
        elif d.kind == "remove":
            assert where[d.a] != d.b, d
    for cluster, members in locked.items():
        assert {f for f, c in where.items() if c == cluster} >= members, cluster


@pytest.fixture(params=["sqlite", "neo4j"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str | Path, tuple[str, str] | None]]:
    if request.param == "sqlite":
        yield tmp_path / "db", None
    else:
        uri, user, password = request.getfixturevalue("neo4j_uri")
        request.getfixturevalue("clean_neo4j")
        yield uri, (user, password) if user else None


def test_human_decisions_survive_batches_cleanup_and_reopen(target, tmp_path: Path) -> None:
    where_to, auth = target
    ids, vectors, meta, labels = _sample(900)
    settings = Settings(index_dir=tmp_path / "index")
    gc = GraphCluster.open(where_to, settings=settings, auth=auth)
    for start in range(0, 600, 100):
        gc.add_faces(vectors[start : start + 100], ids=ids[start : start + 100], metadata=meta[start : start + 100])
        _answer_from_labels(gc, labels, limit=5)
    # a few explicit decisions of every kind, taken from the labels
    by_person: dict[str, list[str]] = {}
    for fid in ids[:600]:
        by_person.setdefault(labels[fid], []).append(fid)
    people = sorted((p for p, fs in by_person.items() if len(fs) >= 3), key=lambda p: -len(by_person[p]))
    a, b = people[0], people[1]
    gc.same_person(by_person[a][0], by_person[a][-1], by="tester")
    gc.different_person(by_person[a][1], by_person[b][0], by="tester")
    biggest = gc.clusters()[0]
    gc.lock(biggest.id, by="tester")
    locked = {biggest.id: {f for f, c in gc.assignments().items() if c == biggest.id}}
    _check_every_decision_holds(gc, locked)

    for start in range(600, 900, 100):
        gc.add_faces(vectors[start : start + 100], ids=ids[start : start + 100], metadata=meta[start : start + 100])
    _check_every_decision_holds(gc, locked)
    gc.cleanup()
    _check_every_decision_holds(gc, locked)
    decisions_before = [d.id for d in gc.decisions()]
    assignments_before = gc.assignments()
    gc.close()

    with GraphCluster.open(where_to, settings=settings, auth=auth) as again:
        assert [d.id for d in again.decisions()] == decisions_before
        assert again.assignments() == assignments_before
        _check_every_decision_holds(again, locked)
        # the clustering is worth having: mostly one person per cluster
        where = again.assignments()
        clusters: dict[str, list[str]] = {}
        for f, c in where.items():
            if c:
                clusters.setdefault(c, []).append(f)
        pure = sum(Counter(labels[f] for f in fs).most_common(1)[0][1] for fs in clusters.values())
        assert pure / max(1, sum(len(fs) for fs in clusters.values())) > 0.9
