"""Two worker processes share one Neo4j with index='neo4j': they add interleaved batches (one
batch sent by both), answer review questions and record decisions at the same time; afterwards
the graph must hold every face once, in at most one cluster, with every decision obeyed, and
the vector index must find the faces' true neighbours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from graphcluster import GraphCluster, Settings
from graphcluster.synth import make_faces

ROOT = Path(__file__).resolve().parents[2]
N, BATCH, SEED = 1200, 100, 7
WORKER = r"""
import json, sys
import numpy as np
from graphcluster import GraphCluster, Settings
from graphcluster.errors import GraphClusterError
from graphcluster.synth import make_faces

uri, me, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
f = make_faces({N}, seed={SEED})
label = dict(zip(f.ids, f.labels.tolist()))
batches = [range(lo, lo + {BATCH}) for lo in range(0, {N} - {BATCH}, {BATCH})]
mine = [b for i, b in enumerate(batches) if i % 2 == me] + [range({N} - {BATCH}, {N})]  # the last: both
log = {{"answered": 0, "refused": 0, "decisions": []}}
with GraphCluster.open(uri, settings=Settings(index="neo4j", lease_seconds=20)) as gc:
    for rows in mine:
        rows = list(rows)
        gc.add_faces(f.vectors[rows], ids=[f.ids[i] for i in rows])
        for item in gc.review_queue(limit=2):
            shown = item.faces_a + item.faces_b  # the truth decides: are the faces shown one person?
            same = len({{label[x] for x in shown}}) == 1
            try:
                gc.answer(item.id, "yes" if same else "no", by=f"worker-{{me}}")
                log["answered"] += 1
            except GraphClusterError:  # the other worker answered or closed it first
                log["refused"] += 1
        a, b = f.ids[rows[0]], f.ids[rows[-1]]
        try:
            if label[a] == label[b]:
                log["decisions"].append(["same", a, b, gc.same_person(a, b, by=f"worker-{{me}}").id])
            else:
                log["decisions"].append(["different", a, b, gc.different_person(a, b, by=f"worker-{{me}}").id])
        except GraphClusterError as exc:
            log["refused"] += 1
json.dump(log, open(out, "w"))
"""


def test_two_workers_share_one_database(neo4j_uri: tuple[str, str | None, str | None], clean_neo4j: object,
                                        tmp_path: Path) -> None:
    uri, user, password = neo4j_uri
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if user:
        env.update(NEO4J_USER=user, NEO4J_PASSWORD=password or "")
    with GraphCluster.open(uri, settings=Settings(index="neo4j")) as gc:
        gc.reset()  # an empty database whose vector index takes the workers' dimension
    script = WORKER.format(N=N, BATCH=BATCH, SEED=SEED)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, uri, str(me), str(tmp_path / f"w{me}.json")], env=env,
                         cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        for me in (0, 1)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    logs = [json.loads((tmp_path / f"w{me}.json").read_text()) for me in (0, 1)]
    assert all(log["answered"] + len(log["decisions"]) > 0 for log in logs)  # both really worked

    f = make_faces(N, seed=SEED)
    with GraphCluster.open(uri, settings=Settings(index="neo4j")) as gc:
        store = gc.store
        rows = store.run_read("MATCH (f:Face) RETURN f.id AS id, count { (f)-[:IN_CLUSTER]->() } AS n", {})
        assert sorted(r["id"] for r in rows) == sorted(f.ids)  # every face once: none lost, none twice
        assert max(r["n"] for r in rows) <= 1  # no face in two clusters
        where = gc.assignments()
        for log in logs:
            for kind, a, b, decision_id in log["decisions"]:
                if gc.store.get_decision(decision_id).undone:
                    continue
                if kind == "same":
                    assert where[a] is not None and where[a] == where[b], (a, b)
                else:
                    assert where[a] is None or where[a] != where[b], (a, b)
        for d in gc.decisions():  # every decision either worker recorded, review answers included
            if d.undone or d.b is None:
                continue
            if d.kind == "same_person":
                assert where[d.a] == where[d.b] and where[d.a] is not None
            elif d.kind == "different_person":
                assert where[d.a] is None or where[d.a] != where[d.b]
        sizes = store.run_read("MATCH (c:Cluster) RETURN c.id AS id, c.size AS size, "
                               "count { (c)<-[:IN_CLUSTER]-() } AS members", {})
        assert all(r["size"] == r["members"] for r in sizes)
        # the vector index finds the true neighbours (exact numpy over every face)
        probe = np.random.default_rng(0).choice(N, 100, replace=False)
        got, _ = gc.index.query(f.vectors[probe], 10)
        sims = f.vectors[probe] @ f.vectors.T
        want = [set(np.array(f.ids)[np.argsort(-row)[:10]]) for row in sims]
        recall = np.mean([len(set(g) & w) / 10 for g, w in zip(got, want)])
        assert recall >= 0.9, recall
        assert gc.stats().thresholds["link"] is not None  # one calibration, shared through meta
