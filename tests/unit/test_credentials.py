"""Where a Neo4j password comes from (graphcluster.credentials), and the deployment files that must
not ship a default one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from graphcluster.credentials import DEFAULT_PASSWORD_FILE, neo4j_auth, redact_uri, scrub
from graphcluster.errors import StoreError

ROOT = Path(__file__).resolve().parents[2]
LOCAL = "bolt://127.0.0.1:7687"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_environment_password_comes_first(tmp_path: Path) -> None:
    named = _write(tmp_path / "pw", "from-file\n")
    env = {"NEO4J_PASSWORD": "from-env", "NEO4J_PASSWORD_FILE": str(named)}
    assert neo4j_auth(LOCAL, env, cwd=tmp_path) == ("neo4j", "from-env")


def test_the_named_file_gives_its_first_line_for_any_host(tmp_path: Path) -> None:
    named = _write(tmp_path / "pw", "  s3cret-line \nsecond line\n")
    env = {"NEO4J_PASSWORD_FILE": str(named), "NEO4J_USER": "ann"}
    assert neo4j_auth("neo4j+s://db.example.org", env, cwd=tmp_path) == ("ann", "s3cret-line")


def test_the_default_file_is_read_for_a_loopback_server_only(tmp_path: Path) -> None:
    _write(tmp_path / DEFAULT_PASSWORD_FILE, "local-pw\n")
    for uri in ("bolt://127.0.0.1:7687", "bolt://localhost:17687", "neo4j://[::1]:7687"):
        assert neo4j_auth(uri, {}, cwd=tmp_path) == ("neo4j", "local-pw"), uri
    for uri in ("bolt://192.168.1.20:7687", "neo4j+s://db.example.org", "bolt://127.0.0.1.example.org"):
        assert neo4j_auth(uri, {}, cwd=tmp_path) is None, uri


def test_no_password_anywhere_means_no_auth(tmp_path: Path) -> None:
    assert neo4j_auth(LOCAL, {"NEO4J_USER": "ann"}, cwd=tmp_path) is None


@pytest.mark.parametrize("content", ["", "\n\n", "   \n"])
def test_an_empty_password_file_is_an_error_naming_the_file(tmp_path: Path, content: str) -> None:
    named = _write(tmp_path / "pw", content)
    with pytest.raises(StoreError, match=re.escape(str(named)) + " is empty"):
        neo4j_auth(LOCAL, {"NEO4J_PASSWORD_FILE": str(named)}, cwd=tmp_path)


def test_an_unreadable_password_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(StoreError, match="cannot read the Neo4j password file .*nope: No such file"):
        neo4j_auth(LOCAL, {"NEO4J_PASSWORD_FILE": str(missing)}, cwd=tmp_path)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(StoreError, match="a-folder"):
        neo4j_auth(LOCAL, {"NEO4J_PASSWORD_FILE": str(folder)}, cwd=tmp_path)


def test_user_info_and_known_secrets_are_scrubbed() -> None:
    assert redact_uri("bolt://neo4j:pw-123@127.0.0.1:7687") == "bolt://***@127.0.0.1:7687"
    assert redact_uri("neo4j+s://db.example.org") == "neo4j+s://db.example.org"
    text = "Given URI: 'bolt://neo4j:pw-123@host:1'. Also pw-123 and xyz."
    assert scrub(text, ["pw-123", None, ""]) == "Given URI: 'bolt://***@host:1'. Also *** and xyz."


def test_docker_compose_refuses_to_start_without_a_password() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    auth = re.search(r"^\s*NEO4J_AUTH:\s*(.+)$", compose, re.MULTILINE)
    assert auth is not None
    assert re.fullmatch(r"neo4j/\$\{NEO4J_PASSWORD:\?[^}]+\}", auth.group(1).strip()), auth.group(1)
    assert not re.search(r"NEO4J_PASSWORD:-", compose), "no default password"

