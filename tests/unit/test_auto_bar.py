"""The 'auto' bar follows how settled the calibration is (ThresholdKeeper.auto_confidence)."""

from __future__ import annotations

import pytest

from graphcluster import GraphCluster
from graphcluster.synth import make_faces

pytestmark = pytest.mark.unit


def test_a_boundary_read_off_a_small_sample_marks_only_firmly_held_faces_auto(tmp_path) -> None:
    faces = make_faces(800, mean_size=1.6, lookalike_share=0.0, seed=3)
    with GraphCluster.open(tmp_path / "db") as gc:
        gc.add_faces(faces.vectors[:300], ids=faces.ids[:300])
        level = gc.stats().thresholds["confidence"]["level"]
        assert level == "medium"
        bar = gc.thresholds.auto_confidence()
        assert bar == pytest.approx((1 + gc.settings.auto_confidence) / 2)
        detail = gc.assignments(detail=True)
        auto = [a.confidence for a in detail.values() if a.status == "auto"]
        review = [a.confidence for a in detail.values() if a.status == "review"]
        assert auto and min(auto) >= bar
        # the faces between the setting's bar and the raised one are assigned, as 'review'
        assert any(gc.settings.auto_confidence <= c < bar for c in review)

        for start in range(300, 800, 100):
            gc.add_faces(faces.vectors[start:start + 100], ids=faces.ids[start:start + 100])
        assert gc.stats().thresholds["confidence"]["level"] == "high"
        assert gc.thresholds.auto_confidence() == gc.settings.auto_confidence
