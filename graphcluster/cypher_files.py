"""Load the Cypher statements shipped in ``cypher/`` (installed as ``graphcluster.cypher``).

Every query graphcluster runs is a file; none is built from user input.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["load", "schema_statements", "available"]


@cache
def load(name: str) -> str:
    """Return the text of ``cypher/<name>.cypher`` (``name`` may contain ``queries/``)."""
    path = resources.files("graphcluster.cypher").joinpath(f"{name}.cypher")
    if not path.is_file():
        raise FileNotFoundError(f"no Cypher file named {name!r} (looked for cypher/{name}.cypher)")
    return path.read_text(encoding="utf-8")


def available(folder: str = "") -> list[str]:
    """Names of the ``.cypher`` files in ``cypher/`` (or a sub-folder), without extension."""
    base = resources.files("graphcluster.cypher")
    if folder:
        base = base.joinpath(folder)
    prefix = f"{folder}/" if folder else ""
    return sorted(prefix + p.name[: -len(".cypher")] for p in base.iterdir() if p.name.endswith(".cypher"))


def schema_statements() -> list[str]:
    """The DDL statements of ``cypher/schema.cypher``, split on ``;`` with comments removed."""
    text = load("schema")
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith("//")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
