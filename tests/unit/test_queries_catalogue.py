"""The investigation library's catalogue (``graphcluster.queries``): headers and parameter binding.

Pure: the shipped ``cypher/queries/*.cypher`` files are read, nothing runs against a database
(tests/integration/test_queries.py runs every query on a real Neo4j).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import numpy as np
import pytest

from graphcluster import cypher_files
from graphcluster.errors import InvalidInput, NotFound
from graphcluster.queries import (
    TYPES,
    QueryInfo,
    bind_python_params,
    bind_query_params,
    get_query,
    parse_query_header,
    query_catalogue,
)

SHIPPED = [name.split("/", 1)[1] for name in cypher_files.available("queries")]


def test_the_catalogue_holds_every_shipped_file() -> None:
    assert SHIPPED, "cypher/queries/ ships no query"
    assert list(query_catalogue()) == sorted(SHIPPED)


@pytest.mark.parametrize("short", SHIPPED)
def test_every_query_has_a_complete_typed_header(short: str) -> None:
    text = cypher_files.load(f"queries/{short}")
    assert text.startswith(f"// name: {short}\n")
    assert re.search(r"^// answers: \S", text, re.MULTILINE), "no `// answers:` line"
    info = parse_query_header(short, text)
    assert info.answers.endswith((".", "?")), info.answers  # the whole sentence, continuation lines included
    assert info.example.startswith(f"graphcluster query {short}")
    declared = [p.name for p in info.params]
    assert len(declared) == len(set(declared))
    assert set(re.findall(r"\$(\w+)", text)) == set(declared)  # every $param declared, none unused
    for p in info.params:
        assert p.type in TYPES and p.help
        if not p.required and p.default is not None:  # a default is of its own type
            assert bind_python_params(info, {**_required(info), p.name: p.default})[p.name] == p.default
    body = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("//")]
    assert body and ";" not in "\n".join(body)  # one statement


@pytest.mark.parametrize("short", SHIPPED)
def test_the_example_binds(short: str) -> None:
    info = get_query(short)
    example = info.example.split()
    given = [example[i + 1] for i, word in enumerate(example) if word == "-p"]
    values = bind_query_params(info, given)
    assert set(values) == {p.name for p in info.params}


def _required(info: QueryInfo) -> dict[str, object]:
    sample = {"string": "x", "int": 1, "float": 0.5, "bool": True, "datetime": "2024-05-01T00:00:00Z"}
    return {p.name: sample[p.type] for p in info.params if p.required}


def test_get_query_names_the_available_ones() -> None:
    assert get_query("person_faces").name == "person_faces"
    with pytest.raises(NotFound, match="no query named 'nope'; available: .*person_faces"):
        get_query("nope")


# -- Python callers -------------------------------------------------------------------------------


def test_python_params_fill_defaults_and_normalise_types() -> None:
    q = query_catalogue()
    assert bind_python_params(q["person_faces"], {"cluster": "Alice"}) == {"cluster": "Alice", "limit": 500}
    bound = bind_python_params(q["similar_across_clusters"], {"face": "7", "max_distance": 1, "limit": np.int64(3)})
    assert bound == {"face": "7", "max_distance": 1.0, "limit": 3}
    assert type(bound["limit"]) is int and type(bound["max_distance"]) is float  # plain types for the driver
    since = datetime(2024, 5, 1, tzinfo=UTC)
    assert bind_python_params(q["changed_since"], {"since": since})["since"] == "2024-05-01T00:00:00+00:00"
    assert bind_python_params(q["changed_since"], {"since": "2024-05-01T00:00:00Z"})["since"] == "2024-05-01T00:00:00+00:00"
    assert bind_python_params(q["changed_since"], {"since": date(2024, 5, 1)})["since"] == "2024-05-01"
    assert bind_python_params(q["cluster_bridges"], {"cluster_a": "a", "cluster_b": None})["cluster_b"] is None


def test_python_params_refuse_unknown_missing_and_mistyped() -> None:
    q = query_catalogue()
    with pytest.raises(InvalidInput, match=r"has no parameter 'who'; it takes: cluster, limit") as err:
        bind_python_params(q["person_faces"], {"cluster": "a", "who": "x"})
    assert err.value.ids == ["who"]
    with pytest.raises(InvalidInput, match=r"needs cluster \(string: .*\); it takes: cluster, limit"):
        bind_python_params(q["person_faces"], {"limit": 3})
    with pytest.raises(InvalidInput, match=r"parameter limit='ten' of query 'person_faces' is not an int"):
        bind_python_params(q["person_faces"], {"cluster": "a", "limit": "ten"})
    with pytest.raises(InvalidInput, match="is not an int"):
        bind_python_params(q["person_faces"], {"cluster": "a", "limit": True})  # a bool is not a count
    with pytest.raises(InvalidInput, match="is not a string"):
        bind_python_params(q["similar_across_clusters"], {"face": 1234})
    with pytest.raises(InvalidInput, match="is not a datetime .*ISO-8601"):
        bind_python_params(q["changed_since"], {"since": "last tuesday"})
    with pytest.raises(InvalidInput, match="limit defaults to 500; leave it out"):
        bind_python_params(q["person_faces"], {"cluster": "a", "limit": None})
    with pytest.raises(InvalidInput, match="cluster is required"):
        bind_python_params(q["person_faces"], {"cluster": None})


# -- command-line strings -------------------------------------------------------------------------


def test_cli_strings_are_typed_with_defaults() -> None:
    q = query_catalogue()
    assert bind_query_params(q["person_faces"], ["cluster=Alice"]) == {"cluster": "Alice", "limit": 500}
    assert bind_query_params(q["similar_across_clusters"], ["face=7", "max_distance=0.4", "limit=3"]) == {
        "face": "7", "max_distance": 0.4, "limit": 3}
    assert bind_query_params(q["changed_since"], ["since=2024-05-01T00:00:00Z"])["since"] == "2024-05-01T00:00:00+00:00"
    assert bind_query_params(q["cluster_bridges"], ["cluster_a=a", "cluster_b=null"])["cluster_b"] is None
    assert bind_query_params(q["person_faces"], ["cluster=a=b"])["cluster"] == "a=b"  # split at the first =


def test_cli_strings_errors_name_the_parameter() -> None:
    q = query_catalogue()
    with pytest.raises(InvalidInput, match="needs -p cluster="):
        bind_query_params(q["person_faces"], [])
    with pytest.raises(InvalidInput, match="has no parameter 'who'; it takes: cluster, limit"):
        bind_query_params(q["person_faces"], ["who=x"])
    with pytest.raises(InvalidInput, match=r"parameter limit='many' is not an int: at most this many faces"):
        bind_query_params(q["person_faces"], ["cluster=a", "limit=many"])
    with pytest.raises(InvalidInput, match="not key=value"):
        bind_query_params(q["person_faces"], ["cluster"])
    with pytest.raises(InvalidInput, match="limit defaults to 500"):
        bind_query_params(q["person_faces"], ["cluster=a", "limit=null"])


# -- malformed headers ----------------------------------------------------------------------------


HEADER = """// name: q
// answers: Who? Said over
//          two lines.
// params:
{param}
// example: graphcluster query q
MATCH (n) RETURN n
"""


def test_a_good_header_parses() -> None:
    info = parse_query_header("q", HEADER.format(param="//   flag: bool = yes - a switch"))
    assert info.answers == "Who? Said over two lines."
    (p,) = info.params
    assert (p.name, p.type, p.required, p.default, p.help) == ("flag", "bool", False, True, "a switch")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("//   limit int - no colon", r"q\.cypher, line 5: .* is not a parameter line"),
        ("//   limit: integer = 5 - wrong type", "has type 'integer'; use one of string, int"),
        ("//   limit: int = many - bad default", "default 'many' of 'limit' is not an int"),
    ],
)
def test_a_malformed_parameter_line_is_an_error(line: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_query_header("q", HEADER.format(param=line))
