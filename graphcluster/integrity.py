"""``GraphCluster.check``: is the database sound after a crash, a restore or a foreign writer?

It reads the whole database once (its cost follows the database, as ``cleanup`` does) and
reports, without changing anything:

1. the store's own bookkeeping (``Store.integrity``): no face in two clusters, no membership
   of a missing cluster, no empty cluster, every cluster's ``size`` its member count, every
   MUST_LINK / CANNOT_LINK backed by an active decision and every active same / different
   person decision backed by its relationship;
2. the journals are empty: no batch chunk (``pending``) and no decision (``decision_journal``)
   is half-applied — both are repaired when the database is opened, so a left-over entry
   means a repair failed;
3. every human decision holds: must-linked faces share a cluster, cannot-linked faces do
   not, a face placed by hand (``assign``) is in that cluster with status ``manual``, a face
   banned from a cluster (``remove``) is not in it, and status ``manual`` is held only by
   faces a human holds (placed by hand, or members of a locked cluster). A locked cluster may
   grow by automatic members, so its members need not all be ``manual``; the ones a human
   placed are pins, checked above;
4. the neighbour index holds exactly the stored faces.

An ``add_faces`` call that stopped part-way is a note, not a problem: its stored chunks are
whole and clustered, and re-sending the call completes it (docs/reliability.md).
"""

from __future__ import annotations

import time
from typing import Any

from graphcluster.index import NeighbourIndex
from graphcluster.models import CheckReport
from graphcluster.store.base import Store
from graphcluster.view import StoreView

__all__ = ["check"]

_SHOW = 5  # examples named per problem


def _examples(items: list[Any]) -> str:
    shown = ", ".join(repr(x) if isinstance(x, str) else str(x) for x in items[:_SHOW])
    return shown + (f" (and {len(items) - _SHOW} more)" if len(items) > _SHOW else "")


def check(store: Store, index: NeighbourIndex, view: StoreView) -> CheckReport:
    """Check ``store`` and ``index`` as the module docstring lists; nothing is written."""
    started = time.perf_counter()
    problems: list[str] = []
    notes: list[str] = []

    for key, ids in store.integrity().items():
        if ids:
            problems.append(f"store: {key.replace('_', ' ')}: {_examples(ids)}")

    meta = store.get_meta()
    if meta.get("pending"):
        problems.append(f"the batch journal still names {len(meta['pending'])} faces (e.g. {meta['pending'][0]!r}); "
                        "reopen the database to repair it")
    if meta.get("decision_journal"):
        entry = meta["decision_journal"][-1]
        problems.append(f"the decision journal still holds a {entry.get('op')!r} call; reopen the database to repair it")
    interrupted = meta.get("interrupted_add")
    if interrupted:
        notes.append(f"add_faces call {interrupted['batch']} stopped part-way: {interrupted['stored']} of "
                     f"{len(interrupted['ids'])} faces stored; re-send it to store the rest")

    members = store.memberships(None)
    cluster_of = {f: m.cluster_id for f, m in members.items()}
    faces = sorted(members)
    must, cannot = store.constraint_links(faces)
    split = [lid for a, b, lid in must if cluster_of.get(a) != cluster_of.get(b)]
    if split:
        problems.append(f"must-links whose faces are in different clusters: {_examples(split)}")
    joined = [lid for a, b, lid in cannot if cluster_of.get(a) is not None and cluster_of.get(a) == cluster_of.get(b)]
    if joined:
        problems.append(f"cannot-links whose faces share a cluster: {_examples(joined)}")
    pinned = view.pinned(faces)
    misplaced = [f for f, c in pinned.items() if cluster_of.get(f) != c or members[f].status != "manual"]
    if misplaced:
        problems.append(f"faces placed by hand that are not in their cluster as 'manual': {_examples(misplaced)}")
    banned = [f for f, cs in view.forbidden(faces).items() if cluster_of.get(f) in cs]
    if banned:
        problems.append(f"faces in a cluster they were removed from: {_examples(banned)}")
    clusters = store.get_clusters(None)
    locked = {cid for cid, c in clusters.items() if c.locked}
    unheld = sorted(f for f, m in members.items()
                    if m.status == "manual" and f not in pinned and m.cluster_id not in locked)
    if unheld:
        problems.append(f"faces marked 'manual' that no placement or lock holds: {_examples(unheld)}")
    bad_status = sorted(f for f, m in members.items() if (m.cluster_id is None) != (m.status == "unassigned"))
    if bad_status:
        problems.append(f"faces whose status does not match their cluster: {_examples(bad_status)}")

    indexed = set(index.ids())
    stored = set(faces)
    if indexed != stored:
        extra, missing = sorted(indexed - stored), sorted(stored - indexed)
        problems.append(f"the index holds {len(indexed)} faces, the store {len(stored)}"
                        + (f"; not stored: {_examples(extra)}" if extra else "")
                        + (f"; not indexed: {_examples(missing)}" if missing else "")
                        + "; GraphCluster.rebuild_index() rebuilds it from the stored vectors")
    counts = store.counts()
    return CheckReport(ok=not problems, problems=problems, notes=notes, faces=len(stored), clusters=len(clusters),
                       decisions=counts.decisions, seconds=time.perf_counter() - started)
