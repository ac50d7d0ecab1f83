"""Suite-wide fixtures: test layers by folder, and one real Neo4j for the whole test run.

Layers: a test's folder decides its marker (tests/unit -> ``unit``, tests/contract ->
``contract``, tests/integration -> ``integration``, tests/faults -> ``faults``), so
``pytest -m unit`` runs the pure tests and a file cannot drift out of its layer.

Where the Neo4j comes from (fixture ``neo4j_uri``), first that applies:

1. ``NEO4J_URI``, with the credentials graphcluster itself would use
   (:func:`graphcluster.credentials.neo4j_auth`: ``NEO4J_USER`` and ``NEO4J_PASSWORD`` or
   ``NEO4J_PASSWORD_FILE``) — ``./scripts/test`` starts the local server with auth on
   (``scripts/neo4j start``) and sets ``NEO4J_URI``, ``NEO4J_USER`` and ``NEO4J_PASSWORD_FILE``;
2. a throw-away ``neo4j:5.26-community`` container through testcontainers, when a Docker
   engine answers;
3. none: the tests that need the server are skipped with the reason — except when
   ``CI=true``, where the run fails instead, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from neo4j import Driver, GraphDatabase

from graphcluster.credentials import neo4j_auth

TESTS_DIR = Path(__file__).resolve().parent
LAYERS = ("unit", "contract", "integration", "faults")
NEO4J_IMAGE = "neo4j:5.26-community"
_DELETE_CHUNK = 2_000

Neo4jTarget = tuple[str, str | None, str | None]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with the layer named by its first folder under tests/."""
    for item in items:
        try:
            parts = Path(str(item.path)).resolve().relative_to(TESTS_DIR).parts
        except ValueError:
            continue
        if len(parts) > 1 and parts[0] in LAYERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _docker_engine_answers() -> bool:
    """True when a Docker engine (not merely the client) answers within a few seconds."""
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _no_neo4j(reason: str) -> NoReturn:
    message = (
        f"no Neo4j server for the tests that need one: {reason}. "
        "Run the whole suite with ./scripts/test (it starts a local Neo4j and sets NEO4J_URI), "
        "or start one yourself (scripts/neo4j start, or docker compose up -d) and set "
        "NEO4J_URI=bolt://127.0.0.1:7687 (plus NEO4J_PASSWORD or NEO4J_PASSWORD_FILE if it wants auth: "
        "eval \"$(scripts/neo4j env)\" sets all three)."
    )
    if _in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def _auth(user: str | None, password: str | None) -> tuple[str, str] | None:
    return (user, password or "") if user else None


@pytest.fixture(scope="session")
def neo4j_uri() -> Iterator[Neo4jTarget]:
    """``(uri, user, password)`` of a reachable Neo4j; user and password are None without auth."""
    uri = os.environ.get("NEO4J_URI", "").strip()
    if uri:
        found = neo4j_auth(uri)
        user, password = found if found else (None, None)
        try:
            with GraphDatabase.driver(uri, auth=_auth(user, password), connection_timeout=10) as driver:
                driver.verify_connectivity()
        except Exception as exc:  # noqa: BLE001 - any failure here means the same thing
            # An explicit NEO4J_URI that does not answer is a broken set-up, never a skip.
            pytest.fail(f"NEO4J_URI={uri} is set but the server does not answer: {exc}", pytrace=False)
        yield uri, user, password
        return

    if not _docker_engine_answers():
        _no_neo4j("NEO4J_URI is not set and no Docker engine answers for testcontainers")
    try:
        from testcontainers.neo4j import Neo4jContainer
    except ImportError as exc:
        _no_neo4j(f"testcontainers[neo4j] is not installed ({exc})")
    password = secrets.token_hex(12)
    with Neo4jContainer(NEO4J_IMAGE, password=password) as container:
        yield container.get_connection_url(), "neo4j", password


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_uri: Neo4jTarget) -> Iterator[Driver]:
    """One driver for the whole test run, connected to the server of ``neo4j_uri``."""
    uri, user, password = neo4j_uri
    driver = GraphDatabase.driver(uri, auth=_auth(user, password))
    try:
        driver.verify_connectivity()
        yield driver
    finally:
        driver.close()


@pytest.fixture
def clean_neo4j(neo4j_driver: Driver) -> Driver:
    """The run-wide driver, on a database emptied of all nodes and relationships.

    Deletes in chunks so a large leftover graph does not need one huge transaction; the
    schema (constraints, indexes) is kept — it is idempotent and every store applies it.
    """
    while True:
        records, _, _ = neo4j_driver.execute_query(
            "MATCH (n) WITH n LIMIT $chunk DETACH DELETE n RETURN count(*) AS deleted",
            chunk=_DELETE_CHUNK,
        )
        if records[0]["deleted"] == 0:
            return neo4j_driver


# -- photos ---------------------------------------------------------------------------------------
LFW_PHOTOS = TESTS_DIR.parent.parent / "shared/data/lfw_photos"


@pytest.fixture(scope="session")
def lfw_photos() -> Path:
    """The real photos of ``../shared/data/lfw_photos``; the tests that need a face skip without them."""
    if not (LFW_PHOTOS / "labels.csv").is_file():
        pytest.skip(f"the real photos ({LFW_PHOTOS}) are not on this machine")
    return LFW_PHOTOS


@pytest.fixture
def two_face_photo(lfw_photos: Path) -> Callable[[Path], Path]:
    """Writes a 500 x 250 JPEG at the path given: two LFW photos of two people side by side."""

    def make(dest: Path) -> Path:
        from PIL import Image

        canvas = Image.new("RGB", (500, 250))
        canvas.paste(Image.open(lfw_photos / "img_0000.jpg"), (0, 0))  # Winona Ryder
        canvas.paste(Image.open(lfw_photos / "img_0001.jpg"), (250, 0))  # Gray Davis
        dest.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(dest, quality=95)
        return dest

    return make
