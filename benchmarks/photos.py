"""Photo ingest on lfw_photos: does it reproduce the development vectors, how well do the
labelled people cluster, and how fast is it per core.

Steps:

1. quality: ingest the 545 photos of ``/work/shared/data/lfw_photos`` with
   ``GraphCluster.add_photos`` (HOG detector) into a fresh embedded store; for each labelled
   photo take the face nearest the photo's centre (the labelled person, as in LFW) and compare
   its stored vector with the ``lfw_dlib128`` vector of the same ``source`` (cosine); score
   the centre faces' clusters against the labels (pairwise and BCubed P/R/F, unassigned faces
   as singletons, ``quality_core.scores``);
2. speed, one process (one core), photos decoded beforehand: for ``--photos`` photos the HOG
   detector alone (upsampled once), the whole per-photo pipeline (``photos.read_faces``:
   decode, detect, landmarks, descriptor, crop), and the descriptor alone (landmarks +
   ``compute_face_descriptor`` on the boxes found); the CNN detector alone and in the whole
   pipeline on ``--cnn-photos`` photos (it is far slower on a CPU);
3. print the tables and write docs/benchmarks/photos.md.

Usage::

    .venv/bin/python benchmarks/photos.py [--photos 100] [--cnn-photos 10]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import code_version, machine, say, scores, write_section  # noqa: E402

from graphcluster import GraphCluster  # noqa: E402
from graphcluster import photos  # noqa: E402

PHOTOS = Path("/work/shared/data/lfw_photos")
DEV = Path("/work/shared/data/lfw_dlib128")

NOTES = [
    "How to read it: *cosine* compares the centre face's vector with the development set's vector of",
    "the same LFW photo; both come from the same dlib model and steps, so the small differences come",
    "from decoding the JPEG (Pillow here, another decoder for the development set). Speed is",
    "single-threaded (dlib's Python calls hold the GIL), so the figures are per core; the machine is",
    "shared with other work, so they are noisy. *Descriptor alone* is landmarks plus the ResNet",
    "descriptor per face, the part that does not depend on the detector.",
]


def centre_face(gc: GraphCluster, face_ids: list[str]) -> str | None:
    return photos.nearest_centre(gc.store.get_faces(face_ids)) if face_ids else None


def quality() -> tuple[list[str], dict[str, float]]:
    with (PHOTOS / "labels.csv").open(newline="", encoding="utf-8") as fh:
        labels = list(csv.DictReader(fh))
    with (DEV / "faces.csv").open(newline="", encoding="utf-8") as fh:
        dev_row = {r["source"]: int(r["face_id"]) for r in csv.DictReader(fh)}
    dev = np.load(DEV / "embeddings.npy")
    with tempfile.TemporaryDirectory() as tmp, GraphCluster.open(Path(tmp) / "db") as gc:
        t0 = time.perf_counter()
        last = [t0]

        def progress(done: int, total: int) -> None:
            if time.perf_counter() - last[0] > 15 or done == total:
                say(f"add_photos: {done}/{total} photos")
                last[0] = time.perf_counter()

        report = gc.add_photos(PHOTOS, progress=progress)
        seconds = time.perf_counter() - t0
        by_path = {p.path: p for p in report.photos}
        cos, centre, truth, no_face, not_in_dev = [], [], [], 0, 0
        for r in labels:
            fid = centre_face(gc, by_path[r["file"]].face_ids)
            if fid is None:
                no_face += 1
                continue
            centre.append(fid)
            truth.append(r["identity"])
            if r["source"] not in dev_row:
                not_in_dev += 1
                continue
            v = np.asarray(gc.store.get_faces([fid], with_embedding=True)[fid].embedding)
            cos.append(float(v @ dev[dev_row[r["source"]]]))
        assigned = gc.assignments()
        pred = [assigned.get(f) or f"u:{f}" for f in centre]
        s = scores(np.array(truth), pred)
        stats = gc.stats()
        decisions = gc.decisions()
    c = np.array(cos)
    share = float((c >= 0.99).mean()) if len(c) else 0.0
    lines = [
        "### Vectors and clusters (HOG detector, embedded store, default settings)",
        "",
        "| photos | faces found | photos without a face | centre faces compared | cosine >= 0.99 | cosine min / median | "
        "same-image cannot-links | ingest s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {len(report.photos)} | {report.faces_added} | {no_face} | {len(c)} | {share:.1%} | "
        f"{c.min():.4f} / {np.median(c):.5f} | {sum(d.by == 'graphcluster' for d in decisions)} | {seconds:.0f} |",
        "",
        f"Centre faces of the {len(centre)} labelled photos with a face ({len(set(truth))} people), "
        f"clustered among all {stats.faces} faces:",
        "",
        "| pairwise P | pairwise R | pairwise F | BCubed P | BCubed R | BCubed F | clusters |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| {s['P']:.4f} | {s['R']:.4f} | {s['F']:.4f} | {s['bP']:.4f} | {s['bR']:.4f} | {s['bF']:.4f} | "
        f"{int(s['clusters'])} |",
    ]
    if not_in_dev:
        lines += ["", f"{not_in_dev} centre faces have no development vector (their photo failed there)."]
    summary = {"share": share, "F": s["F"], "bF": s["bF"], "photos_per_s": len(report.photos) / seconds}
    return lines, summary


def speed(n: int, n_cnn: int) -> list[str]:
    files = sorted(PHOTOS.glob("*.jpg"))[:n]
    data = [f.read_bytes() for f in files]
    arrays = [np.ascontiguousarray(np.asarray(photos.decode(d).rgb)) for d in data]
    hog, shape_model, resnet = photos.load_models("hog")
    rows = []

    def timed(label: str, count: int, fn: object) -> tuple[float, int]:
        say(f"speed: {label} on {count} photos")
        t0 = time.perf_counter()
        faces = fn()  # type: ignore[operator]
        return time.perf_counter() - t0, int(faces)

    sec, faces = timed("HOG detector", n, lambda: sum(len(hog(a, 1)) for a in arrays))
    rows.append(("HOG detector alone", n, faces, sec))
    found = [(a, r) for a in arrays for r in hog(a, 1)]
    sec, faces = timed("descriptor", n, lambda: sum(
        len(resnet.compute_face_descriptor(a, shape_model(a, r), 0)) > 0 for a, r in found))
    rows.append(("descriptor alone (landmarks + ResNet)", n, faces, sec))
    sec, faces = timed("HOG pipeline", n, lambda: sum(len(photos.read_faces(d, "hog").faces) for d in data))
    rows.append(("whole photo, HOG (decode, detect, describe, crop)", n, faces, sec))
    cnn = photos.load_models("cnn")[0]
    sec, faces = timed("CNN detector", n_cnn, lambda: sum(len(cnn(a, 1)) for a in arrays[:n_cnn]))
    rows.append(("CNN detector alone", n_cnn, faces, sec))
    sec, faces = timed("CNN pipeline", n_cnn, lambda: sum(len(photos.read_faces(d, "cnn").faces) for d in data[:n_cnn]))
    rows.append(("whole photo, CNN", n_cnn, faces, sec))
    lines = [
        "### Speed per core (250 x 250 LFW photos, one process)",
        "",
        "| step | photos | faces | ms per photo | ms per face | faces per second |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, count, faces, sec in rows:
        per_face = f"{1000 * sec / faces:.0f}" if faces else "-"
        rate = f"{faces / sec:.2f}" if faces else "-"
        lines.append(f"| {label} | {count} | {faces} | {1000 * sec / count:.0f} | {per_face} | {rate} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=100, help="photos for the HOG speed rows")
    ap.add_argument("--cnn-photos", type=int, default=10, help="photos for the CNN speed rows")
    args = ap.parse_args()
    if not (PHOTOS / "labels.csv").is_file() or not (DEV / "embeddings.npy").is_file():
        sys.exit(f"needs {PHOTOS} and {DEV}")
    q, summary = quality()
    print("\n".join(q))
    s = speed(args.photos, args.cnn_photos)
    print("\n".join(s))
    lines = [
        "# Photo ingest",
        "",
        f"Command: `.venv/bin/python benchmarks/photos.py --photos {args.photos} --cnn-photos {args.cnn_photos}`",
        "",
        f"Machine: {machine()}; {code_version()}.",
        "",
        *q,
        "",
        *s,
        "",
        *NOTES,
    ]
    write_section("photos", lines)
    say(f"summary: {summary}")


if __name__ == "__main__":
    main()
