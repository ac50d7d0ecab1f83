"""No credential in any log, error message, ``stats`` output, ``repr`` or exception (SECURITY.md).

Against the real Neo4j with auth on (``./scripts/test`` starts it so): the test opens a store with
the server's password, works with it, provokes failures (a wrong password, a password inside the
URI, a failing query, an unknown id on the command line) and collects every text a user or a log
could see — messages, reprs, formatted tracebacks, the log records of every logger at DEBUG
(the driver's included), the command line's output — then looks for the passwords in all of it.
The server's own logs (its data folder, when ``NEO4J_PASSWORD_FILE`` points into one) are read too.
"""

from __future__ import annotations

import os
import secrets
import stat
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError

from graphcluster import GraphCluster, Settings
from graphcluster.cli import cli
from graphcluster.demo import synthetic_faces
from graphcluster.errors import StoreError
from graphcluster.store import Neo4jStore

Target = tuple[str, str | None, str | None]


@pytest.fixture
def server(neo4j_uri: Target, clean_neo4j: object) -> Target:
    """The test server's ``(uri, user, password)``; it must want a password."""
    uri, user, password = neo4j_uri
    if not password:
        pytest.fail("the test Neo4j runs without auth; ./scripts/test starts it with auth on", pytrace=False)
    return uri, user or "neo4j", password


@pytest.fixture
def seen(caplog: pytest.LogCaptureFixture) -> list[str]:
    """A list for the texts the test gathers, with every logger (the driver's too) captured at DEBUG."""
    caplog.set_level("DEBUG")
    caplog.set_level("DEBUG", logger="neo4j")  # the command line quiets the driver's logger otherwise
    return []


def _logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The captured log records as text; the driver's own debug records must be among them."""
    assert any(record.name.startswith("neo4j") for record in caplog.records), "the driver's log was not captured"
    return [record.getMessage() for record in caplog.records] + [caplog.text]


def _failure(texts: list[str], action: Callable[[], object]) -> BaseException:
    """Run ``action``, which must raise; keep the exception's str, repr and whole traceback."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - any failure is the point
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        return exc
    raise AssertionError("expected a failure")


def _assert_absent(texts: list[str], *passwords: str) -> None:
    assert texts, "nothing was collected"
    for password in passwords:
        leaks = [text.replace(password, "<PASSWORD>") for text in texts if password in text]
        assert not leaks, f"a password appears in {len(leaks)} text(s), e.g. {leaks[0][:300]!r}"


def test_the_server_refuses_a_client_without_the_password(server: Target) -> None:
    uri, user, password = server
    for auth in (None, (user, "neo4j")):
        with GraphDatabase.driver(uri, auth=auth) as driver, pytest.raises(AuthError):
            driver.verify_connectivity()
    with GraphDatabase.driver(uri, auth=(user, password)) as driver:
        driver.verify_connectivity()


def test_a_missing_or_refused_password_is_named_as_such(
    server: Target, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    uri, user, password = server
    for name in ("NEO4J_PASSWORD", "NEO4J_PASSWORD_FILE", "NEO4J_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./var/neo4j/neo4j.password here
    with pytest.raises(StoreError, match="wants a password and none was given or found: set NEO4J_PASSWORD_FILE"):
        Neo4jStore(uri)
    with pytest.raises(StoreError, match=f"refused the password of user '{user}'"):
        Neo4jStore(uri, auth=(user, secrets.token_hex(16)))
    monkeypatch.setenv("NEO4J_PASSWORD", password)
    with Neo4jStore(uri) as store:  # found in the environment
        assert store.count_faces() == 0


def test_no_password_in_messages_reprs_stats_or_logs(
    server: Target, seen: list[str], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    uri, user, password = server
    wrong = secrets.token_hex(16)
    ids, vectors, meta, _ = synthetic_faces(60, np.random.default_rng(1), dim=32)
    with GraphCluster.open(uri, settings=Settings(index_dir=tmp_path / "index"), auth=(user, password)) as gc:
        gc.add_faces(vectors, ids=ids, metadata=meta)
        stats = gc.stats()
        seen += [repr(gc), repr(gc.store), str(stats), repr(stats), stats.model_dump_json(), repr(gc.settings)]
        error = _failure(seen, lambda: gc.store.run_read("RETURN 1 +", {}))  # a query the server refuses
        assert "SyntaxError" in str(error) or "Invalid input" in str(error)
        _failure(seen, lambda: gc.face("no-such-face"))
    error = _failure(seen, lambda: GraphCluster.open(uri, settings=Settings(index_dir=tmp_path / "index"), auth=(user, wrong)))
    assert "unauthorized" in str(error).lower() or "authentication" in str(error).lower()
    host = uri.split("://", 1)[1]
    error = _failure(seen, lambda: Neo4jStore(f"bolt://{user}:{password}@{host}"))
    assert "***@" in str(error)
    _assert_absent(seen + _logs(caplog), password, wrong)


def test_no_password_in_the_command_lines_output(
    server: Target, seen: list[str], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    uri, user, password = server
    wrong = secrets.token_hex(16)
    env = {"NEO4J_PASSWORD": password, "NEO4J_USER": user, "NEO4J_PASSWORD_FILE": None}

    def run(*args: str, ok: bool = True, extra_env: dict[str, str | None] | None = None) -> str:
        """The command's whole output (stdout and stderr), kept in ``seen`` with any exception."""
        caplog.set_level("DEBUG", logger="neo4j")  # a run without --debug turned the driver's log down
        result = CliRunner().invoke(cli, ["--store", uri, "--set", f"index_dir={tmp_path / 'index'}", *args],
                                    env={**env, **(extra_env or {})})
        seen.extend([result.output, result.stderr])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            seen.extend([repr(result.exception), "".join(traceback.format_exception(result.exception))])
        assert (result.exit_code == 0) == ok, result.output
        return result.output + "".join(seen[-2:])

    run("init")
    run("status")
    run("--json", "status")
    run("--debug", "status")
    run("show", "no-such-id", ok=False)
    run("--debug", "show", "no-such-id", ok=False)
    assert "unauthorized" in run("status", ok=False, extra_env={"NEO4J_PASSWORD": wrong}).lower()
    assert "unauthorized" in run("--password", wrong, "--debug", "status", ok=False).lower()
    _assert_absent(seen + _logs(caplog), password, wrong)


def test_the_password_file_is_private_and_no_server_log_holds_the_password(server: Target) -> None:
    uri, user, password = server
    named = os.environ.get("NEO4J_PASSWORD_FILE")
    if not named:
        pytest.skip("the server's data folder is unknown (NEO4J_PASSWORD_FILE is not set)")
    assert stat.S_IMODE(Path(named).stat().st_mode) == 0o600
    home = Path(named).resolve().parent
    logs = [p for p in [home / "neo4j.log", *sorted((home / "logs").glob("*.log"))] if p.is_file()]
    assert logs, f"no server logs under {home}"
    _assert_absent([p.read_text(errors="replace") for p in logs], password)
