"""graphcluster: incremental, high-precision face clustering on a graph.

Faces arrive in batches; graphcluster groups them into people without re-clustering the whole
database, and never undoes a human decision. Start with :class:`GraphCluster`::

    from graphcluster import GraphCluster, Settings

    with GraphCluster.open("faces-db") as gc:
        gc.add_faces(vectors, ids=ids)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module; loaded on first use so that `import graphcluster` (and the CLI) start fast
_EXPORTS = {
    "GraphCluster": "graphcluster.engine",
    "Settings": "graphcluster.settings",
    "Assignment": "graphcluster.models",
    "AddReport": "graphcluster.models",
    "FaceReport": "graphcluster.models",
    "CleanupReport": "graphcluster.models",
    "CheckReport": "graphcluster.models",
    "ClusterRecord": "graphcluster.models",
    "Decision": "graphcluster.models",
    "FaceRecord": "graphcluster.models",
    "ReviewItem": "graphcluster.models",
    "PhotoOutcome": "graphcluster.models",
    "PhotoReport": "graphcluster.models",
    "Stats": "graphcluster.models",
    "GraphClusterError": "graphcluster.errors",
    "InvalidInput": "graphcluster.errors",
    "ConstraintConflict": "graphcluster.errors",
    "NotFound": "graphcluster.errors",
    "StoreBusy": "graphcluster.errors",
    "StoreError": "graphcluster.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from graphcluster.engine import GraphCluster
    from graphcluster.errors import (
        ConstraintConflict,
        GraphClusterError,
        InvalidInput,
        NotFound,
        StoreBusy,
        StoreError,
    )
    from graphcluster.models import (
        AddReport,
        Assignment,
        CheckReport,
        CleanupReport,
        ClusterRecord,
        Decision,
        FaceRecord,
        FaceReport,
        PhotoOutcome,
        PhotoReport,
        ReviewItem,
        Stats,
    )
    from graphcluster.settings import Settings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'graphcluster' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
