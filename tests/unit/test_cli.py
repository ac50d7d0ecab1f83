"""The command line, end to end through ``CliRunner`` against the real engine on the embedded store.

No mock of the engine: every test opens a real store in a temporary directory. Faces come from
``graphcluster.synth`` (a fixed seed), written to a file and ingested with ``graphcluster ingest``.
"""

from __future__ import annotations

import csv
import html
import io
import json
import shutil
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
from click.testing import CliRunner, Result

from graphcluster import cypher_files
from graphcluster.cli import cli

N_PEOPLE_FACES = 240
N_FACES = N_PEOPLE_FACES + 21  # 7 pairs of people x 3 middle faces


def run(*args: str, input: str | None = None, ok: bool = True) -> Result:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=True)
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def run_json(*args: str, input: str | None = None) -> Any:
    result = run("--json", *args, input=input)
    return json.loads(result.stdout)


def one_line_error(result: Result) -> str:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


def _sample() -> tuple[list[str], np.ndarray, list[int]]:
    """Synthetic people plus "middle" faces between pairs of them, which the engine must ask about."""
    from graphcluster.synth import make_faces

    faces = make_faces(N_PEOPLE_FACES, dim=32, seed=3)
    labels = np.asarray(faces.labels)
    vectors = np.asarray(faces.vectors)
    rng = np.random.default_rng(0)
    people = [lab for lab in np.unique(labels) if (labels == lab).sum() >= 6][:8]
    middles = []
    for a, b in zip(people, people[1:]):
        ca, cb = vectors[labels == a].mean(axis=0), vectors[labels == b].mean(axis=0)
        for t in (0.45, 0.5, 0.55):
            x = (1 - t) * ca + t * cb + rng.normal(scale=0.02, size=vectors.shape[1])
            middles.append(x / np.linalg.norm(x))
    ids = list(faces.ids) + [f"mid{j}" for j in range(len(middles))]
    return ids, np.vstack([vectors, np.asarray(middles)]).astype(np.float32), [int(x) for x in labels] + [-1] * len(middles)


@pytest.fixture(scope="module")
def faces_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ids, vectors, _ = _sample()
    assert len(ids) == N_FACES
    path = tmp_path_factory.mktemp("data") / "faces.npz"
    # two faces per "group photo" so the same-image rule and metadata columns are exercised
    source = np.array([f"photos/{i // 2 if i < 20 else i}.jpg" for i in range(N_FACES)])
    np.savez(path, ids=np.array(ids), vectors=vectors, source=source)
    return path


@pytest.fixture(scope="module")
def base_store(tmp_path_factory: pytest.TempPathFactory, faces_file: Path) -> Path:
    store = tmp_path_factory.mktemp("store") / "db"
    run("--store", str(store), "ingest", str(faces_file), "--batch-size", "60")
    return store


@pytest.fixture
def store(base_store: Path, tmp_path: Path) -> str:
    """A private copy of the ingested store, so a test may change it."""
    copy = tmp_path / "db"
    shutil.copytree(base_store, copy)
    return str(copy)


def biggest_cluster(store: str) -> dict[str, Any]:
    clusters = run_json("--store", store, "clusters")
    assert clusters, "the sample must form clusters"
    return clusters[0]


def members(store: str, cluster_id: str) -> list[str]:
    info = run_json("--store", store, "show", cluster_id)
    return [m["face_id"] for m in info["members"]]


# -- help and argument errors --------------------------------------------------------------------


def test_every_command_has_help() -> None:
    assert isinstance(cli, click.Group)
    names = sorted(cli.commands)
    assert {"init", "ingest", "status", "clusters", "show", "review", "same", "different", "assign", "remove", "merge",
            "lock", "unlock", "name", "decisions", "undo", "cleanup", "export", "query", "demo"} <= set(names)
    for name in names:
        command = cli.commands[name]
        assert command.help and command.help.strip(), name
        result = run(name, "--help")
        assert "Usage: " in result.output and name in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["same", "only-one"],
        ["assign", "face"],
        ["name"],
        ["clusters", "--limit", "0"],
        ["demo", "--faces", "3"],
        ["export", "--format", "xml"],
        ["no-such-command"],
    ],
)
def test_bad_arguments_give_a_usage_error(args: list[str], tmp_path: Path) -> None:
    result = run("--store", str(tmp_path / "db"), *args, ok=False)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "Error:" in result.output


MALFORMED = {
    "ragged.csv": (b"id,v0,v1\na,1,2\nb,1\n", "ragged.csv, line 3"),
    "text-in-vector.csv": (b"id,v0,v1\na,1,2\nb,1,x\n", "'x'"),
    "binary.csv": (b"\xff\xfe\x00\x01" * 64, "binary.csv"),
    "not-numpy.npy": (b"id,v0\na,1\n", "not a .npy array"),
    "truncated.npy": (b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (50, 8), }" + b" " * 44 + b"\n" + b"\x00" * 24,
                      "not a readable .npy array"),
    "not-zip.npz": (b"PK\x03\x04 broken", "not a readable .npz archive"),
    "broken.jsonl": (b'{"id": "a", "vector": [1, 2]}\n{"id": "b", "vector": [1,\n', "broken.jsonl, line 2"),
    "not-object.jsonl": (b"[1, 2, 3]\n", "not-object.jsonl, line 1"),
    "vectors.json": (b"[[1, 2]]", "unknown file type '.json'"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_input_files_give_one_line_exit_2_and_write_nothing(name: str, tmp_path: Path) -> None:
    content, fragment = MALFORMED[name]
    path = tmp_path / name
    path.write_bytes(content)
    store = tmp_path / "db"
    result = run("--store", str(store), "ingest", str(path), ok=False)
    assert result.exit_code == 2
    assert fragment in one_line_error(result)
    assert not (store / "graph.db").exists() or run_json("--store", str(store), "status")["faces"] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--set", "k=banana", "status"],
        ["--set", "nonsense", "status"],
        ["--set", "no_such_setting=1", "status"],
        ["show", "x" * 10_000],
        ["undo", "\x00"],
        ["same", "a", "a"],
        ["review", "--limit", "-5"],
    ],
    ids=["bad-value", "not-key-value", "unknown-setting", "10000-char-id", "nul-id", "same-face-twice", "negative-limit"],
)
def test_garbage_arguments_give_one_line_exit_2(args: list[str], tmp_path: Path) -> None:
    result = run("--store", str(tmp_path / "db"), *args, ok=False)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "Error:" in result.output
    assert len(result.output) < 600  # a 10,000-character argument is not echoed whole


def test_library_errors_are_one_line(store: str, tmp_path: Path) -> None:
    assert "no cluster or face with id 'nope'" in one_line_error(run("--store", store, "show", "nope", ok=False))
    assert "nope" in one_line_error(run("--store", store, "undo", "nope", ok=False))
    assert "nope" in one_line_error(run("--store", store, "lock", "nope", ok=False))
    bad = tmp_path / "bad.csv"
    bad.write_text("id,v0,v1\na,1,2\nb,1,x\n")
    line = one_line_error(run("--store", store, "ingest", str(bad), ok=False))
    assert "bad.csv, line 3" in line and "'x'" in line
    line = one_line_error(run("--store", store, "--set", "k=-3", "status", ok=False))
    assert "--set" in line
    line = one_line_error(run("--store", store, "query", "person_faces", "-p", "cluster=x", ok=False))
    assert "needs the Neo4j store" in line


def test_debug_shows_the_real_exception(store: str) -> None:
    result = CliRunner().invoke(cli, ["--store", store, "--debug", "show", "nope"])
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "NotFound"


def test_password_is_never_printed() -> None:
    result = run("--store", "bolt://127.0.0.1:9", "--password", "s3cret-pw", "status", ok=False)
    assert result.exit_code != 0
    assert "s3cret-pw" not in result.output


# -- reading ------------------------------------------------------------------------------------


def test_init_and_status_on_a_new_store(tmp_path: Path) -> None:
    store = str(tmp_path / "new")
    data = run_json("--store", store, "init")
    assert data == {"store": store, "kind": "sqlite", "faces": 0, "clusters": 0}
    stats = run_json("--store", store, "status")
    assert stats["faces"] == 0 and stats["store"] == "sqlite"


def test_init_force_empties_the_store_as_a_new_one(store: str, faces_file: Path, tmp_path: Path) -> None:
    def people(where: str) -> list[tuple[str, int]]:
        return [(c["id"], c["size"]) for c in run_json("--store", where, "clusters")]

    before = people(store)
    emptied = run_json("--store", store, "init", "--force", "--yes")
    assert emptied["faces"] == 0 and emptied["clusters"] == 0
    run("--store", store, "ingest", str(faces_file), "--batch-size", "60")  # as the module's store was built
    fresh = str(tmp_path / "fresh")
    run("--store", fresh, "ingest", str(faces_file), "--batch-size", "60")
    assert people(store) == people(fresh) == before  # same people, same ids (c-1, c-2, ... again)


def test_ingest_reports_and_is_idempotent(store: str, faces_file: Path) -> None:
    stats = run_json("--store", store, "status")
    assert stats["faces"] == N_FACES
    again = run_json("--store", store, "ingest", str(faces_file))
    assert again["files"][0]["added"] == 0 and again["files"][0]["skipped"] == N_FACES
    assert again["faces"] == N_FACES
    text = run("--store", store, "ingest", str(faces_file)).output
    assert f"0 added, {N_FACES} already stored" in text


def test_ingest_csv_and_jsonl(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(6, 8))
    csv_path = tmp_path / "a.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "image", *[f"v{i}" for i in range(8)]])
        for i in range(3):
            w.writerow([f"c{i}", f"img{i}.jpg", *vecs[i]])
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_text("".join(json.dumps({"id": f"j{i}", "vector": vecs[i].tolist(), "timestamp": "2024-01-01"}) + "\n" for i in range(3, 6)))
    store = str(tmp_path / "db")
    out = run_json("--store", store, "ingest", str(csv_path), str(jsonl))
    assert [f["added"] for f in out["files"]] == [3, 3]
    face = run_json("--store", store, "show", "c1")
    assert face["kind"] == "face" and face["face"]["image"] == "img1.jpg"
    assert run_json("--store", store, "show", "j4")["face"]["metadata"] == {"timestamp": "2024-01-01"}


def test_clusters_show_and_status(store: str) -> None:
    clusters = run_json("--store", store, "clusters")
    sizes = [c["size"] for c in clusters]
    assert sizes == sorted(sizes, reverse=True)
    assert run_json("--store", store, "clusters", "--limit", "2") == clusters[:2]
    top = clusters[0]
    info = run_json("--store", store, "show", top["id"])
    assert info["kind"] == "cluster" and info["cluster"]["id"] == top["id"]
    assert len(info["members"]) == top["size"]
    assert info["members"][0]["photo"].startswith("photos/")
    text = run("--store", store, "show", top["id"], "--members", "2").output
    assert f"cluster {top['id']}" in text and "more (--members N)" in text
    face = info["members"][0]["face_id"]
    finfo = run_json("--store", store, "show", face)
    assert finfo["membership"]["cluster_id"] == top["id"]
    assert finfo["neighbours"]
    status = run("--store", store, "status").output
    assert f"faces       {N_FACES}" in status and "thresholds" in status


def test_export_csv_and_json(store: str, tmp_path: Path) -> None:
    text = run("--store", store, "export").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == N_FACES
    assert set(rows[0]) == {"face_id", "cluster_id", "cluster_name", "status", "confidence"}
    as_json = json.loads(run("--store", store, "export", "--format", "json").stdout)
    assert {r["face_id"]: r["cluster_id"] or "" for r in as_json} == {r["face_id"]: r["cluster_id"] for r in rows}
    out = tmp_path / "out.json"
    summary = run_json("--store", store, "export", "-o", str(out))
    assert summary["faces"] == N_FACES and summary["format"] == "json"
    assert len(json.loads(out.read_text())) == N_FACES


# -- decisions -----------------------------------------------------------------------------------


def test_decisions_through_the_cli(store: str) -> None:
    top = biggest_cluster(store)
    faces = members(store, top["id"])
    assert len(faces) >= 4
    a, b = faces[0], faces[1]
    d = run_json("--store", store, "--by", "ann", "different", a, b, "-r", "twins")
    assert d["kind"] == "different_person" and d["by"] == "ann" and d["reason"] == "twins"
    after = run_json("--store", store, "export", "--format", "json")
    where = {r["face_id"]: r["cluster_id"] for r in after}
    assert where[a] != where[b] or where[a] is None  # split at once
    listed = run_json("--store", store, "decisions", "--face", a)
    assert [x["id"] for x in listed] == [d["id"]]
    undone = run_json("--store", store, "undo", d["id"])
    assert undone["undone"] is True
    assert "[undone]" in run("--store", store, "decisions").output

    same = run_json("--store", store, "same", a, b)
    assert same["kind"] == "same_person"
    conflict = one_line_error(run("--store", store, "different", a, b, ok=False))
    assert same["id"] in conflict

    named = run_json("--store", store, "name", top["id"], "Alice")
    assert named["kind"] == "name"
    locked = run_json("--store", store, "lock", top["id"])
    assert locked["kind"] == "lock"
    assert {c["id"]: c["locked"] for c in run_json("--store", store, "clusters")}[top["id"]] is True
    assert run_json("--store", store, "unlock", top["id"])["kind"] == "unlock"
    # a face that is in some cluster now (how the split above re-grouped the rest is the engine's business)
    other = next(f for c in run_json("--store", store, "clusters") for f in members(store, c["id"]) if f not in (a, b))
    was = run_json("--store", store, "show", other)["membership"]["cluster_id"]
    removed = run_json("--store", store, "remove", other)
    assert removed["kind"] == "remove"
    # "not this person": out of that cluster for good (free to be clustered elsewhere)
    assert run_json("--store", store, "show", other)["membership"]["cluster_id"] != was
    assigned = run_json("--store", store, "assign", other, top["id"])
    assert assigned["kind"] == "assign"
    text = run("--store", store, "decisions", "--cluster", top["id"]).output
    assert "name" in text and "'Alice'" in text


def test_merge_two_clusters(store: str) -> None:
    clusters = run_json("--store", store, "clusters")
    assert len(clusters) >= 2
    a, b = clusters[0]["id"], clusters[1]["id"]
    total = clusters[0]["size"] + clusters[1]["size"]
    d = run_json("--store", store, "merge", a, b)
    assert d["kind"] == "merge"
    sizes = {c["id"]: c["size"] for c in run_json("--store", store, "clusters")}
    assert max(sizes.get(a, 0), sizes.get(b, 0)) >= total


def test_cleanup_reports(store: str) -> None:
    report = run_json("--store", store, "cleanup")
    assert {"faces_moved", "clusters_created", "clusters_removed", "seconds"} <= set(report)
    assert "faces moved" in run("--store", store, "cleanup").output


# -- review loop ---------------------------------------------------------------------------------


def open_items(store: str) -> list[str]:
    from graphcluster.engine import GraphCluster

    with GraphCluster.open(store) as gc:
        return [i.id for i in gc.review_queue(limit=100)]


def review_status(store: str, item_id: str) -> str:
    from graphcluster.engine import GraphCluster

    with GraphCluster.open(store) as gc:
        return gc.store.get_review(item_id).status


def test_review_loop_saves_each_answer(store: str) -> None:
    before = open_items(store)
    assert len(before) >= 3, "the sample must raise review questions"
    summary = run_json("--store", store, "review", input="s\nn\nq\n")
    log = summary["answers"]
    assert [e["answer"] for e in log] == ["skip", "no"]
    assert summary["answered"] == 1 and summary["skipped"] == 1
    skipped, answered = log[0]["item"], log[1]["item"]
    assert review_status(store, answered) == "answered"
    assert answered not in open_items(store)
    assert review_status(store, skipped) == "answered"  # a skip is recorded: not asked again
    assert skipped not in open_items(store)


def test_review_yes_then_quit_in_text_mode(store: str) -> None:
    result = run("--store", store, "review", "--limit", "1", input="yes\n\n")
    assert "yes / no / skip / quit" in result.output
    assert "  A: " in result.output
    assert "saved: yes" in result.output
    assert "1 answered, 0 skipped" in result.output


def test_review_quit_at_once_changes_nothing(store: str) -> None:
    before = open_items(store)
    result = run("--store", store, "review", input="q\n")
    assert "0 answered, 0 skipped" in result.output
    assert open_items(store) == before


def test_review_rejects_an_unknown_answer_and_asks_again(store: str) -> None:
    result = run("--store", store, "review", input="maybe\nq\n")
    assert "not one of" in result.output or "invalid choice" in result.output.lower()


def test_review_takes_a_bulk_answer_with_face_numbers(store: str) -> None:
    from graphcluster.engine import GraphCluster
    from graphcluster.models import ReviewItem

    cid = biggest_cluster(store)["id"]
    with GraphCluster.open(store) as gc:
        members = gc.store.cluster_members([cid])[cid][:4]
        gc.store.put_reviews([ReviewItem(id="q-split", kind="split", priority=1e6, faces_a=members, cluster_a=cid)])
    result = run("--store", store, "review", "--limit", "1", input="n 0\nn 2 4\n")
    assert "Is cluster A one person?" in result.output and "    2. " in result.output
    assert "'0' is not the number of a face shown (1 to 4)" in result.output  # asked again
    assert "saved: no about 2 faces" in result.output and "progress: 1 answered here" in result.output
    assert "faces still to put right" in result.output
    with GraphCluster.open(store) as gc:
        where = gc.assignments(detail=True)
        assert where[members[1]].cluster_id != cid and where[members[3]].cluster_id != cid
        assert where[members[0]].cluster_id == cid and where[members[0]].status == "manual"
        assert gc.store.get_review("q-split").status == "answered"


def test_review_open_launches_the_viewer(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr(click, "launch", lambda url, **kw: opened.append(url) or 0)
    run("--store", store, "review", "--open", "--image-root", "/albums", input="q\n")
    assert opened and all(p.startswith("/albums/photos/") for p in opened)


# -- the investigation library -----------------------------------------------------------------------


def test_query_lists_the_library_without_a_store(tmp_path: Path) -> None:
    listing = run_json("--store", str(tmp_path / "never-created"), "query")
    names = {q["name"] for q in listing}
    assert {"person_faces", "co_occurring_people", "awaiting_review", "cluster_evidence", "similar_across_clusters",
            "cluster_bridges", "cluster_audit_trail", "changed_since"} <= names
    assert not (tmp_path / "never-created").exists()
    assert "-p cluster=<string>" in run("query").output


def test_query_errors_are_one_line(tmp_path: Path) -> None:
    assert "no query named 'nope'" in one_line_error(run("--store", str(tmp_path), "query", "nope", ok=False))
    assert "needs -p since=" in one_line_error(run("--store", str(tmp_path), "query", "changed_since", ok=False))
    line = one_line_error(run("--store", str(tmp_path), "query", "person_faces", "-p", "cluster=a", "-p", "limit=x", ok=False))
    assert "limit='x' is not an int" in line
    assert not (tmp_path / "graphcluster.sqlite").exists()  # parameters are checked before a store is opened


def test_browser_guide_holds_every_query_verbatim() -> None:
    from importlib import resources

    guide = html.unescape(resources.files("graphcluster.cypher").joinpath("browser/guide.html").read_text())
    assert guide.count("<slide") >= len(cypher_files.available("queries"))
    for name in cypher_files.available("queries"):
        body = "\n".join(ln for ln in cypher_files.load(name).splitlines() if not ln.startswith("//")).strip()
        assert body in guide, f"guide.html is out of date for {name}"


def test_grass_styles_the_model() -> None:
    from importlib import resources

    grass = resources.files("graphcluster.cypher").joinpath("browser/graphcluster.grass").read_text()
    for selector in ("node.Face", "node.Cluster", "relationship.MUST_LINK", "relationship.CANNOT_LINK", "relationship.SIMILAR"):
        assert selector + " {" in grass
    assert '"{name} ({size})"' in grass and '"{distance}"' in grass


def test_browser_files_are_served_with_cors() -> None:
    import threading
    import urllib.request

    from graphcluster import browser_files

    served: list[str] = []
    server = browser_files.make_server(0, log=served.append)  # port 0: any free port
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for url in browser_files.urls(port).values():
            with urllib.request.urlopen(url.replace("localhost", "127.0.0.1"), timeout=10) as reply:
                assert reply.status == 200 and reply.headers["Access-Control-Allow-Origin"] == "*"
                assert reply.read()
    finally:
        server.shutdown()
        server.server_close()
    assert len(served) == 2 and "guide.html" in served[0]


def test_show_face_reaches_a_face_whose_id_is_also_a_cluster_id(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    people = np.eye(8)[:3]
    rows = [(f"p{p}_{j}", people[p] + 0.02 * rng.normal(size=8)) for p in range(2) for j in range(3)]
    first = tmp_path / "a.csv"
    with first.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", *[f"v{i}" for i in range(8)]])
        w.writerows([fid, *vec] for fid, vec in rows)
    store = str(tmp_path / "db")
    settings = ["--set", "threshold=0.5", "--set", "index=exact"]
    run_json("--store", store, *settings, "ingest", str(first))
    cluster = run_json("--store", store, "show", "p0_0")["membership"]["cluster_id"]
    assert cluster is not None
    second = tmp_path / "b.csv"  # a face named like that cluster, somebody else
    with second.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", *[f"v{i}" for i in range(8)]])
        w.writerow([cluster, *people[2]])
    run_json("--store", store, *settings, "ingest", str(second))
    assert run_json("--store", store, "show", cluster)["kind"] == "cluster"
    as_face = run_json("--store", store, "show", "--face", cluster)
    assert as_face["kind"] == "face" and as_face["face"]["id"] == cluster
    missing = run("--store", store, "show", "--face", "nobody", ok=False)
    assert missing.exit_code != 0 and "no face with id 'nobody'" in missing.output


def test_stats_shows_the_calibration_confidence_and_review_asks_calibration_questions(store: str) -> None:
    text = run("--store", store, "stats").output
    assert "calibration " in text and " confidence: " in text
    level = run_json("--store", store, "stats")["thresholds"]["confidence"]["level"]
    assert level in ("high", "medium", "low")
    assert ("review --calibration" in text) == (level == "low")
    result = run("--store", store, "review", "--calibration", "--limit", "2", input="yes\nno\n")
    assert result.output.count("Are faces A and B the same person?") == 2
    assert "2 answered, 0 skipped" in result.output
    answers = run_json("--store", store, "stats")["thresholds"]["calibration_answers"]
    assert answers == {"same": 1, "different": 1}
    kinds = [d["kind"] for d in run_json("--store", store, "decisions")]
    assert "same_person" in kinds and "different_person" in kinds


def test_check_says_sound_or_names_each_problem_and_exits_1(store: str) -> None:
    text = run("--store", store, "check").output
    assert text.strip().endswith("sound") and "problem" not in text
    report = run_json("--store", store, "check")
    assert report["ok"] is True and report["problems"] == [] and report["faces"] == N_FACES

    from graphcluster import GraphCluster
    from graphcluster.models import Membership

    cluster = biggest_cluster(store)["id"]
    with GraphCluster.open(store) as gc:  # a foreign writer moves a face a human placed
        face = gc.store.cluster_members([cluster])[cluster][0]
        gc.assign(face, cluster)
        gc.store.apply_clustering([Membership(face_id=face, cluster_id=None, status="unassigned", confidence=0.0)])
    result = run("--store", store, "check", ok=False)
    assert result.exit_code == 1
    assert f"problem: faces placed by hand that are not in their cluster as 'manual': {face!r}" in result.output
    assert "Traceback" not in result.output
