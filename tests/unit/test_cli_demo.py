"""The demo: ``graphcluster demo`` through ``CliRunner`` and ``graphcluster.demo.run_demo`` directly.

Real engine on the embedded store in a temporary directory; generated faces (``--synthetic``)
unless the labelled LFW sample is on this machine (then one small real run as well).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from graphcluster.cli import cli
from graphcluster.demo import (
    DemoSummary,
    find_sample_data,
    find_sample_photos,
    pairwise_scores,
    run_demo,
    summary_lines,
)
from graphcluster.errors import InvalidInput


def run(*args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=True)
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def run_json(*args: str) -> Any:
    return json.loads(run("--json", *args).stdout)


def test_demo_on_generated_faces(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    out = run_json("demo", "--store", str(target), "--synthetic", "--faces", "200", "--answers", "3")
    assert out["data"] == "synthetic" and out["faces"] == 200
    assert out["clusters"] >= 1 and len(out["answered"]) <= 3
    assert 0 <= out["pairwise"]["precision"] <= 1
    assert out["decisions"] >= 1 and out["locked_clusters"] >= 1  # the reviewer locked the largest person
    # a second run empties the demo's own store and starts again
    again = run_json("demo", "--store", str(target), "--synthetic", "--faces", "200", "--answers", "0")
    assert again["faces"] == 200


def test_demo_refuses_a_store_it_did_not_make(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "precious.txt").write_text("not the demo's")
    result = run("demo", "--store", str(theirs), "--synthetic", "--faces", "50", ok=False)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "not made by the demo" in result.output
    assert (theirs / "precious.txt").exists()


def test_run_demo_as_a_library_call(tmp_path: Path) -> None:
    said: list[str] = []
    seen: list[tuple[int, int]] = []
    summary = run_demo(str(tmp_path / "d"), faces=60, answers=2, batch_size=25, synthetic=True, seed=1,
                       echo=said.append, progress=lambda done, total: seen.append((done, total)))
    assert isinstance(summary, DemoSummary)
    assert summary.faces == 60 and summary.data == "synthetic" and summary.store == str(tmp_path / "d")
    assert len(said) == 1 and "60 generated faces" in said[0]
    assert seen == [(25, 60), (50, 60), (60, 60)]
    text = "\n".join(summary_lines(summary))
    assert "ingested 60 faces" in text and "example clusters:" in text
    with pytest.raises(InvalidInput, match="faces >= 20"):
        run_demo(str(tmp_path / "e"), faces=5, synthetic=True)


def test_pairwise_scores_count_pairs() -> None:
    labels = {"a": "x", "b": "x", "c": "x", "d": "y", "e": "y"}
    # a,b together (right); c alone (a missed pair with a and b); d,e split (missed); nothing wrong
    assigned: dict[str, str | None] = {"a": "c1", "b": "c1", "c": None, "d": "c2", "e": "c3"}
    scores = pairwise_scores(assigned, labels)
    assert scores["precision"] == 1.0
    assert scores["recall"] == round(1 / 4, 4)  # 1 of the 4 true pairs (ab, ac, bc, de)
    merged = pairwise_scores({f: "c1" for f in labels}, labels)
    assert merged["recall"] == 1.0 and merged["precision"] == round(4 / 10, 4)


def test_demo_text_on_real_faces_when_present(tmp_path: Path) -> None:
    if find_sample_data() is None:
        pytest.skip("the labelled sample (../shared/data/lfw_dlib128) is not on this machine")
    result = run("demo", "--store", str(tmp_path / "d"), "--faces", "150", "--answers", "2", "--vectors")
    assert "real LFW faces" in result.output
    assert "example clusters:" in result.output and "lfw-deepfunneled/" in result.output


def test_the_demo_starts_from_the_photos_when_present(tmp_path: Path) -> None:
    if find_sample_photos() is None:
        pytest.skip("the sample photos (../shared/data/lfw_photos) or the photos extra are not on this machine")
    out = run_json("demo", "--store", str(tmp_path / "d"), "--photos", "30", "--answers", "2")
    assert out["data"] == "lfw_photos" and out["photos"] == {"added": 30}
    assert out["faces"] >= 30 and all(p["size"] >= 2 for p in out["people"])
    text = run("demo", "--store", str(tmp_path / "d"), "--photos", "30", "--answers", "0").output
    assert "people found" in text and "graphcluster serve" in text and "img_0" in text
