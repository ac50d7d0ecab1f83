"""The curated public surface: every name in __all__ resolves, and nothing public is missing."""

from __future__ import annotations

import graphcluster


def test_every_exported_name_resolves() -> None:
    for name in graphcluster.__all__:
        assert getattr(graphcluster, name) is not None, name


def test_public_api_names_are_exported() -> None:
    required = {"GraphCluster", "Settings", "Assignment", "ReviewItem", "Decision", "ConstraintConflict"}
    assert required <= set(graphcluster.__all__)


def test_errors_form_one_tree() -> None:
    for name in ("InvalidInput", "ConstraintConflict", "NotFound", "StoreBusy", "StoreError"):
        assert issubclass(getattr(graphcluster, name), graphcluster.GraphClusterError)
    assert issubclass(graphcluster.InvalidInput, ValueError)
