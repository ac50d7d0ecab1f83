"""The clustering pass's tuning: one frozen model, passed to ``build_region`` and ``recluster``.

Every number here was measured on real faces and several synthetic and transformed
collections (docs/clustering.md says what each rule does, docs/benchmarks/quality_core.md and
docs/benchmarks/robustness.md what it changes). The defaults are what graphcluster runs with;
``Settings(tuning=Tuning(split_join=0.9))`` runs another value without patching a module, which
is how the benchmarks compare variants (``benchmarks/quality_core.py --set split_join=0.9``).
The distance thresholds are not here: they come from the calibration (docs/calibration.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Tuning", "DEFAULT_TUNING"]


class Tuning(BaseModel):
    """Constants of the constraint-aware clustering pass (a 0 minimum switches its rule off).

    Attributes:
        merge_support: two labels merge (``merge_fragments``) only with at least this many
            cross links per face of the smaller one; tight parts of a re-checked cluster rejoin
            (``split_weak``) only with as many.
        merge_mean: ... and only if those links average below this share of ``link``.
        merge_min_edges: a lone face joins a cluster by the merge rule, and a group a held
            cluster, only with at least this many links into it.
        split_min: clusters of at least this many nodes, held wholly in a region, are re-checked
            (``split_weak``); 0: never.
        doubt_min: a cluster of at least this many nodes but fewer than ``split_min``, held
            wholly in a region, that the re-check would split keeps its members, but none of
            them is ``auto``: they are assigned as ``review``; 0 (or ``split_min = 0``): off.
        split_join: a re-checked cluster's tight parts rejoin while the links between them
            average below this share of ``link``.
        local_scale: the re-check's join limit shrinks where a cluster's nearest outsiders sit
            closer than the calibrated nearest-impostor mode.
        attach_min: a face left alone joins a cluster when at least this many of its
            neighbours closer than ``review`` are in it and none is elsewhere (``attach_lone``);
            0: never.
        attach_stored: a neighbour peeled off its cluster in this pass still votes for it.
        core_neighbours: a face's distance to its cluster's core is its mean distance to this
            many nearest members (part of its confidence).
        held_support: a group formed around members of a cluster held partly outside the
            region takes that cluster's id only with this many links per other face into those
            members; 0: off.
        audit_per_seed: expected faces per seed of whole-cluster audits of large clusters in a
            region (``build_region``); 0: no budget.
        large_context: a large cluster contributes at most this many times its faces already
            in the region; 0: up to ``region_limit`` faces.
        recheck_min: a cluster is re-checked whole (``Reclusterer.recheck_grown``) when a write
            makes it cross a size level ``recheck_min x recheck_growth**j``; 0: never.
        recheck_growth: the factor between two re-check levels.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    merge_support: float = Field(1.0, ge=0)
    merge_mean: float = Field(0.85, gt=0)
    merge_min_edges: int = Field(2, ge=1)
    split_min: int = Field(10, ge=0)
    doubt_min: int = Field(5, ge=0)
    split_join: float = Field(0.96, gt=0)
    local_scale: bool = True
    attach_min: int = Field(4, ge=0)
    attach_stored: bool = True
    core_neighbours: int = Field(5, ge=1)
    held_support: float = Field(1.0, ge=0)
    audit_per_seed: float = Field(4.0, ge=0)
    large_context: int = Field(1, ge=0)
    recheck_min: int = Field(10, ge=0)
    recheck_growth: float = Field(1.25, gt=1)


DEFAULT_TUNING = Tuning()
