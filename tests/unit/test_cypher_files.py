"""Every Cypher file in cypher/ (top level, schema aside) is run by Neo4jStore (or the lease and vector
index modules beside it), and every name they run exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import graphcluster.store.neo4j as neo4j_store
import graphcluster.store.neo4j_lease as neo4j_lease
import graphcluster.store.neo4j_vectors as neo4j_vectors
from graphcluster.cypher_files import available, load

SOURCE = Path(neo4j_store.__file__).read_text(encoding="utf-8")
OTHERS = "".join(Path(m.__file__).read_text(encoding="utf-8") for m in (neo4j_lease, neo4j_vectors))
# statement names are the string literals the store passes to _run / _q (the other modules to
# execute / execute_write), plus the link files it maps to
_CALL = re.compile(r"""(?:_run|_q|_q_rows|execute|execute_write)\((?:tx,\s*)?["']([a-z_]+)["']""")


def referenced() -> set[str]:
    names = set(_CALL.findall(SOURCE + OTHERS))
    tree = ast.parse(SOURCE)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_LINK_FILE" for t in node.targets):
            names |= {v.value for v in node.value.values if isinstance(v, ast.Constant)}  # type: ignore[attr-defined]
    return names


def test_every_cypher_file_is_used_by_the_store() -> None:
    files = set(available()) - {"schema", "ping"}
    unused = files - referenced()
    assert not unused, f"cypher files no code runs: {sorted(unused)}"


def test_every_statement_the_store_runs_exists() -> None:
    names = referenced()
    assert len(names) > 30
    for name in names:
        text = load(name)
        assert text.strip(), name


def test_statements_take_values_as_parameters_only() -> None:
    # a '{' directly after a quote or '+' would betray string formatting; real statements use $params
    for name in referenced():
        text = load(name)
        assert "%s" not in text and "{}" not in text and "format(" not in text, name
        assert "$" in text or name in {"get_meta", "face_ids", "count_faces", "memberships_all", "get_clusters_all",
                                  "vector_index_info", "vector_index_drop", "vector_count", "vector_ids"}, name
