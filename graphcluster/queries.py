"""The investigation library: the catalogue of ``cypher/queries/`` and its typed parameters.

Every file of ``cypher/queries/`` is one read-only statement that starts with a header::

    // name: person_faces
    // answers: Every face of one person ... (may continue on further comment lines)
    // params:
    //   cluster: string - a cluster id, or the name a human gave the person
    //   limit: int = 500 - at most this many faces
    // example: graphcluster query person_faces -p cluster=Alice

Steps:

1. :func:`parse_query_header` reads the header into a :class:`QueryInfo`; each parameter has a
   type (``string``, ``int``, ``float``, ``bool``, ``datetime``) and is required unless it has a
   default (``null`` allowed). A malformed parameter line is an error, never skipped.
2. :func:`query_catalogue` parses every shipped file once (cached); :func:`get_query` looks one
   up by name and raises :class:`~graphcluster.errors.NotFound` listing the others.
3. :func:`bind_python_params` checks a Python caller's keyword arguments: unknown names,
   missing required ones and wrong types are :class:`~graphcluster.errors.InvalidInput` naming
   the parameter; defaults fill the rest. ``datetime`` values go to Cypher as ISO-8601 strings
   (the statements call ``datetime($since)``).
4. :func:`bind_query_params` does the same for the command line's ``key=value`` strings: it
   converts each string by the declared type, then binds as in step 3.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from graphcluster import cypher_files
from graphcluster.errors import InvalidInput, NotFound

__all__ = [
    "TYPES",
    "QueryInfo",
    "QueryParam",
    "bind_python_params",
    "bind_query_params",
    "get_query",
    "parse_query_header",
    "query_catalogue",
]

TYPES = ("string", "int", "float", "bool", "datetime")

_PARAM_LINE = re.compile(r"^(\w+):\s*(\w+)\s*(?:=\s*(\S+))?\s*-\s*(.*)$")
_MISSING = object()  # "no acceptable value yet" (None is a valid one)
_BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


@dataclass(frozen=True)
class QueryParam:
    """One parameter of a query, as its header declares it.

    Attributes:
        name: the ``$name`` the statement uses.
        type: one of :data:`TYPES`.
        required: True when the header gives no default.
        default: the value used when the caller gives none (None for ``= null``).
        help: the header's description.
    """

    name: str
    type: str
    required: bool
    default: Any
    help: str


@dataclass(frozen=True)
class QueryInfo:
    """A query of ``cypher/queries/``, described by its header comment."""

    name: str
    answers: str
    params: tuple[QueryParam, ...]
    example: str

    def param_names(self) -> str:
        """The parameter names, comma-separated (for error messages)."""
        return ", ".join(p.name for p in self.params) or "none"


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def _from_text(kind: str, raw: str) -> Any:
    """A header default or a ``-p`` value, converted by the declared type (``null`` is None)."""
    if raw == "null":
        return None
    if kind == "string":
        return raw
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        if raw.lower() not in _BOOL_WORDS:
            raise ValueError(f"{raw!r} is not one of {', '.join(_BOOL_WORDS)}")
        return _BOOL_WORDS[raw.lower()]
    return _iso(datetime.fromisoformat(raw))  # Python 3.11 reads a trailing Z as UTC


def _iso(value: date) -> str:
    return value.isoformat()


def parse_query_header(name: str, text: str) -> QueryInfo:
    """Read ``// name:``, ``// answers:``, ``// params:`` and ``// example:`` from a query file.

    Args:
        name: the file name without extension.
        text: the file's text.

    Returns:
        The query's description.

    Raises:
        InvalidInput: a parameter line that does not read ``name: type [= default] - help``, an
            unknown type, or a default that is not of its type.
    """
    answers: list[str] = []
    params: list[QueryParam] = []
    example = ""
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("//"):
            break  # the header ends at the first line of Cypher
        body = line[2:].strip()
        if body.startswith("answers:"):
            section, answers = "answers", [body[len("answers:"):].strip()]
        elif body.startswith("params:"):
            section = "params"
        elif body.startswith("example:"):
            section, example = "example", body[len("example:"):].strip()
        elif body.startswith("name:"):
            section = "name"
        elif section == "answers" and body:
            answers.append(body)
        elif section == "params" and body:
            params.append(_parse_param(name, number, body))
    return QueryInfo(name, " ".join(answers), tuple(params), example)


def _parse_param(query: str, number: int, body: str) -> QueryParam:
    where = f"cypher/queries/{query}.cypher, line {number}"
    m = _PARAM_LINE.match(body)
    if not m:
        raise InvalidInput(f"{where}: {body!r} is not a parameter line; write `//   name: type [= default] - help`")
    pname, kind, default, helptext = m.groups()
    if kind not in TYPES:
        raise InvalidInput(f"{where}: parameter {pname!r} has type {kind!r}; use one of {', '.join(TYPES)}")
    try:
        value = None if default is None else _from_text(kind, default)
    except ValueError as exc:
        raise InvalidInput(f"{where}: default {default!r} of {pname!r} is not {_article(kind)} {kind} ({exc})") from None
    return QueryParam(pname, kind, default is None, value, helptext.strip())


@cache
def _catalogue() -> tuple[QueryInfo, ...]:
    out = []
    for full in cypher_files.available("queries"):
        short = full.split("/", 1)[1]
        out.append(parse_query_header(short, cypher_files.load(full)))
    return tuple(out)


def query_catalogue() -> dict[str, QueryInfo]:
    """Every query of ``cypher/queries/`` with its header, by name (sorted)."""
    return {q.name: q for q in _catalogue()}


def get_query(name: str) -> QueryInfo:
    """The query called ``name``.

    Raises:
        NotFound: no such query; the message lists the available names.
    """
    catalogue = query_catalogue()
    if name not in catalogue:
        raise NotFound(f"no query named {name!r}; available: {', '.join(catalogue)}")
    return catalogue[name]


def _check_type(info: QueryInfo, p: QueryParam, value: Any) -> Any:
    """``value`` as the driver should get it, or InvalidInput saying what was expected."""
    if value is None:
        if p.required or p.default is not None:
            what = "is required" if p.required else f"defaults to {p.default!r}; leave it out instead"
            raise InvalidInput(f"parameter {p.name}=None of query {info.name!r}: {p.name} {what}", ids=[p.name])
        return None
    ok: Any = _MISSING
    if p.type == "string" and isinstance(value, str):
        ok = value
    elif p.type == "int" and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        ok = int(value)  # numpy integers become plain ints the driver can send
    elif p.type == "float" and isinstance(value, numbers.Real) and not isinstance(value, bool):
        ok = float(value)
    elif p.type == "bool" and isinstance(value, bool):
        ok = value
    elif p.type == "datetime":
        if isinstance(value, (datetime, date)):
            ok = _iso(value)
        elif isinstance(value, str):
            try:
                ok = _from_text("datetime", value)
            except ValueError:
                pass
    if ok is _MISSING:
        hint = " (an ISO-8601 time such as 2024-05-01T00:00:00Z, or a datetime)" if p.type == "datetime" else ""
        raise InvalidInput(
            f"parameter {p.name}={value!r} of query {info.name!r} is not {_article(p.type)} {p.type}{hint}: {p.help}",
            ids=[p.name],
        )
    return ok



def bind_python_params(info: QueryInfo, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check keyword arguments against the query's header and fill in the defaults.

    Args:
        info: the query (from :func:`get_query` or :func:`query_catalogue`).
        params: the caller's values by parameter name.

    Returns:
        Every declared parameter with a value the driver can send (ints, floats, strings,
        bools, None; datetimes as ISO-8601 strings).

    Raises:
        InvalidInput: an unknown or missing parameter, or a value of the wrong type; the
            message names it and lists the parameters the query takes.
    """
    known = {p.name: p for p in info.params}
    unknown = [k for k in params if k not in known]
    if unknown:
        raise InvalidInput(
            f"query {info.name!r} has no parameter {', '.join(map(repr, unknown))}; it takes: {info.param_names()}",
            ids=unknown,
        )
    missing = [p.name for p in info.params if p.required and p.name not in params]
    if missing:
        detail = "; ".join(f"{m} ({known[m].type}: {known[m].help})" for m in missing)
        raise InvalidInput(f"query {info.name!r} needs {detail}; it takes: {info.param_names()}", ids=missing)
    return {p.name: _check_type(info, p, params[p.name]) if p.name in params else p.default for p in info.params}


def bind_query_params(info: QueryInfo, given: Sequence[str]) -> dict[str, Any]:
    """Turn the command line's ``key=value`` strings into typed parameters, with the defaults.

    ``null`` stands for None (accepted where the header's default is ``null``).

    Raises:
        InvalidInput: a string that is not ``key=value``, an unknown or missing parameter
            (named as ``-p key=...``), or a value that does not convert to its type.
    """
    known = {p.name: p for p in info.params}
    values: dict[str, Any] = {}
    for item in given:
        key, sep, raw = item.partition("=")
        if not sep:
            raise InvalidInput(f"parameter {item!r} is not key=value (e.g. -p cluster=Alice)")
        if key not in known:
            raise InvalidInput(f"query {info.name!r} has no parameter {key!r}; it takes: {info.param_names()}", ids=[key])
        kind = known[key].type
        try:
            values[key] = _from_text(kind, raw)
        except ValueError:
            raise InvalidInput(f"parameter {key}={raw!r} is not {_article(kind)} {kind}: {known[key].help}", ids=[key]) from None
    missing = [p.name for p in info.params if p.required and p.name not in values]
    if missing:
        raise InvalidInput(f"query {info.name!r} needs " + ", ".join(f"-p {m}=..." for m in missing), ids=missing)
    return bind_python_params(info, values)

