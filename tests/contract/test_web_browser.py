"""The review page in a real browser (headless Chromium through selenium), on every store.

Opens the page served by uvicorn, answers a page of questions by clicking (and one by key),
selects faces by clicking and takes them out, merges two people, undoes the merge, names a
person — then reads the database back through the GraphCluster API.

Needs Debian's ``chromium`` and ``chromium-driver`` (``scripts/test`` installs them when it
runs as root); without them the tests are skipped with one message, except under CI=true,
where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the review page needs the web extra: pip install -e '.[web]'")

from graphcluster import GraphCluster  # noqa: E402
from graphcluster.web import create_app  # noqa: E402
from tests.contract.conftest import LiveServer  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT = 30


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not path]
    try:
        from selenium import webdriver
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        message = (f"the browser tests need {', '.join(missing)}: ./scripts/test installs them as root "
                   "(apt-get install chromium chromium-driver; pip install -e '.[test]')")
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(2)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(web_gc: GraphCluster, browser: Any) -> Iterator[tuple[GraphCluster, Any, str]]:
    with LiveServer(create_app(web_gc)) as server:
        browser.delete_all_cookies()
        yield web_gc, browser, server.url


def _wait(browser: Any, condition: Any) -> Any:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # a form post loads a new page: elements of the old one go stale while it does
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(browser, WAIT, ignored_exceptions=ignored).until(condition)


def _no_script_errors(browser: Any) -> None:
    errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, errors


def test_answer_a_page_of_questions_by_clicking(page: tuple[GraphCluster, Any, str]) -> None:
    from selenium.webdriver.common.by import By

    gc, browser, url = page
    asked = [i.id for i in gc.review_queue(limit=10)]
    assert len(asked) >= 3, "the test database should hold a page of questions"
    browser.get(f"{url}/review")
    sections = browser.find_elements(By.CSS_SELECTOR, "section.question")
    assert [s.get_attribute("data-item") for s in sections] == asked
    for s in sections:
        images = s.find_elements(By.CSS_SELECTOR, "img")
        assert images
        for im in images:  # the crops load lazily: each one once it is scrolled into view
            browser.execute_script("arguments[0].scrollIntoView()", im)
            assert _wait(browser, lambda b, im=im: b.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0", im))
        browser.execute_script("window.scrollTo(0, 0)")
    replies = {}
    for i, s in enumerate(sections[:-1]):
        reply = "no" if i == 1 else "yes"
        s.find_element(By.CSS_SELECTOR, f'button[value="{reply}"]').click()
        _wait(browser, lambda d, s=s: "answered" in s.get_attribute("class"))
        replies[s.get_attribute("data-item")] = reply
    last = sections[-1]
    assert "current" in last.get_attribute("class")  # the page moved on to the open question
    browser.find_element(By.TAG_NAME, "body").send_keys("s")  # keyboard: skip the current question
    _wait(browser, lambda d: "answered" in last.get_attribute("class"))
    _no_script_errors(browser)
    answered = {i.id: i.answer for i in gc.store.get_reviews(status="answered")}
    for item, reply in replies.items():
        assert answered.get(item) == reply
    made = [d for d in gc.decisions() if (d.reason or "").startswith("review ")]
    assert made and {d.by for d in made} == {"web"}


def test_merge_two_people_undo_and_name_one(page: tuple[GraphCluster, Any, str]) -> None:
    from selenium.webdriver.common.by import By

    gc, browser, url = page
    a, b = gc.clusters()[:2]
    face_a, face_b = (gc.cluster(c.id)["members"][0]["face_id"] for c in (a, b))
    browser.get(f"{url}/people")
    browser.find_element(By.CSS_SELECTOR, f'li[data-cluster="{a.id}"] a').click()
    _wait(browser, lambda d: d.find_element(By.ID, "merge-other"))
    browser.find_element(By.ID, "merge-other").send_keys(b.id)
    browser.find_element(By.CSS_SELECTOR, "#merge-form button").click()
    _wait(browser, lambda d: d.current_url.endswith("/people"))
    assert gc.assignments(face_ids=[face_a])[face_a] == gc.assignments(face_ids=[face_b])[face_b]
    merge = [d for d in gc.decisions() if d.kind == "merge"]
    assert len(merge) == 1 and merge[0].by == "web" and len(gc.clusters()) == 5

    browser.find_element(By.CSS_SELECTOR, "#undo-last button").click()
    _wait(browser, lambda d: gc.store.get_decision(merge[0].id).undone)
    assert gc.assignments(face_ids=[face_a])[face_a] != gc.assignments(face_ids=[face_b])[face_b]
    assert len(gc.clusters()) == 6

    target = gc.assignments(face_ids=[face_a])[face_a]
    browser.get(f"{url}/people/{target}")
    box = browser.find_element(By.ID, "name-input")
    box.clear()
    box.send_keys("Dana Ortiz")
    browser.find_element(By.CSS_SELECTOR, "#name-form button").click()
    _wait(browser, lambda d: "Dana Ortiz" in d.find_element(By.ID, "person-title").text)
    assert gc.cluster(target)["cluster"].name == "Dana Ortiz"
    _no_script_errors(browser)


def test_select_faces_by_clicking_and_take_them_out(page: tuple[GraphCluster, Any, str]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    gc, browser, url = page
    big = gc.clusters()[0]
    browser.get(f"{url}/people/{big.id}")
    tiles = browser.find_elements(By.CSS_SELECTOR, "label.tile")
    chosen = [t.get_attribute("data-face") for t in tiles[:3]]
    tiles[0].find_element(By.TAG_NAME, "img").click()
    ActionChains(browser).key_down(Keys.SHIFT).click(tiles[2].find_element(By.TAG_NAME, "img")).key_up(Keys.SHIFT).perform()
    _wait(browser, lambda d: d.find_element(By.ID, "selected-count").text == "3 selected")
    browser.find_element(By.ID, "bulk-remove").click()
    _wait(browser, lambda d: all(gc.decisions(face_id=f) for f in chosen))
    removed = [d for d in gc.decisions() if d.kind == "remove"]
    assert sorted(d.a for d in removed) == sorted(chosen) and {d.by for d in removed} == {"web"}
    assert all(gc.assignments(face_ids=[f])[f] != big.id for f in chosen)
