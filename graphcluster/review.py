"""Review questions after they are proposed: the queue, the sweep, calibration questions, answers.

The questions themselves are made by the clustering core (``clustering/questions.py``: what
each asks, its stable ``review_id`` and its priority, the expected number of faces the answer
puts right) and stored with the re-clustering's result (``writer.apply_result``). This module
is what happens next; every function takes the open store's ``Reclusterer``
(``graphcluster.regions``) and the facade ``GraphCluster`` calls them:

- ``review_queue``: the most useful open questions, best first. A question the graph has
  moved past (``relevant``) is marked obsolete; when too few are open, the clusters and
  unassigned faces are swept for more (``SWEEP_CLUSTERS`` / ``SWEEP_FACES`` per step: they
  bound the cost of one call, and change what is asked, never how faces are clustered, so
  they are module constants, not fields of ``Tuning``).
- ``calibration_questions``: "are these two faces one person?" pairs whose answers move the
  link threshold most (kind ``pair``).
- ``answer`` and ``undo_answer``: an answer becomes the human decisions it states
  (``graphcluster.decisions``: same / different person, assign, remove, merge, name), each
  with the reason ``decisions.answer_reason``. An answer notes itself in the decision journal
  (ops ``answer`` and ``undo_answer``), so a crash part-way is finished on the next open by
  ``decisions.repair_journal``.

Imports: ``decisions`` (answers become decisions); ``decisions`` never imports this module.
"""

from __future__ import annotations

import heapq
import itertools
import json
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, get_args

from graphcluster.clustering.questions import BULK_KINDS, join_gain
from graphcluster.decisions import (
    answer_decisions,
    answer_reason,
    assign,
    different_person,
    journaled,
    merge,
    remove,
    same_person,
    set_name,
    undo,
)
from graphcluster.errors import ConstraintConflict, InvalidInput
from graphcluster.models import Decision, ReviewItem, ReviewKind

if TYPE_CHECKING:
    from graphcluster.regions import Reclusterer

__all__ = ["review_queue", "relevant", "calibration_questions", "answer", "undo_answer", "kind_weights", "outlook",
           "SWEEP_CLUSTERS", "SWEEP_FACES"]


def relevant(rc: Reclusterer, items: Sequence[ReviewItem]) -> list[bool]:
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

    Best first by the stored priority (the expected faces an answer puts right) times the
    weight of the item's kind (``kind_weights``: how the answers of that kind went so far).
    When fewer than ``limit`` are open, the clusters and unassigned faces are swept for more
    (``_sweep``), so the queue runs dry only once no region has a question left to ask.

    Each kind's open items are read a page at a time, best first (the page doubles while more
    are needed), so the cost follows ``limit``, not the number of open items.
    """
    out: list[ReviewItem] = []
    stale: list[str] = []
    shown: set[str] = set()  # faces a bulk question of this page asks about: its answer settles them
    best = _best_open(rc, kind_weights(rc), max(2 * limit, 20))
    while len(out) < limit:
        chunk = list(itertools.islice(best, max(2 * limit, 20)))
        for item, ok in zip(chunk, relevant(rc, chunk)):
            if len(out) >= limit:
                break
            if not ok:
                stale.append(item.id)
            elif item.kind not in BULK_KINDS:
                out.append(item)
            elif not shown & set(item.faces_a):
                out.append(item)
                shown |= set(item.faces_a)
        if not chunk:
            break
    if stale:
        rc.store.set_review_status(stale, "obsolete")
    if len(out) < limit and sweep and _sweep(rc, limit - len(out)):
        return review_queue(rc, limit, sweep=False)
    return out


def _best_open(rc: Reclusterer, weights: dict[str, float], page: int) -> Iterator[ReviewItem]:
    """Open items best first by priority x their kind's weight: a merge of each kind's queue,
    each read a page at a time (doubling) as the merge reaches its end."""
    def queue(kind: str) -> Iterator[ReviewItem]:
        seen, size = 0, page
        while True:
            items = rc.store.get_reviews(status="open", limit=size, kind=kind)
            yield from items[seen:]
            if len(items) < size:
                return
            seen, size = len(items), size * 2

    heads: list[tuple[float, str, int, ReviewItem, Iterator[ReviewItem]]] = []
    for n, kind in enumerate(get_args(ReviewKind)):
        it = queue(kind)
        if (item := next(it, None)) is not None:
            heads.append((-item.priority * weights.get(kind, 1.0), item.id, n, item, it))
    heapq.heapify(heads)
    while heads:
        _, _, n, item, it = heapq.heappop(heads)
        yield item
        if (nxt := next(it, None)) is not None:
            heapq.heappush(heads, (-nxt.priority * weights.get(nxt.kind, 1.0), nxt.id, n, nxt, it))


# -- how the answers of each kind went: the queue's weights ---------------------------------------
# A question's priority is a prediction: the faces its answer is expected to put right, from the
# distances alone. Whether "is this face this person?" is usually right, or "are these two clusters
# one person?" usually wrong, depends on the collection and on what the clustering already did, so
# the store keeps, per kind, the priorities of the questions answered and the faces their answers
# did put right (meta ``review_tally``: kind -> [answers, predicted, realised]). A kind's weight is
# (realised + TALLY_PRIOR) / (predicted + TALLY_PRIOR): 1 until answers come in, then the ratio the
# answers show (a skip realises nothing), within [WEIGHT_MIN, WEIGHT_MAX].
TALLY_PRIOR = 10.0  # faces: about five answers' worth of evidence before a kind's weight moves far
WEIGHT_MIN, WEIGHT_MAX = 0.05, 20.0


def kind_weights(rc: Reclusterer) -> dict[str, float]:
    """Kind -> the weight of its priorities in the queue (1 for a kind not answered yet)."""
    tally = rc.store.get_meta().get("review_tally") or {}
    out: dict[str, float] = {}
    for kind, row in tally.items():
        try:
            _n, predicted, realised = (float(x) for x in row)
        except (TypeError, ValueError):
            continue
        out[kind] = min(WEIGHT_MAX, max(WEIGHT_MIN, (realised + TALLY_PRIOR) / (max(predicted, 0.0) + TALLY_PRIOR)))
    return out


def outlook(rc: Reclusterer) -> dict[str, float]:
    """What the open questions are expected to put right: ``open`` questions, and
    ``faces_to_put_right``, the sum of their priorities x their kind's weight (the estimate of
    the errors a reviewer can still fix, in faces; the answers so far correct it per kind)."""
    weights = kind_weights(rc)
    items = rc.store.get_reviews(status="open")
    return {"open": len(items),
            "faces_to_put_right": round(sum(max(i.priority, 0.0) * weights.get(i.kind, 1.0) for i in items), 1)}


def _realised(rc: Reclusterer, item: ReviewItem, stored: str, picked: list[str], member: bool) -> float | None:
    """The faces an answer put right, on the priority's scale (``questions.py``: joining groups
    of a and b faces of one person adds ``2ab / (a + b)``, taking a wrong face out of a cluster of
    s adds ``2(s - 1) / s``), from the sizes before it is applied; None for what is not weighed
    (calibration pairs, a new cluster's confirmation). ``member``: a face question about a face
    in that cluster (a tentative member: the useful answer is "no")."""
    def size(cid: str | None) -> int:
        rec = rc.store.get_clusters([cid]).get(cid) if cid else None
        return max(1, rec.size) if rec is not None else 1

    def out_gain(s: int) -> float:
        return 2.0 * (s - 1) / s if s > 1 else 0.0

    if stored == "skip":
        return 0.0
    yes = stored == "yes"
    if item.kind == "merge":
        return join_gain(size(item.cluster_a), size(item.cluster_b)) if yes else 0.0
    if item.kind == "face":
        s = size(item.cluster_b)
        return (0.0 if yes else out_gain(s)) if member else (join_gain(1, s) if yes else 0.0)
    if item.kind == "join":
        return len(picked) * join_gain(1, size(item.cluster_b))
    if item.kind == "new_identity" and item.cluster_a is None:
        k = len(picked) if picked or not yes else len(item.faces_a)
        return sum(join_gain(j, 1) for j in range(1, k))
    if item.kind == "split":
        taken = len(item.faces_a) - len(picked) if stored.startswith("some:") else 0
        return taken * out_gain(size(item.cluster_a))
    return None


def _tally(rc: Reclusterer, item: ReviewItem, realised: float | None) -> None:
    """Add one answer to its kind's tally (``kind_weights``). The weights are a ranking, not a
    record: two clients answering at the same moment can lose one of the two updates, and an
    answer undone (``undo_answer`` opens the question again) and given again counts twice."""
    if realised is None:
        return
    tally = dict(rc.store.get_meta().get("review_tally") or {})
    n, predicted, done = (list(tally.get(item.kind) or [0, 0.0, 0.0]) + [0, 0.0, 0.0])[:3]
    tally[item.kind] = [int(n) + 1, round(float(predicted) + max(item.priority, 0.0), 4), round(float(done) + realised, 4)]
    rc.store.set_meta({"review_tally": tally})


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
    open_items.sort(key=lambda i: -i.priority)
    out = [i for i, ok in zip(open_items, relevant(rc, open_items)) if ok][:limit]
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
    if item.status != "answered":  # a first answer counts for its kind's weight in the queue
        member = False
        if item.kind == "face" and item.faces_a and item.cluster_b:
            held = rc.store.memberships(item.faces_a[:1]).get(item.faces_a[0])
            member = held is not None and held.cluster_id == item.cluster_b
        realised = _realised(rc, item, stored, picked, member)
    else:
        realised = None
    if reply == "skip":
        # "I can't tell" / "none of these": recorded, and never asked again (a re-clustering that
        # proposes the same question finds it answered); no decision, nothing moves. A skip of a
        # question answered already changes nothing: its answer and decisions stay
        if item.status != "answered":
            rc.store.set_review_status([item.id], "answered", answer=reply)
            _tally(rc, item, realised)
        return None
    current = item.status == "open" and relevant(rc, [item])[0]
    why = answer_reason(item.id)
    with journaled(rc, {"op": "answer", "review": item.id, "reply": stored}):
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
        _tally(rc, item, realised)
    return decision


def undo_answer(rc: Reclusterer, item_id: str, *, by: str | None = None) -> list[Decision]:
    """Undo every decision an answer recorded (newest first) and open the question again.
    Returns the undone decisions; an item never answered undoes nothing."""
    item = rc.store.get_review(item_id)
    with journaled(rc, {"op": "undo_answer", "review": item.id, "by": by}):
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
        formed = rc.store.memberships([first])[first].cluster_id
        if name and formed:
            set_name(rc, formed, name, by=by, reason=why)
    return decision
