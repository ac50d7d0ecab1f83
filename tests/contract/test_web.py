"""The review page over HTTP, on every store: pages, actions, escaping, crops, CSRF, errors.

The page is served by a real uvicorn on a loopback port (``LiveServer``) over a GraphCluster on
the embedded store and on the real Neo4j; every check of what an action did reads the
database back through the GraphCluster API.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("starlette", reason="the review page needs the web extra: pip install -e '.[web]'")

from graphcluster import GraphCluster  # noqa: E402
from graphcluster.clustering.questions import review_id  # noqa: E402
from graphcluster.models import ReviewItem  # noqa: E402
from graphcluster.web import app as web_app  # noqa: E402
from graphcluster.web import create_app  # noqa: E402
from tests.contract.conftest import HOSTILE_ID, LiveServer  # noqa: E402


class Site:
    def __init__(self, gc: GraphCluster, url: str) -> None:
        self.gc, self.url = gc, url
        self.http = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
        self.token = re.search(r'name="csrf-token" content="([^"]+)"', self.get("/people").text).group(1)  # type: ignore[union-attr]

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        return self.http.post(path, data={"csrf": self.token, **(data or {})}, **kw)

    def cluster_of(self, face: str) -> str | None:
        return self.gc.assignments(face_ids=[face])[face]


@pytest.fixture
def site(web_gc: GraphCluster) -> Iterator[Site]:
    with LiveServer(create_app(web_gc)) as server:
        s = Site(web_gc, server.url)
        yield s
        s.http.close()


def _two_people(gc: GraphCluster) -> tuple[str, str]:
    a, b = gc.clusters()[:2]
    return a.id, b.id


# -- pages -------------------------------------------------------------------------------------
def test_people_page_shows_every_person_with_crops_size_and_name(site: Site) -> None:
    gc = site.gc
    cid = gc.clusters()[0].id
    gc.name(cid, "Ann Lee")
    gc.lock(cid)
    page = site.get("/people").text
    for c in gc.clusters():
        assert f'data-cluster="{c.id}"' in page and f"{c.size} faces" in page
    block = page.split(f'data-cluster="{cid}"')[1].split("</li>")[0]
    assert "Ann Lee" in block and "verified" in block and "/crop?face=" in block


def test_people_and_person_pages_are_paginated(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_app, "PEOPLE_PER_PAGE", 4)
    monkeypatch.setattr(web_app, "FACES_PER_PAGE", 4)
    clusters = site.gc.clusters()
    first, second = site.get("/people").text, site.get("/people?page=2").text
    assert [c.id for c in clusters[:4]] == re.findall(r'data-cluster="([^"]+)"', first)
    assert [c.id for c in clusters[4:8]] == re.findall(r'data-cluster="([^"]+)"', second)
    assert "page 1 of 2" in first
    big = clusters[0]
    members = [m["face_id"] for m in site.gc.cluster(big.id)["members"]]
    shown = re.findall(r'data-face="([^"]+)"', site.get(f"/people/{big.id}?page=2").text)
    assert [html.unescape(f) for f in shown] == members[4:8]


def test_unassigned_faces_are_reachable_and_paged(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    gc = site.gc
    taken = gc.cluster(gc.clusters()[0].id)["members"][0]["face_id"]
    gc.remove(taken)
    expected = gc.unassigned()
    assert set(expected) == {"lone_0", "lone_1", taken}
    monkeypatch.setattr(web_app, "FACES_PER_PAGE", 2)
    shown = [re.findall(r'data-face="([^"]+)"', site.get(f"/unassigned?page={p}").text) for p in (1, 2)]
    assert shown == [expected[:2], expected[2:]]
    assert 'href="/unassigned"' in site.get("/people").text


def test_review_page_shows_every_kind_of_question_with_crops(site: Site) -> None:
    gc = site.gc
    (ca, cb) = _two_people(gc)
    fa, fb = (gc.cluster(c)["members"][0]["face_id"] for c in (ca, cb))
    loose = gc.cluster(ca)["members"][1]["face_id"]
    gc.remove(loose)  # an unassigned face: a "face" question about cb asks something
    items = [
        ReviewItem(id=review_id("merge", [fa], [fb], ca, cb), kind="merge", priority=9, faces_a=[fa], faces_b=[fb],
                   cluster_a=ca, cluster_b=cb),
        ReviewItem(id=review_id("face", [loose], [fb], None, cb), kind="face", priority=8, faces_a=[loose],
                   faces_b=[fb], cluster_b=cb),
        ReviewItem(id=review_id("pair", [fa], [fb], None, None), kind="pair", priority=7, faces_a=[fa], faces_b=[fb]),
    ]
    gc.store.put_reviews(items)
    queue = gc.review_queue(limit=50)
    kinds = {i.kind for i in queue}
    assert {"merge", "face", "pair", "new_identity"} <= kinds
    page = site.get("/review").text
    sections = re.findall(r'<section class="question" data-item="([^"]+)" data-kind="([^"]+)"', page)
    assert [i.id for i in queue[:web_app.QUESTIONS_PER_PAGE]] == [s[0] for s in sections]
    for item in queue[:web_app.QUESTIONS_PER_PAGE]:
        block = page.split(f'data-item="{item.id}"')[1].split("</section>")[0]
        for fid in (item.faces_a + item.faces_b)[:1]:
            assert f"/crop?face={httpx.URL('/', params={'face': fid}).query.decode()[5:]}" in block
        assert 'value="yes"' in block and 'value="no"' in block


def test_answers_go_through_gc_answer_and_record_by_web(site: Site) -> None:
    gc = site.gc
    items = gc.review_queue(limit=3)
    assert items, "the test database should hold open questions"
    for item, reply in zip(items, ["yes", "no", "skip"]):
        r = site.post("/answer", {"item": item.id, "answer": reply, "next": "/review"})
        assert r.status_code == 303 and r.headers["location"] == "/review"
    answered = {i.id: i for i in gc.store.get_reviews(status="answered")}
    assert items[0].id in answered and answered[items[0].id].answer == "yes"
    assert items[1].id in answered and answered[items[1].id].answer == "no"
    made = [d for d in gc.decisions() if (d.reason or "").startswith("review ")]
    assert made and all(d.by == "web" for d in made)


def test_a_bulk_question_shows_checkboxes_and_takes_the_ticked_faces(site: Site) -> None:
    gc = site.gc
    cid = max(gc.store.get_clusters(None).values(), key=lambda c: (c.size, c.id)).id
    members = gc.store.cluster_members([cid])[cid][:4]
    gc.store.put_reviews([ReviewItem(id="q-split", kind="split", priority=1e6, faces_a=members, cluster_a=cid)])
    page = site.get("/review").text
    block = page.split('data-item="q-split"')[1].split("</section>")[0]
    assert block.count('type="checkbox" name="face"') == 4 and 'form="answer-q-split"' in block
    r = site.post("/answer", {"item": "q-split", "answer": "no", "face": members[:2], "next": "/review"})
    assert r.status_code == 303
    where = gc.assignments(detail=True)
    assert all(where[f].cluster_id != cid for f in members[:2])
    assert all(where[f].cluster_id == cid and where[f].status == "manual" for f in members[2:])
    assert {d.by for d in gc.decisions() if d.reason == "review q-split"} == {"web"}


def test_script_posts_get_json_and_bad_answers_are_400(site: Site) -> None:
    item = site.gc.review_queue(limit=1)[0]
    headers = {"X-CSRF-Token": site.token}
    r = site.http.post("/answer", data={"item": item.id, "answer": "maybe"}, headers=headers)
    assert r.status_code == 400 and "'maybe'" in r.json()["error"]
    r = site.http.post("/answer", data={"item": "r-nope", "answer": "yes"}, headers=headers)
    assert r.status_code == 404 and "r-nope" in r.json()["error"]
    r = site.http.post("/answer", data={"item": item.id, "answer": "yes"}, headers=headers)
    assert r.status_code == 200 and r.json()["ok"] is True


# -- actions -----------------------------------------------------------------------------------
def test_name_lock_unlock_merge_and_undo_last(site: Site) -> None:
    gc = site.gc
    ca, cb = _two_people(gc)
    assert site.post(f"/people/{ca}/name", {"name": "Bo Chen"}).status_code == 303
    assert gc.cluster(ca)["cluster"].name == "Bo Chen"
    site.post(f"/people/{ca}/lock")
    assert gc.cluster(ca)["cluster"].locked
    site.post(f"/people/{ca}/unlock")
    assert not gc.cluster(ca)["cluster"].locked
    face_a, face_b = (gc.cluster(c)["members"][0]["face_id"] for c in (ca, cb))
    assert site.post(f"/people/{ca}/merge", {"other": cb}).status_code == 303
    assert site.cluster_of(face_a) == site.cluster_of(face_b)
    merged = [d for d in gc.decisions() if d.kind == "merge" and not d.undone]
    assert len(merged) == 1 and merged[0].by == "web"
    assert len(gc.clusters()) == 5
    assert site.post("/undo-last", {"next": "/decisions"}).status_code == 303
    assert gc.store.get_decision(merged[0].id).undone
    assert len(gc.clusters()) == 6 and site.cluster_of(face_a) != site.cluster_of(face_b)
    assert [d.by for d in gc.decisions() if d.kind in ("name", "lock", "unlock")] == ["web", "web", "web"]


def test_bulk_remove_move_same_and_different(site: Site) -> None:
    gc = site.gc
    ca, cb = _two_people(gc)
    members = [m["face_id"] for m in gc.cluster(ca)["members"]]
    r = site.post("/faces/remove", {"face": members[:2], "next": f"/people/{ca}"})
    assert r.status_code == 303
    assert all(site.cluster_of(f) != ca for f in members[:2])
    assert site.post("/faces/move", {"face": members[:2], "to": cb}).status_code == 303
    assert all(site.cluster_of(f) == cb for f in members[:2])
    assert {d.kind for d in gc.decisions(face_id=members[0])} >= {"remove", "assign"}
    x, y = members[2], gc.cluster(cb)["members"][-1]["face_id"]
    assert site.post("/faces/different", {"face": [members[3], members[4]]}).status_code == 303
    assert site.cluster_of(members[3]) != site.cluster_of(members[4])
    assert site.post("/faces/same", {"face": [x, y]}).status_code == 303
    assert site.cluster_of(x) == site.cluster_of(y)
    assert all(d.by == "web" for d in gc.decisions() if d.by != "graphcluster")


def test_bad_input_is_a_400_naming_the_value_and_changes_nothing(site: Site) -> None:
    gc = site.gc
    ca, _ = _two_people(gc)
    members = [m["face_id"] for m in gc.cluster(ca)["members"]]
    before = (gc.assignments(), len(gc.decisions()))
    r = site.post("/faces/move", {"face": members[:2], "to": "c-999"})
    assert r.status_code == 400 and "c-999" in r.text
    r = site.post("/faces/remove", {"face": [members[0], "no-such-face"]})
    assert r.status_code == 400 and "no-such-face" in r.text
    r = site.post("/faces/different", {"face": members[:3]})
    assert r.status_code == 400 and "exactly two" in r.text
    r = site.post(f"/people/{ca}/merge", {"other": "c-nobody"})
    assert r.status_code == 400 and "c-nobody" in r.text
    r = site.post(f"/people/{ca}/name", {"name": "   "})
    assert r.status_code == 400 and "name" in r.text
    r = site.get("/people?page=0")
    assert r.status_code == 400 and "got '0'" in html.unescape(r.text)
    assert (gc.assignments(), len(gc.decisions())) == before


def test_a_contradicting_decision_is_a_409_naming_the_earlier_one(site: Site) -> None:
    gc = site.gc
    ca, _ = _two_people(gc)
    a, b = (m["face_id"] for m in gc.cluster(ca)["members"][:2])
    d = gc.same_person(a, b)
    r = site.post("/faces/different", {"face": [a, b]})
    assert r.status_code == 409 and d.id in r.text
    assert site.cluster_of(a) == site.cluster_of(b)


def test_unknown_face_person_and_page_are_404(site: Site) -> None:
    assert site.get("/people/c-12345").status_code == 404
    r = site.get("/face", params={"id": "ghost"})
    assert r.status_code == 404 and "ghost" in r.text
    assert site.get("/no/such/page").status_code == 404


# -- safety ------------------------------------------------------------------------------------
def test_a_script_as_face_id_or_name_shows_as_text(site: Site) -> None:
    gc = site.gc
    cid = site.cluster_of(HOSTILE_ID)
    assert cid is not None
    site.post(f"/people/{cid}/name", {"name": HOSTILE_ID})
    assert gc.cluster(cid)["cluster"].name == HOSTILE_ID
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ("/people", f"/people/{cid}", "/decisions"):
        page = site.get(path).text
        assert HOSTILE_ID not in page and escaped in page, path
    r = site.get("/face", params={"id": HOSTILE_ID})
    assert r.status_code == 200 and HOSTILE_ID not in r.text and escaped in r.text
    svg = site.get("/crop", params={"face": HOSTILE_ID})
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<script" not in svg.text
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_crops_come_only_through_face_crop(site: Site, tmp_path: Any) -> None:
    gc = site.gc
    with_crop = "p0_1"
    r = site.get("/crop", params={"face": with_crop})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content == gc.face_crop(with_crop)
    vector_only = "p1_1"
    assert gc.face_crop(vector_only) is None
    r = site.get("/crop", params={"face": vector_only})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml") and "p1_1" in r.text
    secret = gc.crops.root.parent / "secret.txt"
    secret.write_text("do not serve")
    for probe in ("../secret.txt", "../../secret.txt", str(secret), "..%2Fsecret.txt", "../" * 8 + "etc/passwd"):
        r = site.get("/crop", params={"face": probe})
        assert r.status_code == 404 and "do not serve" not in r.text, probe
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2f..%2fpyproject.toml"):
        r = site.get(path)
        assert r.status_code == 404 and "create_app" not in r.text, path


def test_every_post_needs_the_csrf_token_and_get_changes_nothing(site: Site) -> None:
    gc = site.gc
    cid = gc.clusters()[0].id
    before = len(gc.decisions())
    assert site.http.post(f"/people/{cid}/name", data={"name": "X"}).status_code == 403
    assert site.http.post(f"/people/{cid}/name", data={"name": "X", "csrf": "forged"}).status_code == 403
    r = site.http.post(f"/people/{cid}/lock", data={"csrf": site.token}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert site.http.get(f"/people/{cid}/name", params={"name": "X"}).status_code == 405
    assert len(gc.decisions()) == before and gc.cluster(cid)["cluster"].name is None
    cookie = site.http.cookies.get("gc_csrf")
    assert cookie == site.token


def test_only_loopback_host_names_are_served_by_default(site: Site) -> None:
    assert site.get("/people", headers={"Host": "rebind.example"}).status_code == 400
    assert site.get("/people", headers={"Host": "localhost:8000"}).status_code == 200


def test_a_password_guards_every_request(web_gc: GraphCluster) -> None:
    with LiveServer(create_app(web_gc, password="s3cret pass")) as server:
        with httpx.Client(base_url=server.url) as http:
            r = http.get("/people")
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
            assert http.get("/crop", params={"face": "p0_1"}).status_code == 401
            assert http.get("/people", auth=("anyone", "wrong")).status_code == 401
            assert http.get("/people", auth=("anyone", "s3cret pass")).status_code == 200
