"""The clustering core: pure functions, a projection of the graph in, labels out.

Nothing here does I/O. ``GraphView`` is how the code reads the graph (the engine adapts a
Store to it; ``MemoryGraph`` implements it in memory). See docs/clustering.md and
docs/calibration.md.
"""

from __future__ import annotations

from graphcluster.clustering.constraints import ConstraintSet
from graphcluster.clustering.graph import GraphView, MemoryGraph
from graphcluster.clustering.recluster import RegionResult, recluster
from graphcluster.clustering.region import Region, build_region
from graphcluster.clustering.thresholds import Thresholds, calibrate, edge_weight, fit_to_answers, refine_thresholds
from graphcluster.clustering.tuning import DEFAULT_TUNING, Tuning
from graphcluster.clustering.whispers import chinese_whispers

__all__ = [
    "Thresholds",
    "calibrate",
    "fit_to_answers",
    "refine_thresholds",
    "edge_weight",
    "ConstraintSet",
    "GraphView",
    "MemoryGraph",
    "Region",
    "build_region",
    "RegionResult",
    "recluster",
    "chinese_whispers",
    "Tuning",
    "DEFAULT_TUNING",
]
