"""Human decisions: record them, apply them, undo them, and finish the ones a crash interrupted.

Every function takes the open store's ``Reclusterer`` (``graphcluster.regions``: the store,
its view, the thresholds and the settings); the facade ``GraphCluster`` calls them, and so
does ``graphcluster.review``, where an answer to a review question becomes the decisions it
states (``answer_reason`` marks them, ``answer_decisions`` finds them again).

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
def journaled(rc: Reclusterer, entry: dict[str, Any]) -> Iterator[None]:
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
        why = answer_reason(item.id)
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
    with journaled(rc, {"op": "same_person", "decision": did}):
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
    with journaled(rc, {"op": "different_person", "decision": did}):
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
    with journaled(rc, {"op": "assign", "decision": did}):
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
    with journaled(rc, {"op": "remove", "decision": did}):
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
    with journaled(rc, {"op": "merge", "decision": did}):
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
    with journaled(rc, {"op": "lock" if locked else "unlock", "decision": did}):
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
    with journaled(rc, {"op": "name", "decision": did}):
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
    with journaled(rc, {"op": "undo", "decision": d.id}):
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


# -- answers to review questions ---------------------------------------------------------------
def answer_reason(item_id: str) -> str:
    """The ``reason`` of the decisions an answer to review item ``item_id`` records."""
    return f"review {item_id}"


def answer_decisions(rc: Reclusterer, item: ReviewItem) -> list[Decision]:
    """The active decisions an answer to ``item`` recorded, oldest first."""
    about = {*item.faces_a, *item.faces_b, *(c for c in (item.cluster_a, item.cluster_b) if c)}
    return [d for d in rc.store.get_decisions(face_ids=sorted(about), active_only=True)
            if d.reason == answer_reason(item.id)]
