"""Where the Neo4j credentials come from when the caller gives none.

``neo4j_auth(uri)`` is what :class:`graphcluster.store.Neo4jStore` (and so ``GraphCluster.open``
and the command line) uses when no ``auth`` is passed. The first that applies wins:

1. ``NEO4J_PASSWORD`` in the environment;
2. ``NEO4J_PASSWORD_FILE``: a file whose first line is the password (``scripts/neo4j`` writes
   one, and ``eval "$(scripts/neo4j env)"`` points this variable at it);
3. for a loopback URI only (``localhost``, ``127.0.0.1``, ``::1``): ``var/neo4j/neo4j.password``
   under the working directory, the file ``scripts/neo4j start`` writes with its default data
   folder, so a checkout's own server needs no set-up. A server on another host never gets a
   password from a file it did not name;
4. none: connect without auth (a server started with ``--no-auth``).

The user is ``NEO4J_USER``, else ``neo4j``. A password never appears in a message: errors name
the file, not its content, and :func:`scrub` takes URIs' user info and known passwords out of
text that came from elsewhere (the driver quotes a rejected URI whole).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from graphcluster.errors import StoreError

__all__ = ["DEFAULT_PASSWORD_FILE", "neo4j_auth", "read_password_file", "redact_uri", "scrub"]

DEFAULT_PASSWORD_FILE = Path("var") / "neo4j" / "neo4j.password"
DEFAULT_USER = "neo4j"
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s'\"]*@")


def redact_uri(uri: str) -> str:
    """``uri`` with any ``user:password@`` replaced by ``***@``."""
    return _USERINFO.sub(r"\g<scheme>***@", uri)


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with URIs' user info and every one of ``secrets`` replaced by ``***``."""
    text = redact_uri(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def read_password_file(path: Path) -> str:
    """The first line of ``path``, stripped.

    Raises:
        StoreError: the file cannot be read or holds no password (the message names the path).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise StoreError(f"cannot read the Neo4j password file {path}: {reason}") from None
    lines = text.strip().splitlines()
    if not lines or not lines[0].strip():
        raise StoreError(f"the Neo4j password file {path} is empty")
    return lines[0].strip()


def _is_loopback(uri: str) -> bool:
    try:
        host = urlsplit(uri).hostname
    except ValueError:
        return False
    return (host or "").lower() in _LOOPBACK


def neo4j_auth(uri: str, environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> tuple[str, str] | None:
    """``(user, password)`` for ``uri`` from the environment or a password file, or None.

    Args:
        uri: the Neo4j URI (decides whether the working directory's default file may be used).
        environ: the environment to read (default ``os.environ``).
        cwd: the directory the default file is under (default the working directory).

    Raises:
        StoreError: ``NEO4J_PASSWORD_FILE`` names a file that cannot be read or is empty.
    """
    env = os.environ if environ is None else environ
    user = env.get("NEO4J_USER") or DEFAULT_USER
    if env.get("NEO4J_PASSWORD"):
        return user, env["NEO4J_PASSWORD"]
    named = env.get("NEO4J_PASSWORD_FILE")
    if named:
        return user, read_password_file(Path(named))
    default = (cwd or Path.cwd()) / DEFAULT_PASSWORD_FILE
    if _is_loopback(uri) and default.is_file():
        return user, read_password_file(default)
    return None
