"""The calibration is never frozen: it re-fits as the database grows and when new faces no
longer look like the fit, and a re-fit never undoes a human decision (embedded store)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graphcluster import GraphCluster, Settings
from graphcluster import calibration


def _people(n_people: int, per: int, *, spread: float, seed: int, dim: int = 32) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((n_people, dim))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    v = np.repeat(c, per, axis=0) + spread * rng.standard_normal((n_people * per, dim)) / np.sqrt(dim)
    order = rng.permutation(len(v))
    ids = [f"s{seed}p{i // per}_{i % per}" for i in range(len(v))]
    return (v / np.linalg.norm(v, axis=1, keepdims=True))[order].astype(np.float32), [ids[i] for i in order]


@pytest.fixture
def small_young(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the policy's sizes so a test database of a few hundred faces is 'grown up'."""
    monkeypatch.setattr(calibration, "YOUNG", 150)
    monkeypatch.setattr(calibration, "DRIFT_MIN_FACES", 30)


def test_refits_when_the_database_grows(tmp_path: Path, small_young: None) -> None:
    v, ids = _people(30, 10, spread=0.3, seed=1)
    with GraphCluster.open(tmp_path / "db", settings=Settings(index="exact")) as gc:
        for s in range(0, 200, 50):
            gc.add_faces(v[s:s + 50], ids=ids[s:s + 50])
        first = gc.stats().thresholds["confidence"]
        assert first["fitted_at_faces"] == 200
        gc.add_faces(v[200:260], ids=ids[200:260])  # 260 >= 1.25 x 200
        after = gc.stats().thresholds["confidence"]
        assert after["fitted_at_faces"] == 260 and "grew" in after["refit_reason"]
        assert after["refits"] == first["refits"] + 1


@pytest.mark.parametrize("full", [True, False], ids=["whole-database", "backlog"])
def test_refits_when_new_faces_drift_and_keeps_every_decision(
    tmp_path: Path, small_young: None, monkeypatch: pytest.MonkeyPatch, full: bool
) -> None:
    if not full:  # a 'large' database: the affected faces are re-clustered in instalments
        monkeypatch.setattr(calibration, "FULL_RECLUSTER", 100)
        monkeypatch.setattr("graphcluster.regions.BACKLOG_PER_BATCH", 20)
    wide, wide_ids = _people(20, 10, spread=0.45, seed=2)
    tight, tight_ids = _people(20, 10, spread=0.12, seed=3)  # another camera / model: much closer faces
    with GraphCluster.open(tmp_path / "db", settings=Settings(index="exact")) as gc:
        gc.add_faces(wide, ids=wide_ids)
        before = gc.stats().thresholds
        # a human decision the re-fit must not undo: two faces of one wide person kept apart
        person = sorted(f for f in wide_ids if f.startswith("s2p0_"))
        d = gc.different_person(person[0], person[1], by="ann")
        gc.add_faces(tight[:45], ids=tight_ids[:45])  # 245 < 1.25 x 200: no growth re-fit
        after = gc.stats().thresholds
        assert "drift" in (after["confidence"]["refit_reason"] or ""), after["confidence"]
        assert after["link"] != before["link"]
        if not full:
            left = gc.store.get_meta().get("recluster_backlog") or []
            assert left  # the move affected more faces than one batch re-clusters
            rest = tight[45:]
            for s in range(0, len(rest), 5):  # later batches drain it
                gc.add_faces(rest[s:s + 5], ids=tight_ids[45 + s:50 + s])
                if not gc.store.get_meta().get("recluster_backlog"):
                    break
            assert not gc.store.get_meta().get("recluster_backlog")
        a = gc.assignments()
        assert a[person[0]] is None or a[person[0]] != a[person[1]]
        assert d.id in {x.id for x in gc.decisions() if not x.undone}


def test_a_move_interrupted_before_its_recluster_is_repaired_on_open(
    tmp_path: Path, small_young: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The moved thresholds and the move are written together; if the process dies before the
    affected faces are re-clustered, the next open does it."""
    wide, wide_ids = _people(20, 10, spread=0.45, seed=2)
    tight, tight_ids = _people(20, 10, spread=0.12, seed=3)
    gc = GraphCluster.open(tmp_path / "db", settings=Settings(index="exact"))
    gc.add_faces(wide, ids=wide_ids)
    monkeypatch.setattr(gc.regions, "follow", lambda move: None)  # "dies" before the re-cluster
    gc.add_faces(tight[:45], ids=tight_ids[:45])
    assert gc.store.get_meta().get("threshold_change")
    gc.close()
    with GraphCluster.open(tmp_path / "db", settings=Settings(index="exact")) as again:
        assert not again.store.get_meta().get("threshold_change")
