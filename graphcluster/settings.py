"""The one settings object. Only the CLI reads environment variables; this module never does."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from graphcluster.clustering.tuning import Tuning

__all__ = ["Settings"]


class Settings(BaseModel):
    """How graphcluster clusters, indexes and stores faces.

    Every threshold is an L2 distance between L2-normalised vectors (0..2). A threshold left at
    ``None`` is calibrated from the data (see docs/calibration.md) and shown by ``stats()``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # neighbours and thresholds
    k: int = Field(10, ge=1, le=200, description="neighbours looked up per new face (SIMILAR edges)")
    threshold: float | None = Field(
        None, gt=0, le=2, description="link distance: closer pairs may be the same person; None = calibrate"
    )
    min_cluster_size: int = Field(5, ge=2, description="unassigned faces needed for a new-identity question")
    auto_confidence: float = Field(0.6, ge=0, le=1, description="below this a face is assigned with status 'review'")
    same_image_cannot_link: bool = Field(
        True, description="two faces from the same image are two different people (a free cannot-link)"
    )

    # algorithm
    seed: int = 0
    max_iterations: int = Field(30, ge=1, le=1000)
    region_limit: int = Field(
        30, ge=10, description="clusters up to this size enter a batch's region whole; a larger one contributes at most "
        "this many faces near the new ones (and enters whole with probability up to region_limit / size)"
    )
    bootstrap_min: int = Field(
        5000, ge=0, description="an add_faces of at least this many faces into an empty database is clustered in one "
        "pass over the whole kNN graph (graphcluster.bootstrap) instead of chunk by chunk; 0: never"
    )
    tuning: Tuning = Field(
        default_factory=Tuning, description="constants of the clustering pass's rules (graphcluster.clustering.tuning); "
        "the defaults are measured, change them to compare variants"
    )

    # index
    index: Literal["annoy", "hnsw", "exact", "neo4j"] = Field(
        "annoy", description="neighbour engine: segmented Annoy (default), segmented hnswlib, exact numpy, or "
        "Neo4j's own vector index (Neo4j store only; many workers share one database: docs/neo4j.md)"
    )
    vector_candidates: int = Field(
        100, ge=1, description="index='neo4j': neighbours asked of Neo4j's vector index per query (recall)"
    )
    lease_seconds: float = Field(
        60.0, gt=0, description="index='neo4j': a worker's write lease lasts this long without renewal"
    )
    lease_wait: float = Field(
        600.0, ge=0, description="index='neo4j': seconds to wait for another worker's lease before StoreBusy"
    )
    index_dir: Path | None = Field(None, description="index directory for a Neo4j store (embedded: inside the store dir)")
    crops_dir: Path | None = Field(
        None, description="face crops folder (embedded: inside the store dir; Neo4j: beside the index dir)"
    )
    annoy_trees: int = Field(50, ge=1)
    search_k: int | None = Field(None, description="Annoy search_k; None = its default (trees x k)")
    delta_size: int | None = Field(
        None, ge=1, description="vectors in the exact in-memory delta before a segment is built (None: a 10 MB budget)"
    )

    # store
    store_embeddings: bool = Field(True, description="also store each vector on its Face node/row")
    database: str | None = Field(None, description="Neo4j database name (None = the server default)")
