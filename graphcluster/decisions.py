"""Human decisions and the review queue.

Every function takes the open store's ``Reclusterer`` (``graphcluster.regions``: the store,
its view, the thresholds and the settings); the facade ``GraphCluster`` calls them.

Each decision is checked against the earlier ones first (a contradiction raises
``ConstraintConflict`` naming them, and nothing changes), recorded with its audit trail, and
then applied by re-clustering only the region it touches. The clustering core enforces the
recorded decisions on every later batch and cleanup, so nothing undoes them but ``undo``.

Decisions and what enforces them:

- same_person (MUST_LINK) / different_person (CANNOT_LINK): the constraint sets of the core;
- assign (face -> cluster, status ``manual``): a pin; remove ("not this person"): a ban of
  that face from that cluster. For one face, a later assign or remove supersedes the earlier
  one (which is marked undone, and says so in its ``data``);
- merge: moves the members of one cluster into the other and must-links an anchor face of
  each, so no later pass splits them; undo restores the cluster it removed;
- lock / unlock / name: fields of the cluster; a locked cluster's members are clamped.

A decision is several store writes (record it, then re-cluster what it touches). Each call
notes itself in the store's meta (``decision_journal``: the operation and the ids it will
record) before its first write and clears the note after its last; a crash in between leaves
the note, and the next open finishes the call from what was recorded (``repair_journal``), so
a recorded decision is always in force. A call that recorded nothing leaves nothing behind.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from graphcluster.clustering import ConstraintSet
from graphcluster.clustering.questions import BULK_KINDS
from graphcluster.errors import ConstraintConflict, InvalidInput, NotFound
from graphcluster.models import ClusterRecord, Decision, Membership, ReviewItem, Status, new_decision_id, utcnow
from graphcluster.writer import emptied_clusters, obsolete_reviews

if TYPE_CHECKING:
    from graphcluster.regions import Reclusterer

JOURNAL = "decision_journal"


def _decision_id() -> str:
    return new_decision_id()


def _require_faces(rc: Reclusterer, *face_ids: str) -> None:
    missing = sorted(set(face_ids) - rc.store.existing_face_ids(face_ids))
    if missing:
        raise NotFound(f"no face with id {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))


def constraint_closure(rc: Reclusterer, faces: Iterable[str]) -> ConstraintSet:
    """The must-link groups of ``faces`` (followed transitively) and their cannot-links."""
    seen: set[str] = set()
    frontier = set(faces)
    must: dict[str, tuple[str, str, str]] = {}
    cannot: dict[str, tuple[str, str, str]] = {}
    while frontier:
        seen |= frontier
        m, c = rc.store.constraint_links(frontier)
        for link in m:
            must[link[2]] = link
        for link in c:
            cannot[link[2]] = link
        frontier = {x for a, b, _ in m for x in (a, b)} - seen
    return ConstraintSet(list(must.values()), list(cannot.values()))


def _record(rc: Reclusterer, kind: str, a: str, b: str | None, by: str | None, reason: str | None,
            decision_id: str | None = None, **data: Any) -> Decision:
    d = Decision(id=decision_id or _decision_id(), kind=kind, a=a, b=b, by=by, reason=reason, data=data)
    rc.store.add_decision(d)
    return d


@contextmanager
def _journaled(rc: Reclusterer, entry: dict[str, Any]) -> Iterator[None]:
    """Note ``entry`` in the decision journal for the writes of the block, then drop it.

    The journal is a stack (an answer notes itself, then the decisions it records note
    themselves). When the block fails the note stays, and the next open finishes the call.
    """
    stack = list(rc.store.get_meta().get(JOURNAL) or [])
    rc.store.set_meta({JOURNAL: [*stack, entry]})
    try:
        yield
    except (ConstraintConflict, InvalidInput, NotFound):
        # a refusal: the checks come before the first write, so the call changed nothing
        rc.store.set_meta({JOURNAL: stack or None})
        raise
    rc.store.set_meta({JOURNAL: stack or None})


def repair_journal(rc: Reclusterer) -> list[str]:
    """Finish the calls a crash interrupted (innermost first); returns their operations.

    Each note names the decision its call records: when that decision is stored (and active)
    its effects are applied again — they are idempotent — and when it is not, the call changed
    nothing that needs finishing. The labelled-pair distances a same / different decision adds
    to the calibration are not re-added (they refine the thresholds; the decision itself holds).
    """
    stack = rc.store.get_meta().get(JOURNAL) or []
    for entry in reversed(stack):
        _finish(rc, entry)
    if stack:
        rc.store.set_meta({JOURNAL: None})
    return [str(e.get("op")) for e in stack]


def _finish(rc: Reclusterer, entry: dict[str, Any]) -> None:
    op = entry.get("op")
    if op == "answer":
        item = rc.store.get_review(entry["review"])
        why = f"review {item.id}"
        faces = item.faces_a + item.faces_b
        clusters = [c for c in (item.cluster_a, item.cluster_b) if c]
        recorded = [d for d in rc.store.get_decisions(face_ids=faces) + rc.store.get_decisions(cluster_ids=clusters)
                    if d.reason == why]
        if recorded and item.status == "open":
            rc.store.set_review_status([item.id], "answered", answer=entry.get("reply"))
        if item.kind in BULK_KINDS:  # its placements re-cluster once, after the last of them
            placed = sorted(rc.store.existing_face_ids(
                [d.a for d in recorded if d.kind in ("assign", "remove") and not d.undone]))
            if placed:
                rc.region(placed)
        return
    if op == "undo_answer":
        item = rc.store.get_review(entry["review"])
        for d in reversed(answer_decisions(rc, item)):
            undo(rc, d.id, by=entry.get("by"))
        if item.status != "open":
            rc.store.set_review_status([item.id], "open", answer=None)
        return
    if op == "undo":
        try:
            target = rc.store.get_decision(entry["decision"])
        except NotFound:
            return
        if target.undone:
            _after_undo(rc, target)
        return
    active = _active(rc, entry.get("decision"))
    if active is None:  # interrupted before it recorded anything
        return
    d = active
    if op == "same_person":
        rc.region([d.a, d.b or d.a])
    elif op == "different_person":
        _split(rc, d)
    elif op in ("assign", "remove"):
        _apply_placement(rc, d)
    elif op == "merge":
        _fold(rc, d)
    elif op in ("lock", "unlock"):
        if d.a in rc.store.get_clusters([d.a]):
            _apply_lock(rc, d.a, op == "lock")
    elif op == "name" and d.a in rc.store.get_clusters([d.a]):
        rc.store.update_cluster(d.a, name=d.data.get("name"))


def _active(rc: Reclusterer, decision_id: str | None) -> Decision | None:
    """The decision with that id when it is recorded and not undone."""
    if not decision_id:
        return None
    try:
        d = rc.store.get_decision(decision_id)
    except NotFound:
        return None
    return None if d.undone else d


def _cluster_of(rc: Reclusterer, face_id: str) -> str | None:
    return rc.store.memberships([face_id])[face_id].cluster_id


def _lock_decision(rc: Reclusterer, cluster_id: str) -> str:
    locks = rc.store.get_decisions(cluster_ids=[cluster_id], kinds=["lock"], active_only=True)
    return locks[-1].id if locks else f"lock of {cluster_id}"


# -- pair decisions ------------------------------------------------------------------------------
def _pair(rc: Reclusterer, kind: str, a: str, b: str) -> tuple[str | None, str | None]:
    """Check a pair decision against the earlier ones; returns the two faces' clusters."""
    if a == b:
        raise InvalidInput(f"{kind} needs two different faces, got {a!r} twice")
    _require_faces(rc, a, b)
    cs = constraint_closure(rc, [a, b])
    if kind == "same_person":
        cs.check_must_link(a, b)
        _check_group_homes(rc, cs.group(a) | cs.group(b), cs.cannot_partners(a) | cs.cannot_partners(b))
    else:
        cs.check_cannot_link(a, b)
    return _cluster_of(rc, a), _cluster_of(rc, b)


def _check_group_homes(rc: Reclusterer, group: set[str], partners: set[str]) -> None:
    """A must-link group is one person: none of its faces may be banned from a cluster another
    face of it is held in by a human (placed there, or a member of a locked cluster), and no
    cannot-link partner of the group may be in a locked cluster that holds one of its faces
    (a locked cluster keeps its members: the two could never be apart)."""
    homes = dict(rc.view.pinned(group))
    if len(set(homes.values())) > 1:  # placed by hand in two clusters: one person cannot be in both
        placed = sorted(homes.items(), key=lambda fc: (fc[1], fc[0]))
        (f1, c1), (f2, c2) = placed[0], next(fc for fc in placed if fc[1] != placed[0][1])
        pins = [d.id for d in rc.store.get_decisions(face_ids=[f1, f2], kinds=["assign"], active_only=True)
                if d.a in (f1, f2)]
        raise ConstraintConflict(
            f"face {f1!r} was placed in cluster {c1!r} and face {f2!r} in {c2!r} by hand; they cannot be one "
            f"person in two clusters: merge the clusters (merge({c1!r}, {c2!r})) or place one of the faces again",
            conflicts=pins)
    clusters = {f: m.cluster_id for f, m in rc.store.memberships(group | partners).items()}
    locked = rc.view.locked({c for c in clusters.values() if c})
    for p in sorted(partners):
        home = clusters.get(p)
        held = sorted(f for f in group if home is not None and clusters.get(f) == home)
        if home is not None and held and home in locked:
            raise ConstraintConflict(
                f"locked cluster {home!r} holds {held[0]!r}, whose group this decision joins, and {p!r}, "
                f"known to be a different person from a face of that group; unlock it first "
                f"(unlock({home!r})) or remove the wrong face", conflicts=[_lock_decision(rc, home)])
    homes.update({f: c for f, c in clusters.items() if f in group and c in locked and f not in homes})
    if len(set(homes.values())) > 1:  # held by hand in two clusters (placed, or locked in)
        by_hand = sorted(homes.items(), key=lambda fc: (fc[1], fc[0]))
        (f1, c1), (f2, c2) = by_hand[0], next(fc for fc in by_hand if fc[1] != by_hand[0][1])
        why = [_lock_decision(rc, c) if c in locked else next(
            (d.id for d in rc.store.get_decisions(face_ids=[f], kinds=["assign"], active_only=True) if d.a == f), "")
            for f, c in ((f1, c1), (f2, c2))]
        raise ConstraintConflict(
            f"face {f1!r} is held in cluster {c1!r} and face {f2!r} in {c2!r} by human decisions (a placement or "
            f"a lock); they cannot be one person in two clusters: merge the clusters (merge({c1!r}, {c2!r})) or "
            "move one of the faces first", conflicts=why)
    partner_pins = rc.view.pinned(partners)
    for p, c in sorted(partner_pins.items()):  # a partner placed by hand where the group is held
        held = sorted(g for g, h in homes.items() if h == c)
        if held:
            raise ConstraintConflict(
                f"face {p!r}, known to be a different person from a face of this group, was placed in cluster "
                f"{c!r} by hand, where {held[0]!r} of the group is held; place one of them elsewhere first",
                conflicts=[d.id for d in rc.store.get_decisions(face_ids=[p], kinds=["assign"], active_only=True)
                           if d.a == p])
    banned = rc.view.forbidden(group)
    for f, cids in sorted(banned.items()):
        held = sorted(g for g, c in homes.items() if c in cids)
        if held:
            bans = rc.store.get_decisions(face_ids=[f], kinds=["remove"], active_only=True)
            lid = next((d.id for d in bans if d.a == f), "")
            raise ConstraintConflict(
                f"face {f!r} would be one person with {held[0]!r}, which a human holds in cluster "
                f"{homes[held[0]]!r}, but decision {lid} says {f!r} is not that cluster's person; "
                "undo one of them first", conflicts=[lid])


def same_person(rc: Reclusterer, a: str, b: str, *, by: str | None, reason: str | None,
                recluster: bool = True, **data: Any) -> Decision:
    """Record a must-link (``recluster=False``: the caller learns from it and reclusters once
    for a whole group of them)."""
    ca, cb = _pair(rc, "same_person", a, b)
    if ca and cb and ca != cb:
        locked = rc.view.locked([ca, cb])
        if len(locked) == 2:
            raise ConstraintConflict(
                f"faces {a!r} and {b!r} are in two locked clusters ({ca!r}, {cb!r}); locked clusters never "
                f"merge on their own: merge them explicitly with merge({ca!r}, {cb!r})",
                conflicts=[_lock_decision(rc, ca), _lock_decision(rc, cb)],
            )
    did = _decision_id()
    with _journaled(rc, {"op": "same_person", "decision": did}):
        d = _record(rc, "same_person", a, b, by, reason, decision_id=did, **data)
        if recluster:
            rc.thresholds.learn(same=[(a, b)])
            rc.region([a, b])
    return d


def _check_placed_apart(rc: Reclusterer, a: str, b: str) -> None:
    """Two people cannot both be placed by hand in one cluster (faces must-linked to them count)."""
    cs = constraint_closure(rc, [a, b])
    group_a, group_b = cs.group(a), cs.group(b)
    pins = rc.view.pinned(group_a | group_b)
    shared = sorted({pins[f] for f in group_a if f in pins} & {pins[f] for f in group_b if f in pins})
    if shared:
        placed = [f for f in sorted(group_a | group_b) if pins.get(f) == shared[0]]
        ids = [d.id for d in rc.store.get_decisions(face_ids=placed, kinds=["assign"], active_only=True) if d.a in placed]
        raise ConstraintConflict(
            f"faces {a!r} and {b!r} are both placed in cluster {shared[0]!r} by hand (themselves or faces said to "
            "be the same person); place one of them elsewhere or remove it from that cluster first", conflicts=ids)


def different_person(rc: Reclusterer, a: str, b: str, *, by: str | None, reason: str | None,
                     **data: Any) -> Decision:
    ca, cb = _pair(rc, "different_person", a, b)
    if ca is not None and ca == cb and rc.view.locked([ca]):
        raise ConstraintConflict(
            f"faces {a!r} and {b!r} are both in locked cluster {ca!r}, whose members a human verified; "
            f"unlock it first (unlock({ca!r})) or remove the wrong face",
            conflicts=[_lock_decision(rc, ca)],
        )
    _check_placed_apart(rc, a, b)
    did = _decision_id()
    with _journaled(rc, {"op": "different_person", "decision": did}):
        d = _record(rc, "different_person", a, b, by, reason, decision_id=did, **data)
        rc.thresholds.learn(different=[(a, b)])
        _split(rc, d)
    return d


def _split(rc: Reclusterer, d: Decision) -> None:
    """Re-cluster the two faces of a cannot-link; a cluster holding both is split at once."""
    ca, cb = _cluster_of(rc, d.a), _cluster_of(rc, d.b or d.a)
    seeds = {d.a, d.b or d.a}
    if ca is not None and ca == cb:
        seeds |= set(rc.store.cluster_members([ca])[ca])
    rc.whole(sorted(seeds))


# -- face placement ------------------------------------------------------------------------------
def _supersede(rc: Reclusterer, face_id: str, new: Decision) -> None:
    """The latest placement of a face wins: a new assign replaces every earlier assign and a
    ban from the same cluster; a new ban replaces an assign to (or a ban from) that cluster.
    Bans from other clusters stay. Clusters are compared as they are named now (a ban from a
    cluster since merged into another is a ban from that other one)."""
    olds = [d for d in rc.store.get_decisions(face_ids=[face_id], kinds=["assign", "remove"], active_only=True)
            if d.a == face_id and d.id != new.id]
    now = rc.view.resolve({c for d in [*olds, new] if (c := d.b) is not None})
    for old in olds:
        same = old.b is not None and new.b is not None and now[old.b] == now[new.b]
        if (new.kind == "assign" and (old.kind == "assign" or same)) or (new.kind == "remove" and same):
            rc.store.undo_decision(old.id)


def _place(rc: Reclusterer, memberships: Sequence[Membership], clusters: Sequence[ClusterRecord] = ()) -> None:
    """Write faces' new places by hand; a cluster they leave empty is deleted in the same call,
    as a re-clustering deletes the clusters it empties (the region re-clustered next starts
    from the faces and would never see an empty cluster)."""
    emptied = emptied_clusters(rc.store, memberships)
    rc.store.apply_clustering(memberships, clusters, emptied)
    if emptied:
        obsolete_reviews(rc.store, emptied)


def assign(rc: Reclusterer, face_id: str, cluster_id: str, *, by: str | None, reason: str | None,
           recluster: bool = True) -> Decision:
    """Place a face in a cluster by hand (``recluster=False``: the caller re-clusters once for
    several placements)."""
    _require_faces(rc, face_id)
    rc.view.cluster_record(cluster_id)
    members = rc.store.cluster_members([cluster_id])[cluster_id]
    cs = constraint_closure(rc, [face_id, *members])
    for m in members:
        if m != face_id:
            cs.check_must_link(face_id, m)
    current = _cluster_of(rc, face_id)
    if current and current != cluster_id and rc.view.locked([current]):
        group = cs.group(face_id) if hasattr(cs, "group") else {face_id}
        if len(group) > 1:
            raise ConstraintConflict(
                f"face {face_id!r} is must-linked to other faces of locked cluster {current!r}; "
                "undo those links first", conflicts=[_lock_decision(rc, current)])
    _check_group_follows(rc, face_id, cluster_id)
    did = _decision_id()
    with _journaled(rc, {"op": "assign", "decision": did}):
        d = _record(rc, "assign", face_id, cluster_id, by, reason, decision_id=did, previous=current)
        _apply_placement(rc, d, recluster=recluster)
    return d


def _check_group_follows(rc: Reclusterer, face_id: str, cluster_id: str) -> None:
    """A face placed by hand takes its must-link group along: refuse when another face of the
    group is held elsewhere by a human (placed in another cluster, or a member of a locked
    one) or is banned from ``cluster_id``; the group could not follow, and keeping both
    decisions would split a must-link."""
    group = constraint_closure(rc, [face_id]).group(face_id) - {face_id}
    if not group:
        return
    for g, home in sorted(rc.view.pinned(group).items()):
        if home != cluster_id:
            pins = [d.id for d in rc.store.get_decisions(face_ids=[g], kinds=["assign"], active_only=True) if d.a == g]
            raise ConstraintConflict(
                f"face {face_id!r} is the same person as {g!r}, which was placed in cluster {home!r} by hand; "
                f"place {g!r} in {cluster_id!r} too, or undo that same-person decision first", conflicts=pins[-1:])
    homes = {g: m.cluster_id for g, m in rc.store.memberships(group).items() if m.cluster_id}
    for home in sorted(rc.view.locked({c for c in homes.values() if c != cluster_id})):
        g = min(f for f, c in homes.items() if c == home)
        raise ConstraintConflict(
            f"face {face_id!r} is the same person as {g!r}, a member of locked cluster {home!r}; "
            f"unlock it first (unlock({home!r})) or undo that same-person decision", conflicts=[_lock_decision(rc, home)])
    for g, banned in sorted(rc.view.forbidden(group).items()):
        if cluster_id in banned:
            bans = [d.id for d in rc.store.get_decisions(face_ids=[g], kinds=["remove"], active_only=True) if d.a == g]
            raise ConstraintConflict(
                f"face {face_id!r} is the same person as {g!r}, which a human said is not the person of "
                f"{cluster_id!r}; undo one of those decisions first", conflicts=bans[-1:])


def _apply_placement(rc: Reclusterer, d: Decision, *, recluster: bool = True) -> None:
    """Apply an assign (a pin) or a remove (a ban) that is recorded (``recluster=False``: the
    caller re-clusters the region once for several of them)."""
    _supersede(rc, d.a, d)
    if d.kind == "assign":
        if d.b in rc.store.get_clusters([d.b or ""]):
            _place(rc, [Membership(face_id=d.a, cluster_id=d.b, status="manual", confidence=1.0)])
    elif _cluster_of(rc, d.a) == d.b:
        _place(rc, [Membership(face_id=d.a, cluster_id=None, status="unassigned", confidence=0.0)])
    if recluster:
        rc.region([d.a])


def remove(rc: Reclusterer, face_id: str, *, by: str | None, reason: str | None,
           cluster_id: str | None = None, recluster: bool = True) -> Decision:
    """Take a face out of its cluster (or, with ``cluster_id``, ban it from that cluster);
    ``recluster=False``: the caller re-clusters once for several of them."""
    _require_faces(rc, face_id)
    held = _cluster_of(rc, face_id)
    current = cluster_id or held
    if current is None:
        raise InvalidInput(f"face {face_id!r} is in no cluster; there is nothing to remove it from")
    cs = constraint_closure(rc, [face_id])
    group = cs.group(face_id) - {face_id}
    if group:
        same = [g for g in group if _cluster_of(rc, g) == current]
        if same:
            links = [lid for a, b, lid in cs.must_links if face_id in (a, b) or a in group or b in group]
            raise ConstraintConflict(
                f"face {face_id!r} is must-linked to {same[0]!r}, also in cluster {current!r}; "
                "undo that same-person decision first", conflicts=links)
    did = _decision_id()
    with _journaled(rc, {"op": "remove", "decision": did}):
        d = _record(rc, "remove", face_id, current, by, reason, decision_id=did)
        if held == current:
            _apply_placement(rc, d, recluster=recluster)
        else:
            _supersede(rc, face_id, d)
    return d


# -- clusters ------------------------------------------------------------------------------------
def _anchor(rc: Reclusterer, cluster_id: str, members: Sequence[str]) -> str:
    ms = rc.store.memberships(members)
    return max(members, key=lambda f: (ms[f].status == "manual", ms[f].confidence, f))


def merge(rc: Reclusterer, cluster_a: str, cluster_b: str, *, by: str | None, reason: str | None) -> Decision:
    if cluster_a == cluster_b:
        raise InvalidInput(f"merge needs two different clusters, got {cluster_a!r} twice")
    ra, rb = rc.view.cluster_record(cluster_a), rc.view.cluster_record(cluster_b)
    members = rc.store.cluster_members([cluster_a, cluster_b])
    cs = constraint_closure(rc, members[cluster_a] + members[cluster_b])
    side_b = set(members[cluster_b])
    for x, y, lid in cs.cannot_links:
        in_a = {x, y} & set(members[cluster_a])
        if in_a and ({x, y} - in_a) & side_b:
            raise ConstraintConflict(
                f"clusters {cluster_a!r} and {cluster_b!r} cannot merge: decision {lid} says faces {x!r} and "
                f"{y!r} are different people; undo it first if it was wrong", conflicts=[lid])
    _check_bans(rc, cluster_a, cluster_b, members[cluster_a], members[cluster_b])
    # the locked (else larger) cluster keeps its id
    keep, gone = (ra, rb) if (ra.locked, ra.size) >= (rb.locked, rb.size) else (rb, ra)
    moved = members[gone.id]
    anchor_keep = _anchor(rc, keep.id, members[keep.id])
    anchor_gone = _anchor(rc, gone.id, moved)
    did, link_id = _decision_id(), _decision_id()
    with _journaled(rc, {"op": "merge", "decision": did}):
        d = _record(rc, "merge", keep.id, gone.id, by, reason, decision_id=did, moved=moved,
                    gone_locked=gone.locked, gone_name=gone.name, anchors=[anchor_keep, anchor_gone],
                    anchor_decision=link_id)
        _fold(rc, d)
    return d


def _fold(rc: Reclusterer, d: Decision) -> None:
    """Apply a recorded merge: the anchor must-link, then the members of ``d.b`` into ``d.a``."""
    anchor_keep, anchor_gone = d.data["anchors"]
    link_id = d.data["anchor_decision"]
    if _active(rc, link_id) is None and rc.store.existing_face_ids([anchor_keep, anchor_gone]) == {anchor_keep, anchor_gone}:
        _record(rc, "same_person", anchor_keep, anchor_gone, d.by, f"merge {d.id}", decision_id=link_id, merge=d.id)
    found = rc.store.get_clusters([d.a, d.b or ""])
    keep, gone = found.get(d.a), found.get(d.b or "")
    if keep is None or gone is None:  # folded already
        return
    moved = rc.store.cluster_members([gone.id])[gone.id]
    ms = rc.store.memberships(moved)
    rc.store.apply_clustering(
        [Membership(face_id=f, cluster_id=keep.id, status=ms[f].status, confidence=ms[f].confidence) for f in moved],
        [keep.model_copy(update={"locked": keep.locked or gone.locked, "name": keep.name or gone.name,
                                 "updated_at": utcnow()})],
        [gone.id],
    )
    obsolete_reviews(rc.store, [gone.id])
    # "f is not this person" about either cluster now holds for the merged one: such a face
    # (placed there by the algorithm) leaves it and is re-clustered around its own neighbours
    members = rc.store.cluster_members([keep.id])[keep.id]
    banned = sorted(f for f, cs in rc.view.forbidden(members).items() if keep.id in cs)
    if banned:
        rc.store.apply_clustering([Membership(face_id=f, cluster_id=None, status="unassigned", confidence=0.0)
                                   for f in banned])
        rc.region(banned)


def _check_bans(rc: Reclusterer, cluster_a: str, cluster_b: str, members_a: Sequence[str],
                members_b: Sequence[str]) -> None:
    """A face removed from one cluster ("not this person") cannot join it by a merge with its own."""
    banned = rc.view.forbidden([*members_a, *members_b])
    for faces, other in ((members_a, cluster_b), (members_b, cluster_a)):
        for f in faces:
            if other in banned.get(f, ()):
                bans = rc.store.get_decisions(face_ids=[f], kinds=["remove"], active_only=True)
                lid = next((d.id for d in bans if d.a == f and d.b == other), bans[-1].id if bans else "")
                raise ConstraintConflict(
                    f"clusters {cluster_a!r} and {cluster_b!r} cannot merge: decision {lid} says face {f!r} is not "
                    f"the person of {other!r}; undo it first if it was wrong", conflicts=[lid])


def set_lock(rc: Reclusterer, cluster_id: str, locked: bool, *, by: str | None, reason: str | None) -> Decision:
    record = rc.view.cluster_record(cluster_id)
    did = _decision_id()
    with _journaled(rc, {"op": "lock" if locked else "unlock", "decision": did}):
        d = _record(rc, "lock" if locked else "unlock", cluster_id, None, by, reason, decision_id=did,
                    previous=record.locked)
        _apply_lock(rc, cluster_id, locked)
    return d


def _apply_lock(rc: Reclusterer, cluster_id: str, locked: bool) -> None:
    rc.store.update_cluster(cluster_id, locked=locked)
    members = rc.store.cluster_members([cluster_id])[cluster_id]
    ms = rc.store.memberships(members)
    pinned = rc.view.pinned(members)
    changes = []
    for f in members:
        status = "manual" if (locked or f in pinned) else ("auto" if ms[f].status == "manual" else ms[f].status)
        if status != ms[f].status:
            changes.append(Membership(face_id=f, cluster_id=cluster_id, status=status, confidence=ms[f].confidence))
    if changes:
        rc.store.apply_clustering(changes)


def set_name(rc: Reclusterer, cluster_id: str, name: str, *, by: str | None, reason: str | None) -> Decision:
    record = rc.view.cluster_record(cluster_id)
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"a cluster name must be a non-empty string, got {name!r}")
    did = _decision_id()
    with _journaled(rc, {"op": "name", "decision": did}):
        d = _record(rc, "name", cluster_id, None, by, reason, decision_id=did, name=name.strip(), previous=record.name)
        rc.store.update_cluster(cluster_id, name=name.strip())
    return d


# -- undo ----------------------------------------------------------------------------------------
def undo(rc: Reclusterer, decision_id: str, *, by: str | None = None) -> Decision:
    d = rc.store.get_decision(decision_id)
    if d.undone:
        return d
    if d.kind == "merge":
        _check_unmerge(rc, d)
    with _journaled(rc, {"op": "undo", "decision": d.id}):
        if d.kind != "merge":
            rc.store.undo_decision(d.id)
        _after_undo(rc, d)
    return rc.store.get_decision(d.id)


def _after_undo(rc: Reclusterer, d: Decision) -> None:
    """What undoing ``d`` changes besides marking it undone (``_undo_merge`` does both)."""
    if d.kind in ("same_person", "different_person"):
        rc.thresholds.refresh()  # an undone calibration answer no longer places the link
        rc.follow_change()
        seeds = [d.a, d.b or d.a]
        clusters = {c for c in (_cluster_of(rc, d.a), _cluster_of(rc, d.b or d.a)) if c}
        if d.kind == "same_person":  # the group may fall apart: look at the clusters it held together
            for members in rc.store.cluster_members(clusters).values():
                seeds += members
        rc.region(sorted(set(seeds)), limit=max(len(seeds) + 1, rc.settings.region_limit))
    elif d.kind in ("assign", "remove"):
        rc.region([d.a])
    elif d.kind == "merge":
        _undo_merge(rc, d)
    elif d.kind in ("lock", "unlock"):
        if d.a in rc.store.get_clusters([d.a]):
            _apply_lock(rc, d.a, bool(d.data.get("previous", d.kind == "unlock")))
    elif d.kind == "name":
        if d.a in rc.store.get_clusters([d.a]):
            rc.store.update_cluster(d.a, name=d.data.get("previous"))


def _pins_named(rc: Reclusterer, faces: Sequence[str]) -> dict[str, str]:
    """Face -> the cluster id its latest active placement names, as written (not followed
    through merges: undoing a merge needs the names as they were)."""
    out: dict[str, str] = {}
    for x in rc.store.get_decisions(face_ids=faces, kinds=["assign"], active_only=True):  # oldest first
        if x.a in faces and x.b is not None:
            out[x.a] = x.b
    return out


def _folds_into(rc: Reclusterer, cluster_id: str, target: str) -> bool:
    """Whether ``cluster_id`` is ``target`` or was folded into it by active merges (followed
    through chains; ``target`` need not exist yet: an undo of a merge is about to restore it)."""
    seen: set[str] = set()
    while cluster_id != target and cluster_id not in seen:
        seen.add(cluster_id)
        into = [x.a for x in rc.store.get_decisions(cluster_ids=[cluster_id], kinds=["merge"], active_only=True)
                if x.b == cluster_id and x.a is not None]
        if not into:
            return False
        cluster_id = into[-1]
    return cluster_id == target


def _unmerged(rc: Reclusterer, d: Decision) -> list[str]:
    """The faces undoing merge ``d`` moves back to its removed cluster: the members it moved
    that are still in the kept cluster, except the ones a human placed in the kept cluster
    since (a later placement wins over the undo of an earlier merge)."""
    moved = [f for f, m in rc.store.memberships(d.data.get("moved", [])).items() if m.cluster_id == d.a]
    pins = _pins_named(rc, moved)
    return [f for f in moved if pins.get(f) != d.a]


def _check_unmerge(rc: Reclusterer, d: Decision) -> None:
    """Refuse to undo a merge that would split a must-link made since (other than its anchor)."""
    going = _unmerged(rc, d)
    if not going:
        return
    anchor = d.data.get("anchor_decision")
    must, _cannot = rc.store.constraint_links(going)
    back = set(going)
    for a, b, lid in must:
        if lid != anchor and (a in back) != (b in back):
            inside, outside = (a, b) if a in back else (b, a)
            raise ConstraintConflict(
                f"undoing merge {d.id} would move {inside!r} back to {d.b!r} and leave {outside!r} in {d.a!r}, but "
                f"decision {lid} says they are one person; undo that decision first", conflicts=[lid])


def _undo_merge(rc: Reclusterer, d: Decision) -> None:
    rc.store.undo_decision(d.id)
    anchor = d.data.get("anchor_decision")
    if anchor and _active(rc, anchor) is not None:
        rc.store.undo_decision(anchor)
    gone = d.b or ""
    going = _unmerged(rc, d)
    if gone in rc.store.get_clusters([gone]) or not going:
        return
    ms = rc.store.memberships(going)
    locked = bool(d.data.get("gone_locked"))
    pins = _pins_named(rc, going)
    held = {c for c in set(pins.values()) if _folds_into(rc, c, gone)}

    def status(f: str) -> Status:
        # 'manual' only where a human holds the face: the restored cluster's lock or a pin
        if locked or pins.get(f) in held:
            return "manual"
        return "auto" if ms[f].status == "manual" else ms[f].status

    _place(rc,
           [Membership(face_id=f, cluster_id=gone, status=status(f), confidence=ms[f].confidence) for f in going],
           [ClusterRecord(id=gone, locked=locked, name=d.data.get("gone_name"))])


# -- review queue --------------------------------------------------------------------------------
def _still_relevant(rc: Reclusterer, item: ReviewItem) -> bool:
    return _relevant(rc, [item])[0]


def _relevant(rc: Reclusterer, items: Sequence[ReviewItem]) -> list[bool]:
    """Whether each item still asks something (two store reads for all of them together)."""
    faces = sorted({f for it in items for f in it.faces_a + it.faces_b})
    ms = rc.store.memberships(faces)  # unknown (deleted) faces are left out
    clusters = rc.store.get_clusters(sorted({c for it in items for c in (it.cluster_a, it.cluster_b) if c}))
    asked = sorted({f for it in items if it.kind in ("face", "join") for f in it.faces_a})
    banned = rc.view.forbidden(asked) if asked else {}
    out = []
    for item in items:
        mine = item.faces_a + item.faces_b
        if not all(f in ms for f in mine):
            out.append(False)
        elif item.kind == "merge":
            out.append(item.cluster_a in clusters and item.cluster_b in clusters
                       and all(ms[f].cluster_id == item.cluster_a for f in item.faces_a)
                       and all(ms[f].cluster_id == item.cluster_b for f in item.faces_b))
        elif item.kind == "face":  # a tentative member, or an unassigned face near the cluster
            m = ms[item.faces_a[0]]
            in_question = m.cluster_id == item.cluster_b and m.status == "review"
            out.append((in_question or m.cluster_id is None) and item.cluster_b in clusters
                       and item.cluster_b not in banned.get(item.faces_a[0], ()))
        elif item.kind == "join":  # faces still outside the person, free, and not ruled out of it
            out.append(item.cluster_b in clusters and all(
                ms[f].cluster_id != item.cluster_b and ms[f].status != "manual"
                and item.cluster_b not in banned.get(f, ()) for f in item.faces_a))
        elif item.kind == "split":  # the members shown are still in the cluster, none placed by hand
            out.append(item.cluster_a in clusters and not clusters[item.cluster_a].locked and all(
                ms[f].cluster_id == item.cluster_a and ms[f].status != "manual" for f in item.faces_a))
        elif item.kind == "pair":  # calibration: asks something as long as both faces exist
            out.append(True)
        else:  # new identity: still unassigned, or still exactly the one unverified cluster it was asked about
            held = {ms[f].cluster_id for f in item.faces_a}
            cid = item.cluster_a
            out.append(held == {None} or (held == {cid} and cid in clusters and not clusters[cid].locked
                                          and all(ms[f].status != "manual" for f in item.faces_a)))
    return out


def review_queue(rc: Reclusterer, limit: int, *, sweep: bool = True) -> list[ReviewItem]:
    """The ``limit`` most useful open items; items that no longer ask anything are marked obsolete.

    When fewer than ``limit`` are open, the clusters and unassigned faces are swept for more
    (``_sweep``), so the queue runs dry only once no region has a question left to ask.

    Open items are read a page at a time, best first (the page doubles while too many of them
    turn out stale), so the cost follows ``limit``, not the number of open items.
    """
    out: list[ReviewItem] = []
    stale: list[str] = []
    shown: set[str] = set()  # faces a bulk question of this page asks about: its answer settles them
    seen, page = 0, max(2 * limit, 20)
    while len(out) < limit:
        items = rc.store.get_reviews(status="open", limit=page)
        fresh = items[seen:]
        for item, ok in zip(fresh, _relevant(rc, fresh)):
            if len(out) >= limit:
                break
            if not ok:
                stale.append(item.id)
            elif item.kind not in BULK_KINDS:
                out.append(item)
            elif not shown & set(item.faces_a):
                out.append(item)
                shown |= set(item.faces_a)
        seen = len(items)
        if len(items) < page:
            break
        page *= 2
    if stale:
        rc.store.set_review_status(stale, "obsolete")
    if len(out) < limit and sweep and _sweep(rc, limit - len(out)):
        return review_queue(rc, limit, sweep=False)
    return out


SWEEP_CLUSTERS = 40  # clusters looked at per sweep step, largest first
SWEEP_FACES = 200  # unassigned faces looked at per sweep step


def _sweep(rc: Reclusterer, wanted: int) -> int:
    """Look for questions the regions re-clustered so far did not leave: walk the clusters
    (largest first) and the unassigned faces with a cursor kept in meta (``review_sweep``),
    proposing the questions around each (``Reclusterer.ask_around``), until ``wanted`` new
    ones are open or a whole pass found none. A pass that found none is not repeated until
    the store's decisions or faces change. Returns how many questions were written."""
    counts = rc.store.counts()
    state = [counts.faces, counts.decisions]
    cursor = rc.store.get_meta().get("review_sweep") or {}
    if cursor.get("dry") == state:
        return 0
    at_c, at_f = int(cursor.get("clusters", 0)), int(cursor.get("faces", 0))
    steps = max(-(-counts.clusters // SWEEP_CLUSTERS), -(-counts.by_status.get("unassigned", 0) // SWEEP_FACES), 1)
    made, idle = 0, 0
    while made < wanted and idle <= steps:
        page = rc.store.cluster_page(at_c, SWEEP_CLUSTERS)
        members = rc.store.cluster_members([c.id for c in page]) if page else {}
        found = sum(rc.ask_around(members[c.id][: rc.settings.region_limit]) for c in page)
        faces = rc.store.unassigned_faces(at_f, SWEEP_FACES)
        if faces:
            found += rc.ask_around(faces)
        at_c = at_c + len(page) if len(page) == SWEEP_CLUSTERS else 0
        at_f = at_f + len(faces) if len(faces) == SWEEP_FACES else 0
        made += found
        idle = 0 if found else idle + 1
    rc.store.set_meta({"review_sweep": {"clusters": at_c, "faces": at_f, "dry": state if not made else None}})
    return made


def calibration_questions(rc: Reclusterer, limit: int) -> list[ReviewItem]:
    """Open calibration questions first, then new ones from the keeper's bisection.

    Every calibration question asked is listed in the store's meta (``calibration_asked``:
    item id and the two faces), so a pair is never asked twice and the open ones are found
    without reading the whole review queue.
    """
    if limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}")
    if rc.settings.threshold is not None:
        raise InvalidInput(f"the link threshold is set explicitly (Settings.threshold={rc.settings.threshold}); "
                           "calibration answers could not move it: open the store without threshold= to calibrate")
    asked_rows = rc.store.get_meta().get("calibration_asked") or []
    statuses = rc.store.review_statuses([r[0] for r in asked_rows])
    open_items = [rc.store.get_review(r[0]) for r in asked_rows if statuses.get(r[0]) == "open"]
    open_items.sort(key=lambda i: -i.priority)  # a skipped question waits behind the others
    out = [i for i, ok in zip(open_items, _relevant(rc, open_items)) if ok][:limit]
    if len(out) < limit:
        asked = {frozenset((r[1], r[2])) for r in asked_rows}
        fresh = [
            ReviewItem(id=f"q-pair-{uuid.uuid4().hex[:12]}", kind="pair", priority=0.0, faces_a=[a], faces_b=[b])
            for a, b, _ in rc.thresholds.question_pairs(limit - len(out), asked)
        ]
        if fresh:
            rc.store.put_reviews(fresh)
            rc.store.set_meta({"calibration_asked": asked_rows + [[i.id, i.faces_a[0], i.faces_b[0]] for i in fresh]})
        out += fresh
    return out


def _bulk_reply(item: ReviewItem, reply: str, faces: Sequence[str] | None) -> tuple[list[str], str]:
    """The faces of a bulk question the answer says *yes* about, and the answer as stored
    (``yes``, ``no``, or ``some:`` and the JSON list of the *yes* faces)."""
    shown = list(item.faces_a)
    if faces is None:
        if item.kind == "split" and reply == "no":  # "not one person", naming no one: closes the question
            return [], "no"
        picked = shown if reply == "yes" else []
    else:
        if isinstance(faces, str) or not all(isinstance(f, str) for f in faces):
            raise InvalidInput(f"faces must be a list of face ids, got {faces!r}")
        unknown = [f for f in faces if f not in shown]
        if unknown:
            raise InvalidInput(f"face {unknown[0]!r} was not shown in review item {item.id!r}; "
                               f"pick among the faces it shows: {shown}")
        named = set(faces)
        picked = [f for f in shown if (f in named) == (reply == "yes")]
    if len(picked) == len(shown):
        return picked, "yes"
    if not picked and not (item.kind == "split" and faces is not None):
        return picked, "no"  # (a split's "none of these belong" names them: kept apart from a plain "no")
    return picked, "some:" + json.dumps(sorted(picked))


def answer(rc: Reclusterer, item_id: str, reply: str, *, name: str | None, by: str | None,
           faces: Sequence[str] | None = None) -> Decision | None:
    """Record the answer to a review item; an answer to a question that was shown is never lost.

    A question the graph has moved past since it was asked (its faces moved, its clusters
    merged or were renamed, another answer settled it) is answered all the same: the answer is
    recorded as the decision it states about the faces that were shown (``_apply_shown``).
    The same answer twice is recorded once; a different answer to an answered question is a
    new decision. Refused only: a reply other than yes / no / skip (``InvalidInput``), an
    unknown item (``NotFound``), and an answer that contradicts an earlier human decision
    (``ConstraintConflict``, naming it: undo it first if it was wrong).

    ``faces`` (join, split and new_identity questions): the faces shown that the reply is
    about; every other face shown gets the opposite reply ("no" with three faces of a split:
    these three do not belong, the rest do). One decision per face (``_apply_bulk``); the
    decisions of one answer are undone together by ``undo_answer``.
    """
    reply = reply.strip().lower() if isinstance(reply, str) else reply
    if reply not in ("yes", "no", "skip"):
        raise InvalidInput(f"answer must be 'yes', 'no' or 'skip', got {reply!r}")
    item = rc.store.get_review(item_id)
    bulk = item.kind in ("join", "split") or (item.kind == "new_identity" and faces is not None)
    if faces is not None and not bulk:
        raise InvalidInput(f"review item {item.id!r} is a {item.kind} question, answered yes or no as a whole; "
                           "faces=[...] picks faces of join, split and new_identity questions")
    if faces is not None and reply == "skip":
        raise InvalidInput(f"a skip of review item {item.id!r} takes no faces; got {list(faces)!r}")
    picked: list[str] = []
    stored = reply
    if bulk and reply != "skip":
        picked, stored = _bulk_reply(item, reply, faces)
    if item.status == "answered" and item.answer == stored:
        return None  # recorded already (a second click, a second client)
    current = item.status == "open" and _still_relevant(rc, item)
    if reply == "skip":
        if current:  # ask again later, after the others
            rc.store.put_reviews([item.model_copy(update={"priority": item.priority - 1_000_000.0})])
        else:  # nothing left to ask: recorded, never asked again
            rc.store.set_review_status([item.id], "answered", answer=reply)
        return None
    why = f"review {item.id}"
    with _journaled(rc, {"op": "answer", "review": item.id, "reply": stored}):
        try:
            if bulk and item.kind == "split" and stored == "no":
                decision = None  # "not one person", naming no face: nothing to decide
            elif bulk:
                decision = _rebulk(rc, item, picked, name=name, by=by, why=why)
            elif current:
                decision = _apply_answer(rc, item, reply, name=name, by=by, why=why)
            else:
                decision = _apply_shown(rc, item, reply, name=name, by=by, why=why)
        except ConstraintConflict:
            if item.status == "open":  # the question was moot: ask it no more
                rc.store.set_review_status([item.id], "obsolete", answer=stored)
            raise
        rc.store.set_review_status([item.id], "answered", answer=stored)
    return decision


def answer_decisions(rc: Reclusterer, item: ReviewItem) -> list[Decision]:
    """The active decisions an answer to ``item`` recorded, oldest first."""
    about = {*item.faces_a, *item.faces_b, *(c for c in (item.cluster_a, item.cluster_b) if c)}
    return [d for d in rc.store.get_decisions(face_ids=sorted(about), active_only=True)
            if d.reason == f"review {item.id}"]


def undo_answer(rc: Reclusterer, item_id: str, *, by: str | None = None) -> list[Decision]:
    """Undo every decision an answer recorded (newest first) and open the question again.
    Returns the undone decisions; an item never answered undoes nothing."""
    item = rc.store.get_review(item_id)
    with _journaled(rc, {"op": "undo_answer", "review": item.id, "by": by}):
        done = [undo(rc, d.id, by=by) for d in reversed(answer_decisions(rc, item))]
        if item.status != "open":
            rc.store.set_review_status([item.id], "open", answer=None)
    return done


def _rebulk(rc: Reclusterer, item: ReviewItem, picked: list[str], *, name: str | None, by: str | None,
            why: str) -> Decision | None:
    """A bulk answer; a changed answer replaces the earlier one's decisions (restored when the
    new one is refused)."""
    earlier = answer_decisions(rc, item) if item.status == "answered" else []
    for d in reversed(earlier):
        undo(rc, d.id, by=by)
    try:
        return _apply_bulk(rc, item, picked, name=name, by=by, why=why)
    except ConstraintConflict:
        if earlier and item.answer:  # the reviewer's earlier answer stands
            before, _ = _bulk_reply(item, "yes", json.loads(item.answer[5:]) if item.answer.startswith("some:")
                                    else (item.faces_a if item.answer == "yes" else []))
            _apply_bulk(rc, item, before, name=None, by=by, why=why)
        raise


def _apply_bulk(rc: Reclusterer, item: ReviewItem, picked: list[str], *, name: str | None, by: str | None,
                why: str) -> Decision | None:
    """One decision per face shown, as a person would state them about what they saw:

    - join (faces_a against person cluster_b): a picked face is placed in the person
      (``assign``), any other is "not this person" (``remove``: a ban); with the person's id
      gone, must-link / cannot-link with the member shown beside the face (``faces_b``);
    - split (members faces_a of cluster_a): a picked face is placed in the cluster (it was
      checked), any other is taken out and banned from it (a plain "no", naming no face,
      closes the question and decides nothing); with the cluster gone, the picked
      faces are must-linked and each other one cannot-linked with the first picked;
    - new_identity: the picked faces are must-linked (a cluster, named when ``name`` is given);
      any other face is taken out of the question's cluster when it is in it, else
      cannot-linked with the first picked.

    Faces deleted since are left out. All or nothing: when one decision contradicts an
    earlier human decision, those made for this answer are undone and the conflict raised.
    """
    alive = rc.store.existing_face_ids(item.faces_a + item.faces_b)
    yes = [f for f in item.faces_a if f in alive and f in picked]
    no = [f for f in item.faces_a if f in alive and f not in picked]
    beside = dict(zip(item.faces_a, item.faces_b))
    made: list[Decision] = []
    try:
        if item.kind == "new_identity":
            if len(yes) >= 2:
                d = _apply_answer(rc, item.model_copy(update={"faces_a": yes}), "yes", name=name, by=by, why=why)
                made += answer_decisions(rc, item)
            cid = item.cluster_a if item.cluster_a and rc.store.get_clusters([item.cluster_a]) else None
            held = rc.store.memberships(no)
            for f in no:
                if cid and held[f].cluster_id == cid:
                    made.append(remove(rc, f, by=by, reason=why, cluster_id=cid, recluster=False))
                elif yes:
                    made.append(different_person(rc, f, yes[0], by=by, reason=why))
            if no:
                rc.region(no)
            return made[0] if made else None
        person = item.cluster_b if item.kind == "join" else item.cluster_a
        if person and rc.store.get_clusters([person]):
            for f in yes:
                made.append(assign(rc, f, person, by=by, reason=why, recluster=False))
            for f in no:
                made.append(remove(rc, f, by=by, reason=why, cluster_id=person, recluster=False))
            if yes or no:
                rc.region(yes + no)
        elif item.kind == "join":  # the person's id is gone: hold on to the member shown beside each face
            for f in yes + no:
                other = beside.get(f)
                if other in alive and other != f:
                    made.append(same_person(rc, f, other, by=by, reason=why) if f in yes
                                else different_person(rc, f, other, by=by, reason=why))
        else:  # a split of a cluster that is gone: the faces said to belong are one person
            for f in yes[1:]:
                made.append(same_person(rc, yes[0], f, by=by, reason=why))
            for f in no:
                if yes:
                    made.append(different_person(rc, f, yes[0], by=by, reason=why))
    except ConstraintConflict:
        for d in reversed(made):
            undo(rc, d.id, by=by)
        raise
    return made[0] if made else None


def _apply_shown(rc: Reclusterer, item: ReviewItem, reply: str, *, name: str | None, by: str | None,
                 why: str) -> Decision | None:
    """The decision an answer states about the faces its question showed, whatever their
    clusters are now: "A and B are one person" must-links a face shown as A with one shown as
    B, "face F is not this person" cannot-links F with the member shown beside it (or bans F
    from the cluster while that cluster still exists). Faces deleted since are left out; when
    none of a side is left there is nothing to decide (``None``)."""
    alive = rc.store.existing_face_ids(item.faces_a + item.faces_b)
    side_a = [f for f in item.faces_a if f in alive]
    side_b = [f for f in item.faces_b if f in alive]
    yes = reply == "yes"
    if item.kind == "new_identity":  # "no" states nothing about any one pair
        return (_apply_answer(rc, item.model_copy(update={"faces_a": side_a}), reply, name=name, by=by, why=why)
                if yes and len(side_a) >= 2 else None)
    if not side_a:
        return None
    if item.kind == "face" and item.cluster_b and rc.store.get_clusters([item.cluster_b]):
        return _apply_answer(rc, item, reply, name=name, by=by, why=why)  # the cluster is still there
    if not side_b:
        return None
    if item.kind == "pair":
        return _apply_answer(rc, item, reply, name=name, by=by, why=why)
    # a merge, or a face question whose cluster is gone: the first face shown of each side
    return (same_person(rc, side_a[0], side_b[0], by=by, reason=why) if yes
            else different_person(rc, side_a[0], side_b[0], by=by, reason=why))


def _apply_answer(rc: Reclusterer, item: ReviewItem, reply: str, *, name: str | None, by: str | None,
                  why: str) -> Decision | None:
    decision: Decision | None = None
    if item.kind == "merge":
        if reply == "yes":
            try:
                decision = merge(rc, item.cluster_a or "", item.cluster_b or "", by=by, reason=why)
            except ConstraintConflict:
                # a face of one cluster is known not to be the other's person: the clusters
                # cannot merge whole, but the faces shown are one person
                decision = same_person(rc, item.faces_a[0], item.faces_b[0], by=by, reason=why)
        else:
            decision = different_person(rc, item.faces_a[0], item.faces_b[0], by=by, reason=why)
    elif item.kind == "face":
        face, cluster = item.faces_a[0], item.cluster_b or ""
        decision = (assign(rc, face, cluster, by=by, reason=why) if reply == "yes"
                    else remove(rc, face, by=by, reason=why, cluster_id=cluster))
    elif item.kind == "pair":  # calibration: a same / different decision, and a point for the link
        a, b = item.faces_a[0], item.faces_b[0]
        before = rc.thresholds.current()
        decision = (same_person(rc, a, b, by=by, reason=why) if reply == "yes"
                    else different_person(rc, a, b, by=by, reason=why))
        rc.thresholds.answered_pair(a, b, same=reply == "yes", decision_id=decision.id, before=before)
        rc.follow_change()
    elif reply == "yes":  # new identity: must-link the group, name it if asked
        first = item.faces_a[0]
        linked: list[tuple[str, str]] = []
        try:
            for other in item.faces_a[1:]:
                decision = same_person(rc, first, other, by=by, reason=why, recluster=False)
                linked.append((first, other))
        finally:  # one recluster for the group (also for the links made before a refusal)
            if linked:
                rc.thresholds.learn(same=linked)
                seeds = sorted({f for pair in linked for f in pair})
                rc.whole(seeds)
        formed = _cluster_of(rc, first)
        if name and formed:
            set_name(rc, formed, name, by=by, reason=why)
    return decision
