"""The segmented Annoy index and the exact index: correctness, durability, crash recovery."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graphcluster.errors import InvalidInput, NotFound, StoreBusy, StoreError
from graphcluster.index import ExactIndex, NeighbourIndex, SegmentedAnnoyIndex, SegmentedHnswIndex, open_index
from graphcluster.index import _segment

HAVE_HNSWLIB = importlib.util.find_spec("hnswlib") is not None  # optional: the 'bench' extra
KINDS = ["annoy", "exact"] + (["hnsw"] if HAVE_HNSWLIB else [])
D = 16
# settings under which each engine searches (almost) exhaustively, for comparisons with brute force
EXHAUSTIVE: dict[str, dict[str, object]] = {"annoy": {"search_k": 100_000}, "hnsw": {"ef": 2_000}, "exact": {}}


def clustered(n: int, d: int = D, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Identities as random centres, members scattered around them (like face embeddings)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 8), d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[rng.integers(0, len(centres), n)] + 0.15 * rng.normal(size=(n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return [f"face-{seed}-{i}" for i in range(n)], x.astype(np.float32)


def brute(ids: list[str], x: np.ndarray, q: np.ndarray, k: int) -> list[list[str]]:
    dist = np.linalg.norm(q[:, None, :] - x[None, :, :], axis=2)
    return [[ids[j] for j in np.argsort(row, kind="stable")[:k]] for row in dist]


def recall(got: list[list[str]], want: list[list[str]]) -> float:
    return float(np.mean([len(set(g) & set(w)) / len(w) for g, w in zip(got, want)]))


def small(path: Path, kind: str, **opts: object) -> NeighbourIndex:
    base: dict[str, object] = {"delta_size": 100}
    if kind == "annoy":
        base.update(n_trees=10)
    base.update(opts)
    return open_index(path, kind, **base)


def add_in_batches(index: NeighbourIndex, ids: list[str], x: np.ndarray, size: int = 50) -> None:
    for i in range(0, len(ids), size):
        index.add(ids[i : i + size], x[i : i + size])


@pytest.mark.parametrize("kind", KINDS + ["annoy-trees"])
def test_query_matches_brute_force(tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    opts: dict[str, object] = {}
    if kind == "annoy-trees":  # Annoy's own search (the default effort would scan these small segments)
        monkeypatch.setattr(_segment, "SCAN_FRACTION", float("inf"))
        kind, opts = "annoy", {"search_k": 400}
    ids, x = clustered(1500)
    _, q = clustered(60, seed=9)
    with small(tmp_path, kind, **opts) as index:
        assert isinstance(index, NeighbourIndex)
        add_in_batches(index, ids, x)
        got, dist = index.query(q, 10)
        assert len(index.info()["segments"]) > 1  # the query really fanned out
    want = brute(ids, x, q, 10)
    assert recall(got, want) >= (1.0 if kind == "exact" else 0.95)
    pos = {f: i for i, f in enumerate(ids)}
    for row, names, dd in zip(q, got, dist):
        assert np.all(np.diff(dd) >= 0)
        true = np.linalg.norm(x[[pos[f] for f in names]] - row, axis=1)
        np.testing.assert_allclose(dd, true, atol=1e-5)  # angular is converted to L2


def test_a_batch_of_queries_answers_as_single_queries_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # large batches run Annoy on several threads; the answers must not depend on that
    monkeypatch.setattr(_segment, "SCAN_FRACTION", float("inf"))  # Annoy searches, never the scan
    ids, x = clustered(1200)
    _, q = clustered(150, seed=5)
    with small(tmp_path, "annoy", search_k=50) as index:
        add_in_batches(index, ids, x, size=200)
        assert len(index.info()["segments"]) >= 1
        together = index.query(q, 10)
        alone = [index.query(q[i : i + 1], 10) for i in range(len(q))]
    assert together[0] == [a[0][0] for a in alone]
    for row, (_, dd) in zip(together[1], alone):
        np.testing.assert_array_equal(row, dd[0])


def test_an_annoy_search_past_the_scan_fraction_scans_the_segment_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # search_k = 10 alone would find few true neighbours among 800; past the scan fraction
    # the segment is scanned instead, so the answers are exact
    monkeypatch.setattr(_segment, "SCAN_FRACTION", 0.001)
    ids, x = clustered(1200)
    _, q = clustered(40, seed=5)
    with small(tmp_path, "annoy", search_k=10) as index:
        add_in_batches(index, ids, x, size=200)
        index.flush()
        assert index.info()["delta"] == 0
        got_ids, got_d = index.query(q, 10)
    assert got_ids == brute(ids, x, q, 10)
    want = np.sort(np.linalg.norm(q[:, None, :] - x[None, :, :], axis=2), axis=1)[:, :10]
    np.testing.assert_allclose(np.array(got_d), want, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_delta_rolls_into_segments_and_tiers_merge(tmp_path: Path, kind: str) -> None:
    ids, x = clustered(1050)
    with small(tmp_path, kind, merge_factor=4) as index:
        add_in_batches(index, ids[:350], x[:350])
        info = index.info()
        assert info["segments"] == [100, 100, 100] and info["delta"] == 50
        add_in_batches(index, ids[350:], x[350:])
        info = index.info()
        # 4 segments of 100 merge into one of 400, twice; then 2 more of 100 and a delta of 50
        assert sorted(info["segments"]) == [100, 100, 400, 400] and info["delta"] == 50
        assert len(index) == 1050
        assert set(index.ids()) == set(ids)
        np.testing.assert_allclose(index.get_vectors(ids[::97]), x[::97], atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_compaction_keeps_results(tmp_path: Path, kind: str) -> None:
    ids, x = clustered(600)
    _, q = clustered(30, seed=3)
    # search_k larger than any segment: Annoy is exhaustive, so results must be identical
    with small(tmp_path, kind, **EXHAUSTIVE[kind]) as index:
        add_in_batches(index, ids, x)
        before = index.query(q, 10)
        index.compact()
        assert index.info()["segments"] == [600] and index.info()["delta"] == 0
        after = index.query(q, 10)
    assert before[0] == after[0]
    for a, b in zip(before[1], after[1]):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_tombstones(tmp_path: Path, kind: str) -> None:
    ids, x = clustered(420)
    gone = ids[:60:3] + ids[405:410]  # some in segments, some in the delta
    with small(tmp_path, kind, **EXHAUSTIVE[kind]) as index:
        add_in_batches(index, ids, x)
        index.delete(gone + ["never-added"])
        assert len(index) == 420 - len(gone)
        assert not any(g in index for g in gone)
        got, _ = index.query(x[: 60 : 3], 10)
        assert not set(gone) & {f for row in got for f in row}
        with pytest.raises(NotFound, match=gone[0]):
            index.get_vectors([gone[0]])
        assert index.info()["tombstones"] == 20
    with small(tmp_path, kind, **EXHAUSTIVE[kind]) as index:  # tombstones survive a restart
        assert len(index) == 420 - len(gone) and gone[0] not in index
        index.compact()
        assert index.info()["tombstones"] == 0 and len(index) == 420 - len(gone)
        index.add(gone[:2], x[:2])  # a deleted id may come back
        got, dist = index.query(x[:1], 1)
        assert got[0] == [gone[0]] and dist[0][0] < 1e-3


@pytest.mark.parametrize("kind", KINDS)
def test_bad_adds_write_nothing(tmp_path: Path, kind: str) -> None:
    ids, x = clustered(230)
    with small(tmp_path, kind) as index:
        add_in_batches(index, ids, x)
        for bad_ids in ([ids[5], "new-1"], [ids[225], "new-2"]):  # in a segment, in the delta
            with pytest.raises(InvalidInput, match="already in the index") as err:
                index.add(bad_ids, x[:2])
            assert err.value.ids == [bad_ids[0]] and err.value.rows == [0]
        bad = x[:3].copy()
        bad[1] = np.nan
        with pytest.raises(InvalidInput, match="NaN") as err:
            index.add(["n1", "n2", "n3"], bad)
        assert err.value.ids == ["n2"]
        with pytest.raises(InvalidInput, match="dimension 8"):
            index.add(["n1"], np.ones((1, 8)))
        assert len(index) == 230 and "new-1" not in index and "n1" not in index
    with small(tmp_path, kind) as index:
        assert len(index) == 230 and "n1" not in index


@pytest.mark.parametrize("kind", KINDS)
def test_delta_survives_a_crashed_process(tmp_path: Path, kind: str) -> None:
    script = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from tests.unit.test_index_segmented import clustered, small
from pathlib import Path
ids, x = clustered(260)
index = small(Path({str(tmp_path)!r}), {kind!r})
for i in range(0, 260, 20):
    index.add(ids[i:i + 20], x[i:i + 20])
index.delete([ids[3], ids[250]])
index.flush()
os._exit(0)  # no close(): the process dies with the delta only in the log
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    ids, x = clustered(260)
    with small(tmp_path, kind) as index:
        assert len(index) == 258
        assert index.info()["delta"] == 59
        assert ids[3] not in index and ids[250] not in index and ids[259] in index
        np.testing.assert_allclose(index.get_vectors([ids[255]]), x[[255]], atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_crash_mid_build_leaves_a_working_index(tmp_path: Path, kind: str) -> None:
    ids, x = clustered(350)
    with small(tmp_path, kind, **EXHAUSTIVE[kind]) as index:
        add_in_batches(index, ids, x)
        want = index.query(x[:20], 5)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    # what a crash leaves: a half-written segment under its temp name, a complete segment the
    # manifest never got to name, a half-written manifest, and a torn record in the log
    (tmp_path / ".seg-000777.ann.tmp").write_bytes(b"\0" * 1000)
    (tmp_path / "seg-000778.vec.npy").write_bytes(b"junk")
    (tmp_path / ".manifest.json.tmp").write_text('{"segments": [')
    with open(tmp_path / manifest["log"], "ab") as fh:
        fh.write(b"GCDL\x01\x00\x00")
    with small(tmp_path, kind, **EXHAUSTIVE[kind]) as index:
        assert len(index) == 350
        got = index.query(x[:20], 5)
        assert got[0] == want[0]
        index.add(["after-crash"], x[:1])  # the log is usable after the torn tail is cut
    left = sorted(os.listdir(tmp_path))
    assert not [f for f in left if f.endswith(".tmp") or f.startswith("seg-00077")]
    with small(tmp_path, kind) as index:
        assert "after-crash" in index and len(index) == 351


@pytest.mark.parametrize("kind", KINDS)
def test_rebuild_from_stored_vectors(tmp_path: Path, kind: str) -> None:
    ids, x = clustered(500)
    cls = {"annoy": SegmentedAnnoyIndex, "hnsw": SegmentedHnswIndex, "exact": ExactIndex}[kind]
    with small(tmp_path, kind) as index:  # an old index in the same directory is replaced
        index.add(["stale"], x[:1])
    opts = dict(EXHAUSTIVE[kind], **({"n_trees": 10} if kind == "annoy" else {}))
    with cls.rebuild(tmp_path, ids, x, **opts) as index:
        assert index.info()["segments"] == [500] and "stale" not in index
        got, _ = index.query(x[:25], 10)
    assert recall(got, brute(ids, x, x[:25], 10)) == 1.0
    with open_index(tmp_path, kind) as index:
        assert len(index) == 500
    with pytest.raises(InvalidInput, match="duplicate"):
        cls.rebuild(tmp_path / "other", ["a", "a"], x[:2])
    assert not (tmp_path / "other" / "manifest.json").exists()


def test_second_writer_is_refused(tmp_path: Path) -> None:
    with open_index(tmp_path, "exact"):
        with pytest.raises(StoreBusy):
            open_index(tmp_path, "exact")
    open_index(tmp_path, "exact").close()


def test_wrong_kind_dim_or_k(tmp_path: Path) -> None:
    with open_index(tmp_path, "exact", dim=D) as index:
        index.add(["a"], np.ones((1, D)))
        with pytest.raises(InvalidInput, match="k must be"):
            index.query(np.ones((1, D)), 0)
    with pytest.raises(StoreError, match="'exact' index"):
        open_index(tmp_path, "annoy")
    with pytest.raises(InvalidInput, match="16-D"):
        open_index(tmp_path, "exact", dim=32)
    with pytest.raises(InvalidInput, match="unknown index kind"):
        open_index(tmp_path, "faiss")


@pytest.mark.parametrize("kind", KINDS)
def test_small_and_empty_indexes(tmp_path: Path, kind: str) -> None:
    with small(tmp_path, kind) as index:
        got, dist = index.query(np.ones((2, 4)), 3)  # dimension not fixed yet
        assert got == [[], []] and all(len(d) == 0 for d in dist)
        index.add(["a", "b"], np.eye(4)[:2])
        got, dist = index.query(np.eye(4)[:1], 5)
        assert got == [["a", "b"]]
        np.testing.assert_allclose(dist[0], [0.0, np.sqrt(2.0)], atol=1e-6)
        assert index.info()["dim"] == 4


@pytest.mark.parametrize("kind", KINDS)
def test_tombstones_survive_a_tier_merge(tmp_path: Path, kind: str) -> None:
    ids, x = clustered(420)
    gone = ids[0:30:2]  # all in the first segment, which an hnsw merge extends
    with small(tmp_path, kind, **EXHAUSTIVE[kind]) as index:
        add_in_batches(index, ids[:300], x[:300])
        index.delete(gone)
        add_in_batches(index, ids[300:], x[300:])  # the 4th segment of 100 triggers a merge
        assert len(index.info()["segments"]) == 1  # four segments of 100 became one
        got, _ = index.query(x[:30], 10)
        assert not set(gone) & {f for row in got for f in row}
        assert len(index) == 420 - len(gone)
    with small(tmp_path, kind, **EXHAUSTIVE[kind]) as index:
        got, _ = index.query(x[:30], 10)
        assert not set(gone) & {f for row in got for f in row}
        assert sorted(index.ids()) == sorted(set(ids) - set(gone))


@pytest.mark.parametrize(
    ("kind", "param"),
    [
        ("annoy", "search_k"),
        pytest.param("hnsw", "ef", marks=pytest.mark.skipif(not HAVE_HNSWLIB, reason="no hnswlib")),
    ],
)
def test_search_effort_is_calibrated_per_segment_and_kept(tmp_path: Path, kind: str, param: str) -> None:
    ids, x = clustered(2000, d=32)
    _, q = clustered(50, d=32, seed=4)
    with open_index(tmp_path, kind, delta_size=1000, target_recall=0.97) as index:
        add_in_batches(index, ids, x, size=250)
        got, _ = index.query(q, 10)
    assert recall(got, brute(ids, x, q, 10)) >= 0.95
    built = [s["built"] for s in json.loads((tmp_path / "manifest.json").read_text())["segments"]]
    assert len(built) == 2 and all(b[param] >= 10 for b in built)
    with open_index(tmp_path, kind) as index:  # reopening reads the calibration, no recalibration
        again, _ = index.query(q, 10)
    assert again == got


@pytest.mark.parametrize(("m", "n", "kk"), [(7, 5, 3), (5, 5, 5), (40, 1000, 10), (30, 20_011, 11), (16, 4096, 1)])
def test_top_columns_finds_the_largest_entries_of_every_row(m: int, n: int, kk: int) -> None:
    rng = np.random.default_rng(n)
    sims = rng.standard_normal((m, n)).astype(np.float32)
    sims[0, :] = 0.5  # a row of ties: any kk columns are right
    got = _segment.top_columns(sims, kk)
    assert got.shape == (m, kk)
    assert all(len(set(row)) == kk for row in got.tolist())
    want = -np.sort(-sims, axis=1)[:, :kk]
    np.testing.assert_array_equal(-np.sort(-np.take_along_axis(sims, got, axis=1), axis=1), want)


@pytest.mark.parametrize("kind", KINDS)
def test_tombstones_near_a_query_do_not_hide_its_live_neighbours(tmp_path: Path, kind: str) -> None:
    ids, x = clustered(2000)
    _, q = clustered(1, seed=9)
    with small(tmp_path, kind, delta_size=2000) as index:
        add_in_batches(index, ids, x, size=500)
        index.flush()
        assert index.info()["delta"] == 0
        nearest = brute(ids, x, q, 40)[0]
        index.delete(nearest)  # 2% of the segment, all of them next to the query
        got, _ = index.query(q, 10)
    live = [f for f in ids if f not in set(nearest)]
    keep = np.array([f not in set(nearest) for f in ids])
    assert got[0] == brute(live, x[keep], q, 10)[0]


def test_the_scan_answers_a_batch_as_single_queries_do_up_to_rounding(tmp_path: Path) -> None:
    ids, x = clustered(1200)
    _, q = clustered(80, seed=5)
    with small(tmp_path, "exact") as index:
        add_in_batches(index, ids, x, size=200)
        together = index.query(q, 10)
        alone = [index.query(q[i : i + 1], 10) for i in range(len(q))]
    assert together[0] == [a[0][0] for a in alone]  # matrix products of another shape round differently
    for row, (_, dd) in zip(together[1], alone):
        np.testing.assert_allclose(row, dd[0], atol=1e-6)


def test_search_effort_is_calibrated_to_the_neighbours_closer_than_the_radius() -> None:
    """A search that finds only the ``effort`` nearest: recall@10 needs all ten, the recall of
    the neighbours closer than the radius far fewer; too few close ones falls back to recall@10."""
    from types import SimpleNamespace

    from graphcluster.index._calibrate import calibrate

    _, x = clustered(2000, d=32)
    seg = SimpleNamespace(n=len(x), vectors=x)

    def search(queries: np.ndarray, kk: int, effort: int) -> np.ndarray:
        items, _ = _segment.exact_topk(x, queries, kk)
        items[:, effort:] = -1
        return items

    efforts = list(range(1, 11))
    _, d = _segment.exact_topk(x, x[:200], 11)
    radius = float(np.quantile(d[:, 1:], 0.05))  # the nearest one or two of ten, mostly
    plain = calibrate(seg, efforts, search)  # type: ignore[arg-type]
    close = calibrate(seg, efforts, search, radius=radius)  # type: ignore[arg-type]
    assert plain == 10 and close <= 7
    # the chosen effort finds at least 97 % of the truly close neighbours of fresh queries (new
    # photos of stored people)
    rng = np.random.default_rng(7)
    q = x[rng.choice(len(x), 100, replace=False)] + 0.1 * rng.normal(size=(100, 32)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    found, dist = _segment.exact_topk(x, q, 10)
    near = dist < radius
    assert near.sum() >= 50 and (near[:, :close].sum() / near.sum()) >= 0.97
    assert calibrate(seg, efforts, search, radius=0.0) == plain  # type: ignore[arg-type]
