"""Make docs/web-people.png and docs/web-review.png: the people page and a review page of real
faces, rendered by headless Chromium through selenium.

1. pick ``--photos`` photos of ../shared/data/lfw_photos (labels.csv): every photo of the people
   with the most photos first, so the people page has people with many faces, then photos of
   people seen once (about one in five), with a fixed seed;
2. ``GraphCluster.add_photos`` on them in a temporary store (the photos extra: dlib HOG detector,
   the 128-D descriptor, a 150x150 crop per face), so every crop on the pages is a real face;
3. name the three largest people after the person most of their centre faces show and lock the
   largest, as a user would have (labels.csv is read for that only), so names and the
   "verified" badge show;
4. serve the page with ``graphcluster.web.create_app`` on a free loopback port (uvicorn in a
   thread) and save ``/people`` and ``/review`` as PNGs.

Usage::

    .venv/bin/python scripts/screenshots.py [--photos 160] [--width 1280] [--height 900]

Needs the photos and web extras, selenium, and Debian's ``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "data" / "lfw_photos"
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT))

from tests.contract.conftest import LiveServer  # noqa: E402  (the page served in a thread, as the tests do)


def pick(count: int, seed: int) -> tuple[list[Path], dict[str, str]]:
    """About four fifths of ``count`` from the people with most photos, the rest people seen once."""
    with (PHOTOS / "labels.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    identity = {r["file"]: r["identity"] for r in rows}
    sizes = Counter(identity.values())
    rng = random.Random(seed)
    singles = [f for f, who in identity.items() if sizes[who] == 1]
    chosen: list[str] = []
    for who, _ in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        if sizes[who] < 2 or len(chosen) >= count * 4 // 5:
            break
        chosen += sorted(f for f, w in identity.items() if w == who)
    chosen += rng.sample(singles, min(len(singles), count - len(chosen)))
    return [PHOTOS / f for f in sorted(chosen[:count])], identity


def browser(width: int, height: int):  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        raise SystemExit("needs chromium and chromedriver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--hide-scrollbars"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


def shoot(driver, url: str, out: Path) -> None:  # type: ignore[no-untyped-def]
    driver.get(url)
    deadline = time.monotonic() + 30
    while not driver.execute_script(  # every crop on screen decoded (lazy ones below stay unloaded)
            "return document.readyState === 'complete' && Array.from(document.images)"
            ".filter(i => i.getBoundingClientRect().top < window.innerHeight).every(i => i.complete)"):
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not finish loading within 30 s")
        time.sleep(0.1)
    driver.save_screenshot(str(out))
    print(f"wrote {out.relative_to(ROOT)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=160)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    a = ap.parse_args()
    if not (PHOTOS / "labels.csv").is_file():
        raise SystemExit(f"the sample photos are not at {PHOTOS} (see its README)")

    from graphcluster import GraphCluster
    from graphcluster.web import create_app

    paths, identity = pick(a.photos, a.seed)
    with tempfile.TemporaryDirectory(prefix="gc-shots-") as tmp, GraphCluster.open(Path(tmp) / "db") as gc:
        report = gc.add_photos(paths, root=PHOTOS)
        faces = gc.stats().faces
        print(f"ingested {len(paths)} photos: {faces} faces, {gc.stats().clusters} people, "
              f"{len(gc.review_queue(limit=1000))} open questions ({report.__class__.__name__})")
        for i, c in enumerate(gc.clusters()[:3]):
            photos = Counter(str(m["face_id"]).split("#", 1)[0] for m in gc.cluster(c.id)["members"])
            names = Counter(identity.get(Path(p).name, "") for p in photos)
            name = names.most_common(1)[0][0].replace("_", " ")
            gc.name(c.id, name)
            if i == 0:
                gc.lock(c.id)
        driver = browser(a.width, a.height)
        try:
            with LiveServer(create_app(gc)) as server:
                shoot(driver, server.url + "/people", DOCS / "web-people.png")
                shoot(driver, server.url + "/review", DOCS / "web-review.png")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
