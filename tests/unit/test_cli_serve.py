"""``graphcluster serve``: its argument errors, and that it serves the page as its own process.

The errors go through ``CliRunner`` (nothing is served); the serving test starts the real
command as a subprocess on a free loopback port over a real embedded store, fetches pages and
stops it.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("starlette", reason="graphcluster serve needs the web extra: pip install -e '.[web]'")

from graphcluster import GraphCluster  # noqa: E402
from graphcluster.cli import cli  # noqa: E402
from graphcluster.synth import make_faces  # noqa: E402
from tests.unit.test_cli import one_line_error  # noqa: E402


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("serve") / "db"
    faces = make_faces(120, dim=32, seed=5)
    with GraphCluster.open(where) as gc:
        gc.add_faces(faces.vectors, ids=faces.ids)
    return where


def serve(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["serve", *args], catch_exceptions=True)
    return result.exit_code, result.output


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_a_host_other_machines_reach_needs_a_password(db: Path, host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRAPHCLUSTER_WEB_PASSWORD", raising=False)
    result = CliRunner().invoke(cli, ["serve", str(db), "--host", host], catch_exceptions=True)
    assert result.exit_code == 2
    line = one_line_error(result)
    assert repr(host) in line and "--password" in line


@pytest.mark.parametrize("port", ["0", "65536", "http", "-1"])
def test_a_bad_port_is_a_usage_error_naming_it(db: Path, port: str) -> None:
    code, output = serve(str(db), "--port", port)
    assert code == 2 and "Traceback" not in output
    assert re.search(r"Error: Invalid value for '--port'.*" + re.escape(port), output), output


def test_a_missing_store_is_refused_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-db"
    result = CliRunner().invoke(cli, ["serve", str(missing)], catch_exceptions=True)
    assert result.exit_code == 2
    line = one_line_error(result)
    assert str(missing) in line and "graph.db" in line
    assert not missing.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 (loopback)
        return r.status, r.read().decode()


def test_serve_answers_the_people_page_and_stops(db: Path) -> None:
    with GraphCluster.open(db) as gc:
        people = [c.id for c in gc.clusters()]
    assert people, "the sample store has people to show"
    port = _free_port()
    cmd = [sys.executable, "-c", "from graphcluster.cli import main; main()", "serve", str(db), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                status, root = _get(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                assert time.monotonic() < deadline, "graphcluster serve did not answer within 60 s"
                time.sleep(0.2)
        assert status == 200
        assert set(re.findall(r'data-cluster="([^"]+)"', root)) == set(people[:48])
        status, review = _get(f"http://127.0.0.1:{port}/review")
        assert status == 200 and "csrf-token" in review
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode is not None
    assert f"http://127.0.0.1:{port}/" in out
    assert "Traceback" not in err
