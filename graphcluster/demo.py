"""The demo: sample faces clustered end to end, with a simulated human answering questions.

It is the README's first command, so it must run anywhere (real sample faces when the shared
data is present, generated ones otherwise), finish in well under a minute, and show every part
of the product once: batches, clusters, questions, a human answering them.

Steps of :func:`run_demo`:

1. pick the input: the LFW photos (:func:`find_sample_photos`, when the ``photos`` extra is
   installed), else ``faces`` labelled vectors (:func:`sample_faces`): a seeded subset of the
   LFW sample (:func:`find_sample_data`) or, without it, FaceNet-like generated faces; the
   labels are never stored, only the simulated reviewer and the scores read them (for photos:
   the face nearest each photo's centre carries the photo's label, background faces none);
2. empty the target store if the demo made it (or if ``reset``), refuse any other non-empty one;
3. ingest (``add_photos``, or ``add_faces`` in batches), reporting ``progress(done, total)``;
4. the simulated reviewer (:func:`simulated_answer`) answers up to ``answers`` review questions
   the way a careful human who knows every face would, then checks the largest person: takes
   out faces of other people, names it (real data only) and locks it;
5. return a :class:`DemoSummary`: counts, decisions, pairwise precision / recall against the
   labels (:func:`pairwise_scores`) and example clusters; :func:`summary_lines` words it.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphcluster.errors import InvalidInput, NotFound
from graphcluster.models import ReviewItem
from graphcluster.targets import is_neo4j_uri

__all__ = [
    "DEMO_STORE",
    "DemoSummary",
    "find_sample_data",
    "find_sample_photos",
    "pairwise_scores",
    "run_demo",
    "sample_faces",
    "simulated_answer",
    "summary_lines",
    "synthetic_faces",
]

DEMO_STORE = "./var/demo-store"  # scripts/demo and the README use it too
_MARKER = ".graphcluster-demo"  # marks a directory the demo made and may empty again
_REVIEWER = "demo-reviewer"
_EVERY = 1_000_000  # review_queue(limit=...) that lists every open question of a demo store (it also
# closes the items it finds obsolete, as any read of the queue does)

Sample = tuple[list[str], np.ndarray, list[dict[str, Any]], dict[str, str]]


@dataclasses.dataclass
class DemoSummary:
    """What one demo run did (``dataclasses.asdict`` gives the ``--json`` form)."""

    store: str
    data: str  # "lfw_photos", "lfw_dlib128" or "synthetic"
    faces: int
    people_in_sample: int
    clusters: int
    clusters_of_2_or_more: int
    locked_clusters: int
    unassigned: int
    questions_opened: int
    questions_open_after_ingest: int
    answered: list[dict[str, Any]]
    decisions: int
    open_reviews: int
    pairwise: dict[str, float]
    thresholds: dict[str, Any]
    ingest_seconds: float
    seconds: float
    examples: list[dict[str, Any]]
    people: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # clusters of 2+, largest first
    photos: dict[str, int] = dataclasses.field(default_factory=dict)  # photo outcomes (photo input only)


def find_sample_photos() -> Path | None:
    """The labelled photos (``lfw_photos``) when the photos extra is installed: env
    ``GRAPHCLUSTER_SAMPLE_PHOTOS``, else ``../shared/data``."""
    import importlib.util

    if importlib.util.find_spec("dlib") is None or importlib.util.find_spec("PIL") is None:
        return None
    return _sample_folder("GRAPHCLUSTER_SAMPLE_PHOTOS", "lfw_photos", ("labels.csv",))


def _ingest_photos(gc: Any, folder: Path, limit: int | None,
                   progress: Callable[[int, int], None] | None) -> tuple[dict[str, str], dict[str, int], int]:
    """Ingest the sample photos; returns the centre faces' labels, the outcomes and the photo count."""
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:limit]
    from graphcluster.photos import nearest_centre  # the photos extra: loaded on use

    report = gc.add_photos([folder / r["file"] for r in rows], root=folder, progress=progress)
    by_path = {p.path: p.face_ids for p in report.photos}
    faces = gc.store.get_faces([f for ids in by_path.values() for f in ids])
    labels: dict[str, str] = {}
    for r in rows:
        ids = by_path.get(r["file"]) or []
        if ids:
            labels[nearest_centre({f: faces[f] for f in ids})] = r["identity"]
    return labels, dict(report.counts), len(rows)


def find_sample_data() -> Path | None:
    """The labelled sample (``lfw_dlib128``): env ``GRAPHCLUSTER_SAMPLE_DATA``, else ``../shared/data``."""
    return _sample_folder("GRAPHCLUSTER_SAMPLE_DATA", "lfw_dlib128", ("embeddings.npy", "faces.csv"))


def _sample_folder(env: str, name: str, files: Sequence[str]) -> Path | None:
    """The folder ``$env``, else ``../shared/data/<name>`` beside the repository or the working
    directory: the first that holds every one of ``files``."""
    candidates = [Path(os.environ[env])] if os.environ.get(env) else []
    repo = Path(__file__).resolve().parents[1]
    candidates += [repo.parent / "shared/data" / name, Path.cwd().parent / "shared/data" / name]
    for c in candidates:
        if all((c / f).is_file() for f in files):
            return c
    return None


def sample_faces(n: int, seed: int, data: Path | None) -> Sample:
    """``n`` labelled faces: ids, vectors, metadata (photo path) and the labels (never stored).

    Real data: identities with several photos (at most 25 each, so one very famous person does
    not fill the sample) make up about 85%, singletons the rest; rows shuffled with ``seed``.
    """
    rng = np.random.default_rng(seed)
    if data is None:
        return synthetic_faces(n, rng)
    vectors = np.load(data / "embeddings.npy", mmap_mode="r")
    with (data / "faces.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_person: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_person.setdefault(r["identity"], []).append(i)
    groups = [v[:25] for v in by_person.values() if len(v) >= 2]
    singles = [v[0] for v in by_person.values() if len(v) == 1]
    chosen: list[int] = []
    for gi in rng.permutation(len(groups)):
        if len(chosen) >= int(n * 0.85):
            break
        chosen += groups[gi][: int(n * 0.85) - len(chosen)]
    chosen += [singles[i] for i in rng.permutation(len(singles))[: n - len(chosen)]]
    chosen = [chosen[i] for i in rng.permutation(len(chosen))]
    ids = [f"lfw-{rows[i]['face_id']}" for i in chosen]
    meta = [{"source": rows[i]["source"]} for i in chosen]
    labels = {f: rows[i]["identity"] for f, i in zip(ids, chosen)}
    return ids, np.asarray(vectors[chosen], dtype=np.float32), meta, labels


def synthetic_faces(n: int, rng: np.random.Generator, dim: int = 128) -> Sample:
    """Generated FaceNet-like faces (``graphcluster.synth``) with made-up photo paths.

    A few "group photos" put two different people in one image, as real albums do, so the
    same-image rule and the co-occurrence query have something to show.
    """
    from graphcluster.synth import make_faces

    faces = make_faces(n, dim=dim, seed=int(rng.integers(2**31)))
    labels = {f: f"person_{int(lab):04d}" if lab >= 0 else f"stranger_{-int(lab):04d}" for f, lab in zip(faces.ids, faces.labels)}
    meta: list[dict[str, Any]] = [{"source": f"synthetic/{labels[f]}/{f}.jpg"} for f in faces.ids]
    for g in range(max(1, n // 100)):
        a, b = 2 * g, 2 * g + 1
        if b < n and labels[faces.ids[a]] != labels[faces.ids[b]]:
            meta[a] = meta[b] = {"source": f"synthetic/group_{g:03d}.jpg"}
    return list(faces.ids), np.asarray(faces.vectors, dtype=np.float32), meta, labels


def _majority(labels: dict[str, str], faces: Sequence[str]) -> str | None:
    """The most common label of ``faces``; a tie goes to the label seen first (not to set order,
    which changes with the hash seed and would make the simulated answers differ per run)."""
    found = [labels[f] for f in faces if f in labels]
    return max(dict.fromkeys(found), key=found.count) if found else None


def _photo(face: Any) -> str | None:
    return face.image or face.source or None


def simulated_answer(gc: Any, item: ReviewItem, labels: dict[str, str]) -> tuple[str, str | None]:
    """What a careful human who knows every face would answer (and the name for a new person)."""

    def side(cluster_id: str | None, faces: Sequence[str]) -> list[str]:
        if faces:
            return list(faces)
        if cluster_id:
            try:
                return [m["face_id"] for m in gc.cluster(cluster_id)["members"]]
            except NotFound:  # merged or emptied since the question was asked
                return []
        return []

    a = side(item.cluster_a, item.faces_a)
    if item.kind == "new_identity":
        people = {labels.get(f) for f in a}
        return ("yes", people.pop()) if len(people) == 1 and None not in people else ("no", None)
    b = side(item.cluster_b, item.faces_b)
    la, lb = _majority(labels, a), _majority(labels, b)
    if la is None or lb is None:
        return "skip", None
    return ("yes" if la == lb else "no"), None


def pairwise_scores(assigned: dict[str, str | None], labels: dict[str, str]) -> dict[str, float]:
    """Pairwise precision / recall / F of the clusters against the labels (unassigned = alone)."""

    def pairs(counter: Counter[Any]) -> int:
        return sum(c * (c - 1) // 2 for c in counter.values())

    both = Counter((c, labels[f]) for f, c in assigned.items() if c is not None and f in labels)
    predicted = Counter(c for f, c in assigned.items() if c is not None and f in labels)
    true = Counter(labels[f] for f in assigned if f in labels)
    tp, pp, tt = pairs(both), pairs(predicted), pairs(true)
    p = tp / pp if pp else 1.0
    r = tp / tt if tt else 1.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}


def _prepare(store: str, open_store: Callable[[str], Any], reset: bool) -> None:
    """Empty a store the demo made before; refuse to touch anyone else's without ``reset``."""
    if is_neo4j_uri(store):
        with open_store(store) as gc:
            if gc.stats().faces:
                if not reset:
                    raise InvalidInput(f"{store} already holds faces; run `demo --reset` to empty it first, or use another store")
                gc.reset()
        return
    root = Path(store)
    if root.exists() and any(root.iterdir()):
        if not (root / _MARKER).exists() and not reset:
            raise InvalidInput(f"{root} is not empty and was not made by the demo; use `demo --store NEWDIR` or `demo --reset`")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / _MARKER).write_text("made by `graphcluster demo`; the next demo run empties this directory\n")


def _default_open(store: str) -> Any:
    from graphcluster.engine import GraphCluster  # heavy (annoy, neo4j): loaded on use

    return GraphCluster.open(store)


def _review(gc: Any, answers: int, labels: dict[str, str]) -> list[dict[str, Any]]:
    """The simulated reviewer answers up to ``answers`` questions, most urgent first."""
    answered: list[dict[str, Any]] = []
    seen: set[str] = set()
    while len(answered) < answers:
        queue = [i for i in gc.review_queue(limit=len(seen) + 20) if i.id not in seen]
        if not queue:
            break
        item = queue[0]
        seen.add(item.id)
        verdict, person = simulated_answer(gc, item, labels)
        d = gc.answer(item.id, verdict, name=person, by=_REVIEWER)
        answered.append({"item": item.id, "kind": item.kind, "answer": verdict, "decision": d.id if d else None})
    return answered


def _check_largest(gc: Any, labels: dict[str, str], real: bool) -> None:
    """A human checks the largest person: takes out strangers, names it (real data), locks it."""
    biggest = gc.clusters()[:1]
    if not biggest:
        return
    c = biggest[0]
    member_ids = [m["face_id"] for m in gc.cluster(c.id)["members"]]
    person = _majority(labels, member_ids)
    for stranger in [f for f in member_ids if f in labels and labels[f] != person][:20]:
        if gc.face(stranger)["membership"].cluster_id == c.id:  # an earlier removal may have moved it
            gc.remove(stranger, by=_REVIEWER, reason=f"demo: not {person}")
    if person and not c.name and real:
        gc.name(c.id, person.replace("_", " "), by=_REVIEWER, reason="demo: named from the sample's labels")
    if not c.locked:
        gc.lock(c.id, by=_REVIEWER, reason="demo: verified")


def run_demo(
    store: str = DEMO_STORE,
    *,
    faces: int = 1500,
    answers: int = 12,
    batch_size: int = 100,
    synthetic: bool = False,
    seed: int = 0,
    reset: bool = False,
    photos: int | None = None,
    vectors: bool = False,
    open_store: Callable[[str], Any] | None = None,
    echo: Callable[[str], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Cluster sample faces end to end in ``store`` and say what happened.

    Args:
        store: a directory (emptied first if the demo made it) or a ``bolt://`` URI.
        faces: how many sample faces (at least 20).
        answers: review questions the simulated reviewer answers.
        batch_size: faces per ``add_faces`` call.
        synthetic: generated faces even when the real sample is present.
        seed: sampling and shuffling seed.
        reset: empty ``store`` even though the demo did not make it.
        photos: ingest at most this many of the sample photos (None: all); ``faces`` and
            ``batch_size`` then do not apply.
        vectors: start from the LFW vectors even when the sample photos are present.
        open_store: opens the facade on a target (default ``GraphCluster.open``); the CLI
            passes its own, with settings and credentials.
        echo: receives a one-line announcement before ingesting.
        progress: ``progress(done, total)`` while ingesting.

    Returns:
        The run's :class:`DemoSummary`.

    Raises:
        InvalidInput: bad sizes, or a non-empty store the demo did not make (without ``reset``).
    """
    if faces < 20 or batch_size < 1 or answers < 0:
        raise InvalidInput(f"demo needs faces >= 20, batch_size >= 1, answers >= 0 (got {faces}, {batch_size}, {answers})")
    opener = open_store or _default_open
    photo_dir = None if synthetic or vectors else find_sample_photos()
    data = None if synthetic or photo_dir else find_sample_data()
    if photo_dir is None:
        ids, embeddings, meta, labels = sample_faces(faces, seed, data)
    _prepare(store, opener, reset)
    started = time.perf_counter()
    asked = 0
    outcomes: dict[str, int] = {}
    with opener(store) as gc:
        if photo_dir is not None:
            if echo is not None:
                echo(f"demo: the real LFW photos of {photo_dir} -> {store} (faces found with dlib, one crop each)")
            labels, outcomes, _ = _ingest_photos(gc, photo_dir, photos, progress)
            asked = gc.stats().open_reviews
        else:
            if echo is not None:
                echo(f"demo: {len(ids)} {'real LFW' if data else 'generated'} faces of {len(set(labels.values()))} "
                     f"people -> {store}, in batches of {batch_size}")
            for start in range(0, len(ids), batch_size):
                stop = min(start + batch_size, len(ids))
                report = gc.add_faces(embeddings[start:stop], ids=ids[start:stop], metadata=meta[start:stop])
                asked += report.reviews_opened
                if progress is not None:
                    progress(stop, len(ids))
        ingest_seconds = time.perf_counter() - started
        open_before = len(gc.review_queue(limit=_EVERY))  # what a person would see (stats() counts stale items too)
        answered = _review(gc, answers, labels)
        _check_largest(gc, labels, real=data is not None or photo_dir is not None)
        stats = gc.stats()
        assigned = gc.assignments()
        cl = sorted((c for c in gc.clusters() if c.size >= 2), key=lambda c: (not c.locked, -c.size, c.id))
        examples = []
        for c in cl[:1] + cl[len(cl) // 2: len(cl) // 2 + 1] + cl[-1:]:  # the checked one, a middle one, the smallest
            members = gc.cluster(c.id)["members"][:5]
            examples.append({"cluster": c.id, "name": c.name, "size": c.size, "locked": c.locked,
                             "photos": [_photo(gc.face(m["face_id"])["face"]) for m in members]})
        people = [{"cluster": c.id, "name": c.name, "size": c.size, "locked": c.locked,
                   "label": _majority(labels, [m["face_id"] for m in gc.cluster(c.id)["members"]])}
                  for c in sorted(cl, key=lambda c: (-c.size, c.id))]
        decisions_made = len(gc.decisions())
        waiting = len(gc.review_queue(limit=_EVERY))
    return DemoSummary(
        store=store, data="lfw_photos" if photo_dir else "lfw_dlib128" if data else "synthetic", faces=stats.faces,
        people_in_sample=len(set(labels.values())), clusters=stats.clusters, clusters_of_2_or_more=len(cl),
        locked_clusters=stats.locked_clusters, unassigned=stats.by_status.get("unassigned", 0),
        questions_opened=asked, questions_open_after_ingest=open_before, answered=answered,
        decisions=decisions_made, open_reviews=waiting, pairwise=pairwise_scores(assigned, labels),
        thresholds=dict(stats.thresholds), ingest_seconds=round(ingest_seconds, 2),
        seconds=round(time.perf_counter() - started, 2), examples=examples, people=people, photos=outcomes,
    )


def _calibration_line(t: dict[str, Any]) -> str:
    conf = t.get("confidence") or {}
    link = t.get("link")
    head = f"calibrated link distance {link:.3f}" if isinstance(link, float) else "no link distance yet"
    return f"{head} ({t.get('source')}); confidence {conf.get('level', '?')}: {conf.get('why', '')}"


def summary_lines(s: DemoSummary) -> list[str]:
    """The human-readable report of a demo run, one string per line."""
    yes = sum(a["answer"] == "yes" for a in s.answered)
    lines = [
        "",
        (f"ingested {s.faces} faces in {s.ingest_seconds:.1f} s: {s.clusters} clusters "
         f"({s.clusters_of_2_or_more} with 2+ faces, {s.locked_clusters} locked), {s.unassigned} faces unassigned"),
        (f"questions: {s.questions_opened} opened while ingesting, {s.questions_open_after_ingest} still relevant after it; "
         f"the simulated reviewer answered {len(s.answered)} ({yes} yes, {len(s.answered) - yes} no/skip); "
         f"{s.open_reviews} in the queue now (answers and the check of the largest cluster can raise new ones)"),
        f"decisions recorded: {s.decisions} (`graphcluster --store {s.store} decisions`)",
        _calibration_line(s.thresholds),
        f"against the sample's labels: pairwise precision {s.pairwise['precision']:.3f}, recall {s.pairwise['recall']:.3f}",
    ]
    if s.photos:
        lines.insert(1, "photos: " + ", ".join(f"{n} {k}" for k, n in sorted(s.photos.items())))
    lines.append(f"people found ({len(s.people)} with 2+ faces; the label is the sample's majority name, for comparison):")
    for p in s.people[:10]:
        lines.append(f"  {p['cluster']:>6}  {p['size']:>3} faces  " + (f"named {p['name']!r}  " if p["name"] else "")
                     + (f"[{p['label']}]" if p["label"] else ""))
    if len(s.people) > 10:
        lines.append(f"  ... and {len(s.people) - 10} more (`graphcluster --store {s.store} clusters`)")
    lines.append("example clusters:")
    for e in s.examples:
        lines.append(f"  {e['cluster']}" + (f" {e['name']!r}" if e["name"] else "")
                     + f" ({e['size']} faces{', locked' if e['locked'] else ''})")
        lines += [f"      {p}" for p in e["photos"]]
    lines.append(f"done in {s.seconds:.1f} s. Next: graphcluster --store {s.store} review | clusters | show <cluster>")
    lines.append(f"review the people in a browser: graphcluster serve {s.store}  (the web extra, which "
                 "scripts/demo installs; then open the address it prints)")
    return lines
