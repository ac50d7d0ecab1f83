"""Kill -9 at random points: every acknowledged face and decision survives, every decision holds.

The short version of benchmarks/faults.py (tests/faults/workload.py does the work): 30 points
per store, half killed by a timer, half right after a random store write; on the Neo4j store
of ./scripts/test the server itself is killed with SIGKILL and restarted at every 15th point.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workload import Neo4jServer, final_batch, run_points

POINTS = 30


def _run(target: str, tmp_path: Path, index_dir: str | None, server: Neo4jServer | None = None) -> None:
    # each server restart costs tens of seconds: two of them in CI, the long run has twenty
    points = list(run_points(target, tmp_path / "work", POINTS, seed=3, index_dir=index_dir, server=server,
                             server_every=15 if server else 0, max_faces=1500,
                             delay=(0.2, 1.5) if server else (0.2, 2.5)))
    broken = [f"point {p.n} ({p.how}, {p.op}: {p.outcome}): {p.problems}" for p in points if p.problems]
    assert not broken, "\n".join(broken)
    assert len(points) == POINTS
    assert final_batch(target, index_dir, tmp_path, 3, 1500) == []


def test_kill9_embedded(tmp_path: Path) -> None:
    _run(str(tmp_path / "db"), tmp_path, None)


def test_kill9_neo4j(tmp_path: Path, neo4j_uri: tuple[str, str | None, str | None], clean_neo4j: object,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    """On the server of ./scripts/test (NEO4J_DATA_DIR with neo4j.pid) the server is killed too;
    on any other server (NEO4J_URI given, testcontainers) only the client is."""
    _uri, user, password = neo4j_uri
    if user:  # the workload's child processes read the credentials from the environment
        monkeypatch.setenv("NEO4J_USER", user)
        monkeypatch.setenv("NEO4J_PASSWORD", password or "")
    server = Neo4jServer.from_environment()
    _run(neo4j_uri[0], tmp_path, str(tmp_path / "index"), server)
