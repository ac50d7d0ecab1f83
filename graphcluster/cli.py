"""The ``graphcluster`` command line: a thin mirror of the Python API.

Each command opens the facade (:class:`graphcluster.GraphCluster`) on ``--store`` and calls the
method of the same name; library errors become one-line ``click`` errors (tracebacks only with
``--debug``); ``--json`` prints machine-readable output for every command; long work shows a
progress bar on stderr. This module reads ``GRAPHCLUSTER_STORE``, ``NEO4J_USER``,
``NEO4J_PASSWORD`` and ``GRAPHCLUSTER_BY`` through click's ``envvar``; without a password, the
Neo4j store finds one itself (``NEO4J_PASSWORD_FILE`` or a local server's password file:
:mod:`graphcluster.credentials`).

Layout: global options and error handling; reading commands (status, clusters, show,
decisions, export); ingest; human decisions; the interactive review loop; cleanup; the Cypher
investigation library (``query``: the catalogue and parameter binding live in
:mod:`graphcluster.queries`; ``browser-files``: the server lives in
:mod:`graphcluster.browser_files`); the review page (``serve``: :mod:`graphcluster.web`); the demo (a thin wrapper of :func:`graphcluster.demo.run_demo`).
"""

from __future__ import annotations

import csv
import dataclasses
import getpass
import io
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np

from graphcluster import queries
from graphcluster.credentials import neo4j_auth
from graphcluster.demo import DEMO_STORE, run_demo, summary_lines
from graphcluster.errors import GraphClusterError, InvalidInput, NotFound
from graphcluster.models import Decision, ReviewItem
from graphcluster.readers import read_faces
from graphcluster.targets import is_neo4j_uri

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_STORE = "./graphcluster-data"


# -- global state, output and errors -----------------------------------------------------------


@dataclasses.dataclass
class State:
    """What the group's options decided; every command reads it from ``ctx.obj``."""

    store: str = DEFAULT_STORE
    user: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)  # never printed
    as_json: bool = False
    debug: bool = False
    by: str | None = None
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    store_given: bool = False  # --store or GRAPHCLUSTER_STORE was set (the demo then uses it)

    def open(self, target: str | None = None) -> Any:
        """Open the facade on ``target`` (default: ``--store``)."""
        from graphcluster.engine import GraphCluster  # the engine pulls in numpy/annoy/neo4j: load on use
        from graphcluster.settings import Settings

        try:
            settings = Settings(**self.settings)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            errors: list[dict[str, Any]] = getattr(exc, "errors", lambda: [])()
            detail = "; ".join(
                f"{'.'.join(map(str, e.get('loc', ()))) or '?'}: {e.get('msg')} (got {e.get('input')!r})" for e in errors
            ) or _first_line(exc)
            raise InvalidInput(f"bad --set value: {detail}; see `help(graphcluster.Settings)` for the fields") from exc
        where = target or self.store
        auth = None
        if is_neo4j_uri(where):
            found = (self.user or "neo4j", self.password) if self.password else neo4j_auth(where)
            auth = (self.user or found[0], found[1]) if found else None
        return GraphCluster.open(where, settings=settings, auth=auth)


_LONG_WORD = re.compile(r"\S{120,}")


def _first_line(exc: BaseException) -> str:
    """The error as one line; a very long word (a 10,000-character id, say) is shortened."""
    text = " ".join(str(exc).split())
    text = _LONG_WORD.sub(lambda m: f"{m.group()[:40]}...({len(m.group())} characters)", text)
    return text or type(exc).__name__


class _Refused(click.ClickException):
    """Bad input refused by the library (an argument, an id, a file's content): exit code 2,
    as click's own usage errors; other errors (the store, the server) exit with 1."""

    exit_code = 2


class _Group(click.Group):
    """Turns library errors into one-line click errors, unless ``--debug``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            state = ctx.obj if isinstance(ctx.obj, State) else None
            if state is not None and state.debug:
                raise
            if isinstance(exc, (InvalidInput, NotFound)):
                raise _Refused(_first_line(exc)) from None
            if isinstance(exc, GraphClusterError):
                raise click.ClickException(_first_line(exc)) from None
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {_first_line(exc)} (run with --debug for the traceback)"
            ) from None


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "iso_format"):  # neo4j.time temporal types
        return value.iso_format()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if hasattr(value, "items"):  # neo4j Node / Relationship: their properties
        return dict(value.items())
    return str(value)


def emit(state: State, data: Any, text: Callable[[], None] | str | None = None) -> None:
    """Print ``data`` as JSON with ``--json``, else the human form (a string or a printer)."""
    if state.as_json:
        click.echo(json.dumps(data, default=_jsonable, indent=2, sort_keys=False))
    elif callable(text):
        text()
    elif text is not None:
        click.echo(text)


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a click progress bar on stderr."""
    bar: Any = None
    shown = 0

    def update(done: int, total: int) -> None:
        nonlocal bar, shown
        if not enabled:
            return
        if bar is None:
            bar = click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
            bar.__enter__()
        if done > shown:
            bar.update(done - shown)
            shown = done

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def _fmt_time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else str(value or "")


def _describe_decision(d: Decision) -> str:
    parts = [d.id, d.kind, d.a] + ([d.b] if d.b else [])
    if d.kind == "name" and d.data.get("name"):
        parts.append(repr(d.data["name"]))
    line = "  ".join(parts) + f"  by {d.by or '?'} at {_fmt_time(d.at)}"
    if d.reason:
        line += f"  ({d.reason})"
    return line + ("  [undone]" if d.undone else "")


def pass_state(f: F) -> F:
    return click.pass_obj(f)  # type: ignore[return-value]


def _parse_settings(values: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE (e.g. --set threshold=0.4)", param_hint="--set")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--store",
    envvar="GRAPHCLUSTER_STORE",
    default=DEFAULT_STORE,
    show_default=True,
    metavar="DIR|URI",
    help="A directory (embedded store, created if missing) or a bolt:// / neo4j:// URI. Env: GRAPHCLUSTER_STORE.",
)
@click.option("--user", envvar="NEO4J_USER", default=None, help="Neo4j user (default neo4j). Env: NEO4J_USER.")
@click.option(
    "--password",
    envvar="NEO4J_PASSWORD",
    default=None,
    show_default=False,
    help="Neo4j password; never printed. Env: NEO4J_PASSWORD; without it, the file NEO4J_PASSWORD_FILE names, "
    "or ./var/neo4j/neo4j.password for a local server (scripts/neo4j writes it).",
)
@click.option("--by", envvar="GRAPHCLUSTER_BY", default=None, help="Who records decisions (default: your login). Env: GRAPHCLUSTER_BY.")
@click.option("--set", "set_", multiple=True, metavar="KEY=VALUE", help="A Settings field, e.g. --set threshold=0.4 --set k=15.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="graphcluster")
@click.pass_context
def cli(
    ctx: click.Context,
    store: str,
    user: str | None,
    password: str | None,
    by: str | None,
    set_: tuple[str, ...],
    as_json: bool,
    debug: bool,
) -> None:
    """Incremental, high-precision face clustering on a graph.

    Faces go in with `ingest`; people come out as clusters (`clusters`, `show`, `export`);
    humans correct them (`same`, `different`, `assign`, `remove`, `merge`, `lock`, `name`,
    `review`) and no later batch ever undoes what they said. Start with `graphcluster demo`.
    """
    ctx.obj = State(store=store, user=user, password=password, as_json=as_json, debug=debug, by=by)
    ctx.obj.settings = _parse_settings(set_)
    if not debug:  # the driver logs every server notification (unknown property, ...) as a warning
        logging.getLogger("neo4j").setLevel(logging.ERROR)
    source = ctx.get_parameter_source("store")
    ctx.obj.store_given = source not in (None, click.core.ParameterSource.DEFAULT)


def _who(state: State) -> str | None:
    if state.by:
        return state.by
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers; the decision is still recorded
        return None


# -- store and reading commands -----------------------------------------------------------------


@cli.command()
@click.option("--force", is_flag=True, help="Delete every face, cluster and decision already in the store.")
@click.option("--yes", is_flag=True, help="Do not ask before --force deletes.")
@pass_state
def init(state: State, force: bool, yes: bool) -> None:
    """Create the store (or check it answers) and show what it holds."""
    with state.open() as gc:
        if force and gc.stats().faces:
            if not yes and not state.as_json:
                click.confirm(f"Delete everything in {state.store}?", abort=True)
            gc.reset()
        stats = gc.stats()
    emit(state, {"store": state.store, "kind": stats.store, "faces": stats.faces, "clusters": stats.clusters},
         f"{stats.store} store ready at {state.store}: {stats.faces} faces, {stats.clusters} clusters")


@cli.command()
@pass_state
def status(state: State) -> None:
    """Counts, thresholds in use, open questions and the index state (`stats`)."""
    with state.open() as gc:
        s = gc.stats()

    def text() -> None:
        click.echo(f"store       {s.store} at {state.store}")
        click.echo(f"faces       {s.faces}  ({', '.join(f'{k} {v}' for k, v in s.by_status.items())})")
        click.echo(f"clusters    {s.clusters}  ({s.locked_clusters} locked)")
        click.echo(f"reviews     {s.open_reviews} open")
        click.echo(f"decisions   {s.decisions} active")
        th = s.thresholds
        shown = {k: v for k, v in th.items() if not isinstance(v, (dict, list))}
        click.echo("thresholds  " + (", ".join(f"{k}={_short(v)}" for k, v in shown.items()) or "not calibrated yet"))
        conf = th.get("confidence") or {}
        if conf:
            click.echo(f"calibration {conf['level']} confidence: {conf['why']}")
            if conf.get("fitted_at_faces"):
                click.echo(f"            last fitted at {conf['fitted_at_faces']:,} faces ({conf.get('fitted_at')}, "
                           f"{conf.get('refits')} re-fits): {conf.get('refit_reason')}")
            if conf["level"] == "low":
                click.echo("            -> answer a few same-person questions: graphcluster review --calibration "
                           "(or set the link distance: --threshold)")
        click.echo("index       " + ", ".join(f"{k}={_short(v)}" for k, v in s.index.items() if not isinstance(v, (dict, list))))
        if s.interrupted_add:
            i = s.interrupted_add
            click.echo(f"interrupted add_faces call {i['batch']} (started {i['started_at']}): {i['stored']} of "
                       f"{i['faces']} faces stored, {i['missing']} missing -> send that call again to complete it")

    emit(state, s, text)


@cli.command()
@click.argument("store", required=False)
@pass_state
def check(state: State, store: str | None) -> None:
    """Check that a database is sound (exit 1 when it is not); STORE defaults to --store.

    Reads the whole database, changes nothing (opening it repairs what a crash left half-done).
    """
    with state.open(store) as gc:
        report = gc.check()

    def text() -> None:
        click.echo(f"{report.faces} faces, {report.clusters} clusters, {report.decisions} active decisions "
                   f"checked in {report.seconds:.1f} s: " + ("sound" if report.ok else f"{len(report.problems)} problems"))
        for line in report.problems:
            click.echo(f"problem: {line}")
        for line in report.notes:
            click.echo(f"note: {line}")

    emit(state, report, text)
    if not report.ok:
        sys.exit(1)


cli.add_command(status, name="stats")


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


@cli.command()
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most this many (largest first).")
@click.option("--min-size", type=click.IntRange(min=1), default=1, show_default=True, help="Hide smaller clusters.")
@pass_state
def clusters(state: State, limit: int | None, min_size: int) -> None:
    """List clusters (people), largest first."""
    with state.open() as gc:
        rows = [c for c in gc.clusters() if c.size >= min_size][:limit]

    def text() -> None:
        if not rows:
            click.echo("no clusters")
        for c in rows:
            flags = ("locked " if c.locked else "") + (repr(c.name) if c.name else "")
            click.echo(f"{c.id}  {c.size:>5} faces  {flags}".rstrip())

    emit(state, rows, text)


def _photo(face: Any) -> str | None:
    return face.image or face.source or None


@cli.command()
@click.argument("item")
@click.option("--members", type=click.IntRange(min=0), default=20, show_default=True, help="Members listed for a cluster.")
@click.option("--face", "as_face", is_flag=True, help="ITEM is a face id (when a cluster has the same id).")
@pass_state
def show(state: State, item: str, members: int, as_face: bool) -> None:
    """Show a cluster (record, members, decisions) or a face (photo, cluster, neighbours).

    ITEM is looked up as a cluster first; --face looks it up as a face only.
    """
    with state.open() as gc:
        try:
            if as_face:
                raise NotFound(item)
            info = gc.cluster(item)
            kind = "cluster"
            photos = {m["face_id"]: _photo(gc.face(m["face_id"])["face"]) for m in info["members"][:members]}
        except NotFound:
            try:
                info = gc.face(item)
            except NotFound:
                raise NotFound(f"no face with id {item!r}" if as_face else
                               f"no cluster or face with id {item!r}; `graphcluster clusters` lists clusters") from None
            kind, photos = "face", {}
    if kind == "cluster":
        for m in info["members"]:
            if m["face_id"] in photos:
                m["photo"] = photos[m["face_id"]]
    data = {"kind": kind, **info}

    def text() -> None:
        if kind == "cluster":
            c = info["cluster"]
            click.echo(f"cluster {c.id}" + (f" {c.name!r}" if c.name else "") + f": {c.size} faces"
                       + (", locked" if c.locked else "") + f", updated {_fmt_time(c.updated_at)}")
            for m in info["members"][:members]:
                click.echo(f"  {m['face_id']:<20} {m['status']:<7} {m['confidence']:.2f}  {m.get('photo') or ''}".rstrip())
            if len(info["members"]) > members:
                click.echo(f"  ... {len(info['members']) - members} more (--members N)")
        else:
            f, mem = info["face"], info["membership"]
            click.echo(f"face {f.id}: cluster {mem.cluster_id or '-'} ({mem.status}, confidence {mem.confidence:.2f})")
            if _photo(f):
                click.echo(f"  photo   {_photo(f)}")
            if f.bbox:
                click.echo(f"  bbox    {f.bbox}")
            for k, v in sorted(f.metadata.items()):
                click.echo(f"  {k:<7} {v}")
            click.echo("  neighbours:")
            for n in info["neighbours"][:10]:
                click.echo(f"    {n['face_id']:<20} distance {n['distance']:.3f}")
        if info["decisions"]:
            click.echo("decisions:")
            for d in info["decisions"]:
                click.echo("  " + _describe_decision(d))

    emit(state, data, text)


@cli.command()
@click.option("--face", default=None, help="Only decisions about this face.")
@click.option("--cluster", default=None, help="Only decisions about this cluster.")
@pass_state
def decisions(state: State, face: str | None, cluster: str | None) -> None:
    """List human decisions, oldest first (undone ones flagged)."""
    with state.open() as gc:
        rows = gc.decisions(face_id=face, cluster_id=cluster)

    def text() -> None:
        if not rows:
            click.echo("no decisions")
        for d in rows:
            click.echo(_describe_decision(d))

    emit(state, rows, text)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default=None, help="Default: csv (json with --json).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None, help="Write here instead of stdout.")
@pass_state
def export(state: State, fmt: str | None, output: Path | None) -> None:
    """Export every face's cluster, status and confidence (`assignments`)."""
    fmt = fmt or ("json" if state.as_json else "csv")
    with state.open() as gc:
        detail = gc.assignments(detail=True)
        names = {c.id: c.name for c in gc.clusters()}
    rows = [
        {"face_id": f, "cluster_id": a.cluster_id, "cluster_name": names.get(a.cluster_id) if a.cluster_id else None,
         "status": a.status, "confidence": round(float(a.confidence), 6)}
        for f, a in sorted(detail.items())
    ]
    if fmt == "json":
        body = json.dumps(rows, indent=2) + "\n"
    else:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["face_id", "cluster_id", "cluster_name", "status", "confidence"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        body = buf.getvalue()
    if output is None:
        click.echo(body, nl=False)
    else:
        output.write_text(body, encoding="utf-8")
        emit(state, {"written": str(output), "faces": len(rows), "format": fmt}, f"wrote {len(rows)} faces to {output}")


# -- ingest ---------------------------------------------------------------------------------


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id-column", default="id", show_default=True, help="Id column of .csv/.jsonl/.parquet (or of a sidecar).")
@click.option("--vector-column", default=None, help="Column holding the vector as a list (default: vector/embedding/..., or v0..vN).")
@click.option("--sidecar", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="For one .npy: ids (.txt) or ids + metadata (.csv/.jsonl), one row per vector.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Faces per add_faces call (a first import of at least Settings.bootstrap_min faces into an empty "
              "database goes in one call).")
@pass_state
def ingest(state: State, files: tuple[Path, ...], id_column: str, vector_column: str | None, sidecar: Path | None, batch_size: int) -> None:
    """Add faces from .npy/.npz/.csv/.jsonl/.parquet files (`add_faces`); re-sending is harmless."""
    if sidecar is not None and len(files) != 1:
        raise click.UsageError("--sidecar goes with exactly one .npy file")
    tables = [(p, read_faces(p, id_column=id_column, vector_column=vector_column, sidecar=sidecar)) for p in files]
    results = []
    with state.open() as gc:
        for path, (ids, vectors, metadata) in tables:
            totals: dict[str, Any] = {"file": str(path), "faces": len(ids), "added": 0, "skipped": 0, "skipped_changed": [], "clusters_created": 0,
                      "clusters_changed": 0, "reviews_opened": 0, "seconds": 0.0}
            # a first import goes in one call: clustered in one pass over the whole kNN graph
            first = bool(gc.settings.bootstrap_min) and len(ids) >= gc.settings.bootstrap_min and gc.store.count_faces() == 0
            step = len(ids) if first else batch_size
            with progress_bar(f"{path.name}", enabled=True) as progress:
                for start in range(0, len(ids), step):
                    stop = min(start + step, len(ids))
                    r = gc.add_faces(vectors[start:stop], ids=ids[start:stop], metadata=metadata[start:stop],
                                     progress=(lambda done, total: progress(done * len(ids) // max(total, 1), len(ids)))
                                     if first else None)
                    for key in ("added", "clusters_created", "clusters_changed", "reviews_opened"):
                        totals[key] += getattr(r, key)
                    totals["skipped"] += len(r.skipped)
                    totals["skipped_changed"] += r.skipped_changed
                    totals["seconds"] += r.seconds
                    progress(stop, len(ids))
            results.append(totals)
        stats = gc.stats()
    summary = {"files": results, "faces": stats.faces, "clusters": stats.clusters, "open_reviews": stats.open_reviews}

    def text() -> None:
        for r in results:
            click.echo(f"{r['file']}: {r['added']} added, {r['skipped']} already stored, {r['clusters_created']} new clusters, "
                       f"{r['clusters_changed']} changed, {r['reviews_opened']} questions ({r['seconds']:.1f} s)")
            if r["skipped_changed"]:
                shown = ", ".join(repr(x) for x in r["skipped_changed"][:5]) + (" ..." if len(r["skipped_changed"]) > 5 else "")
                click.echo(f"  warning: {len(r['skipped_changed'])} stored ids came with a different vector, which was not "
                           f"stored (the first vector of an id is kept): {shown}")
        click.echo(f"store: {stats.faces} faces in {stats.clusters} clusters, {stats.open_reviews} open questions")

    emit(state, summary, text)


@cli.command("ingest-photos")
@click.argument("db", metavar="DB")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.option("--detector", type=click.Choice(["hog", "cnn"]), default="hog", show_default=True,
              help="dlib's HOG frontal detector, or its CNN (finds more faces, far slower on a CPU).")
@pass_state
def ingest_photos(state: State, db: str, folder: Path, detector: str) -> None:
    """Detect the faces of the photos in FOLDER and add them to DB (`add_photos`).

    DB is a directory (embedded store) or a bolt:// URI. Each face gets a 150x150 crop beside
    the store and the id `<photo path in FOLDER>#x0,y0,x1,y1`. Running it again adds only new or
    changed photos; bad photos are listed with the reason and never stop the run.
    """
    with state.open(db) as gc:
        with progress_bar(f"{folder.name or folder}") as progress:
            report = gc.add_photos(folder, detector=detector, progress=progress)
        stats = gc.stats()
    summary = {**report.model_dump(mode="json"), "store": {"faces": stats.faces, "clusters": stats.clusters,
                                                           "open_reviews": stats.open_reviews}}

    def text() -> None:
        for p in report.photos:
            if p.outcome in ("skipped", "changed"):
                click.echo(f"{p.outcome}: {p.path}: {p.reason}")
        c = report.counts
        click.echo(f"{len(report.photos)} photos: {c.get('added', 0)} added ({report.faces_added} faces), "
                   f"{c.get('unchanged', 0)} unchanged, {c.get('changed', 0)} changed, {c.get('skipped', 0)} skipped "
                   f"({report.seconds:.1f} s)")
        click.echo(f"store: {stats.faces} faces in {stats.clusters} clusters, {stats.open_reviews} open questions")

    emit(state, summary, text)


# -- human decisions --------------------------------------------------------------------------

_reason = click.option("-r", "--reason", default=None, help="Why (kept in the audit trail).")


def _decided(state: State, d: Decision) -> None:
    emit(state, d, "recorded " + _describe_decision(d))


@cli.command()
@click.argument("a")
@click.argument("b")
@_reason
@pass_state
def same(state: State, a: str, b: str, reason: str | None) -> None:
    """Faces A and B are the same person (must-link, `same_person`)."""
    with state.open() as gc:
        _decided(state, gc.same_person(a, b, by=_who(state), reason=reason))


@cli.command()
@click.argument("a")
@click.argument("b")
@_reason
@pass_state
def different(state: State, a: str, b: str, reason: str | None) -> None:
    """Faces A and B are different people (cannot-link, `different_person`); splits at once."""
    with state.open() as gc:
        _decided(state, gc.different_person(a, b, by=_who(state), reason=reason))


@cli.command()
@click.argument("face")
@click.argument("cluster")
@_reason
@pass_state
def assign(state: State, face: str, cluster: str, reason: str | None) -> None:
    """Put FACE in CLUSTER by hand; it stays there."""
    with state.open() as gc:
        _decided(state, gc.assign(face, cluster, by=_who(state), reason=reason))


@cli.command()
@click.argument("face")
@_reason
@pass_state
def remove(state: State, face: str, reason: str | None) -> None:
    """FACE is not this person: take it out of its cluster for good."""
    with state.open() as gc:
        _decided(state, gc.remove(face, by=_who(state), reason=reason))


@cli.command()
@click.argument("cluster_a")
@click.argument("cluster_b")
@_reason
@pass_state
def merge(state: State, cluster_a: str, cluster_b: str, reason: str | None) -> None:
    """Clusters A and B are one person: merge them."""
    with state.open() as gc:
        _decided(state, gc.merge(cluster_a, cluster_b, by=_who(state), reason=reason))


@cli.command()
@click.argument("cluster")
@_reason
@pass_state
def lock(state: State, cluster: str, reason: str | None) -> None:
    """Verify CLUSTER: members stay together; it never merges on its own."""
    with state.open() as gc:
        _decided(state, gc.lock(cluster, by=_who(state), reason=reason))


@cli.command()
@click.argument("cluster")
@_reason
@pass_state
def unlock(state: State, cluster: str, reason: str | None) -> None:
    """Withdraw the verification of CLUSTER."""
    with state.open() as gc:
        _decided(state, gc.unlock(cluster, by=_who(state), reason=reason))


@cli.command()
@click.argument("cluster")
@click.argument("name")
@_reason
@pass_state
def name(state: State, cluster: str, name: str, reason: str | None) -> None:
    """Give CLUSTER a person's NAME."""
    if not name.strip():
        raise click.BadParameter("a name cannot be empty", param_hint="NAME")
    with state.open() as gc:
        _decided(state, gc.name(cluster, name, by=_who(state), reason=reason))


@cli.command()
@click.argument("decision_id")
@pass_state
def undo(state: State, decision_id: str) -> None:
    """Undo decision DECISION_ID (kept in the audit trail, flagged undone)."""
    with state.open() as gc:
        d = gc.undo(decision_id, by=_who(state))
    emit(state, d, "undone " + _describe_decision(d))


# -- review ------------------------------------------------------------------------------------

_ANSWERS = {"y": "yes", "yes": "yes", "n": "no", "no": "no", "s": "skip", "skip": "skip", "q": "quit", "quit": "quit"}


def _side(
    gc: Any, cluster_id: str | None, faces: Sequence[str], show: int, exclude: Sequence[str] = ()
) -> tuple[str, list[tuple[str, str | None]]]:
    """A title and up to ``show`` (face id, photo) rows for one side of a question."""
    title = f"{len(faces)} unassigned faces" if len(faces) != 1 else "a face"
    if cluster_id:
        try:
            info = gc.cluster(cluster_id)
            c = info["cluster"]
            title = f"cluster {c.id}" + (f" {c.name!r}" if c.name else "") + f", {c.size} faces"
            if not faces:  # the person's most confident members, not the face being asked about
                faces = [m["face_id"] for m in info["members"] if m["face_id"] not in exclude]
        except NotFound:
            title = f"cluster {cluster_id} (gone)"
    shown = []
    for fid in list(faces)[:show]:
        try:
            face = gc.face(fid)
            shown.append((fid, _photo(face["face"])))
            if len(faces) == 1 and not cluster_id:
                m = face["membership"]
                title = f"face {fid}, now " + (f"in {m.cluster_id} ({m.status})" if m.cluster_id else "unassigned")
        except NotFound:
            shown.append((fid, None))
    return title, shown


def _question(item: ReviewItem) -> str:
    if item.kind == "merge":
        return "Are A and B the same person?"
    if item.kind == "face":
        return "Is face A the person B?"
    if item.kind == "pair":
        return "Are faces A and B the same person?"
    if item.kind == "join":
        return "Which of the faces A are the person B?"
    if item.kind == "split":
        return "Is cluster A one person? (name the faces that do not belong)"
    return "Are these faces one (new) person?"


def _bulk_answer(raw: str, item: ReviewItem) -> tuple[str, list[str] | None]:
    """``y`` / ``n`` alone, or with the numbers of faces shown: ``n 3 7 12`` says "no" about
    faces 3, 7 and 12 and "yes" about the others (``y 1 2``: the other way round)."""
    word, *numbers = raw.split()
    choice = _ANSWERS.get(word.lower())
    if choice is None:
        raise click.BadParameter(f"{word!r} is not one of y / n / s / q (with face numbers after y or n)")
    if not numbers:
        return choice, None
    if choice not in ("yes", "no"):
        raise click.BadParameter(f"face numbers go after y or n, not after {word!r}")
    picked = []
    for n in numbers:
        if not n.isdigit() or not 1 <= int(n) <= len(item.faces_a):
            raise click.BadParameter(f"{n!r} is not the number of a face shown (1 to {len(item.faces_a)})")
        picked.append(item.faces_a[int(n) - 1])
    return choice, picked


@cli.command()
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many answers.")
@click.option("--show", type=click.IntRange(min=1), default=4, show_default=True, help="Faces shown per side.")
@click.option("--open", "open_images", is_flag=True, help="Open each side's photos with the system viewer.")
@click.option("--image-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory that relative photo paths are under (for --open).")
@click.option("--calibration", is_flag=True,
              help="Ask calibration questions (are these two faces the same person?) that place the link threshold.")
@pass_state
def review(state: State, limit: int | None, show: int, open_images: bool, image_root: Path | None,
           calibration: bool) -> None:
    """Answer review questions one by one: yes / no / skip / quit. Each answer is saved at once."""
    out = sys.stderr if state.as_json else sys.stdout
    log: list[dict[str, Any]] = []
    seen: set[str] = set()

    def say(msg: str = "") -> None:
        click.echo(msg, file=out)

    with state.open() as gc:
        while limit is None or len(log) < limit:
            if calibration:
                queue = [i for i in gc.calibration_questions(limit=1) if i.id not in seen]
            else:
                queue = [i for i in gc.review_queue(limit=max(20, len(seen) + 1)) if i.id not in seen]
            if not queue:
                say("no open questions")
                break
            item = queue[0]
            seen.add(item.id)
            say(f"\n[{item.kind}] {item.id}  priority {item.priority:.2f}  {_question(item)}")
            bulk = item.kind in ("join", "split", "new_identity")  # answered with a subset of the faces shown
            sides = [("A", item.cluster_a, item.faces_a)]
            if item.kind not in ("new_identity", "split"):
                sides.append(("B", item.cluster_b, item.faces_b))
            for label, cid, side_faces in sides:
                many = bulk and label == "A"  # every face of a bulk question is shown, numbered
                title, shown = _side(gc, cid if not many or item.kind == "split" else None, side_faces,
                                     len(side_faces) if many else show, exclude=item.faces_a if label == "B" else ())
                say(f"  {label}: {title}")
                for n, (fid, photo) in enumerate(shown, start=1):
                    say((f"  {n:>3}. " if many else "     ") + f"{fid:<20} {photo or ''}".rstrip())
                    if open_images and photo:
                        path = (image_root / photo) if image_root and not Path(photo).is_absolute() else Path(photo)
                        click.launch(str(path))
            faces: list[str] | None = None
            if bulk:
                def parse(raw: str, item: ReviewItem = item) -> tuple[str, list[str] | None]:
                    return _bulk_answer(raw, item)

                choice, faces = click.prompt("yes / no / skip / quit (y or n with face numbers: n 3 7 = those do not)",
                                             value_proc=parse, err=state.as_json)
            else:
                raw = click.prompt("yes / no / skip / quit", type=click.Choice(sorted(_ANSWERS), case_sensitive=False),
                                   show_choices=False, err=state.as_json)
                choice = _ANSWERS[raw.lower()]
            if choice == "quit":
                break
            name_given = None
            if choice == "yes" and item.kind == "new_identity":
                name_given = click.prompt("name (empty: none)", default="", show_default=False, err=state.as_json) or None
            decision = gc.answer(item.id, choice, name=name_given, by=_who(state), faces=faces)
            log.append({"item": item.id, "kind": item.kind, "answer": choice, "faces": faces,
                        "decision": decision.id if decision else None})
            say(f"  saved: {choice}" + (f" about {len(faces)} faces, the opposite about the rest" if faces else "")
                + (f" -> decision {decision.id}" if decision else ""))
            counts = gc.stats()
            ahead = gc.review_outlook()
            say(f"  progress: {len(log)} answered here, {ahead['open']:.0f} questions open, about "
                f"{ahead['faces_to_put_right']:.0f} faces still to put right, "
                f"{counts.by_status.get('review', 0)} faces tentative, {counts.by_status.get('unassigned', 0)} unassigned")
        remaining = len(gc.review_queue(limit=1000))
    summary = {"answered": sum(e["answer"] != "skip" for e in log), "skipped": sum(e["answer"] == "skip" for e in log),
               "remaining": remaining, "answers": log}
    emit(state, summary, f"\n{summary['answered']} answered, {summary['skipped']} skipped, {remaining} still open")


# -- cleanup -----------------------------------------------------------------------------------


@cli.command()
@pass_state
def cleanup(state: State) -> None:
    """Re-run the constraint-aware clustering over the whole graph; report what changed."""
    with state.open() as gc, progress_bar("cleanup") as progress:
        report = gc.cleanup(progress=progress)
    emit(state, report, f"{report.faces_moved} faces moved, {len(report.clusters_created)} clusters created, "
         f"{len(report.clusters_removed)} removed ({report.seconds:.1f} s)")


# -- the Cypher investigation library ----------------------------------------------------------


@cli.command()
@click.argument("name", required=False)
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="A query parameter (repeatable).")
@pass_state
def query(state: State, name: str | None, params: tuple[str, ...]) -> None:
    """Run investigation query NAME of cypher/queries/ (Neo4j only); without NAME, list them."""
    catalogue = queries.query_catalogue()
    if name is None:
        def listing() -> None:
            for q in catalogue.values():
                click.echo(f"{q.name}\n    {q.answers}")
                for p in q.params:
                    default = "" if p.required else f" (default {json.dumps(p.default)})"
                    click.echo(f"    -p {p.name}=<{p.type}>{default}  {p.help}")
        emit(state, [dataclasses.asdict(q) for q in catalogue.values()], listing)
        return
    values = queries.bind_query_params(queries.get_query(name), params)  # checked before any store opens
    with state.open() as gc:
        rows = gc.query(name, **values)

    def table() -> None:
        if not rows:
            click.echo("no rows")
            return
        cols = list(rows[0])
        click.echo("\t".join(cols))
        for r in rows:
            click.echo("\t".join(_cell(r.get(c)) for c in cols))

    emit(state, rows, table)


@cli.command("browser-files")
@click.option("--port", type=click.IntRange(1, 65535), default=8001, show_default=True, help="Port on localhost.")
@click.option("--browser-url", default="http://127.0.0.1:7474/browser/", show_default=True, help="Where Neo4j Browser is.")
@pass_state
def browser_files(state: State, port: int, browser_url: str) -> None:
    """Serve the Browser guide and style (cypher/browser/) on localhost, with CORS, until Ctrl-C.

    Neo4j Browser fetches `:play URL` and `:style URL` only from hosts in the server setting
    browser.remote_content_hostname_allowlist (Neo4j's default includes localhost).
    """
    from graphcluster import browser_files as files

    server = files.make_server(port, log=lambda line: click.echo(f"served {line}", err=True))
    links = files.urls(port)
    emit(state, {**links, "browser": browser_url},
         f"Open {browser_url} and run:\n  :play {links['guide']}\n  :style {links['style']}\n(Ctrl-C stops)")
    files.serve(server)


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@cli.command()
@click.argument("db", required=False, metavar="[DB]")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--password", "web_password", envvar="GRAPHCLUSTER_WEB_PASSWORD", default=None,
              help="A password for the page (HTTP basic; needed for any non-loopback --host); not Neo4j's. "
              "Env: GRAPHCLUSTER_WEB_PASSWORD.")
@pass_state
def serve(state: State, db: str | None, host: str, port: int, web_password: str | None) -> None:
    """Serve the review page for DB (default: --store) until Ctrl-C: people, faces, review questions.

    Needs the extra graphcluster[web]. Decisions made on the page are recorded with `by`
    "web" (or --by). See docs/web.md.
    """
    try:
        import uvicorn

        from graphcluster.web.app import LOOPBACK_HOSTS, create_app
    except ImportError as exc:
        raise click.ClickException(f"the review page needs the web extra: pip install 'graphcluster[web]' ({exc})") from None
    loopback = host in _LOOPBACK
    if not loopback and not web_password:
        raise _Refused(f"--host {host!r} is reachable from other machines: give --password (docs/web.md)")
    where = db or state.store
    from graphcluster.store.sqlite import DB_FILE

    if not is_neo4j_uri(where) and not (Path(where) / DB_FILE).is_file():
        # opening would make a new, empty store: a mistyped path would serve a page with nobody on it
        raise _Refused(f"no graphcluster store at {where!r} (no graph.db in it): give the folder "
                       "`graphcluster ingest` or `ingest-photos` wrote, or a Neo4j URI")
    with state.open(db) as gc:
        app = create_app(gc, password=web_password, by=state.by or "web",
                         allowed_hosts=LOOPBACK_HOSTS if loopback else None)
        shown = f"[{host}]" if ":" in host else host
        emit(state, {"url": f"http://{shown}:{port}/", "store": where},
             f"graphcluster review page on http://{shown}:{port}/ (Ctrl-C stops)")
        uvicorn.run(app, host=host, port=port, log_level="warning")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, (list, dict)):
        return json.dumps(v, default=_jsonable)
    return str(_jsonable(v)) if not isinstance(v, (str, int, bool)) else str(v)


# -- demo ---------------------------------------------------------------------------------------


@cli.command()
@click.option("--store", "demo_store", default=None, metavar="DIR|URI",
              help=f"Where to build the demo (default: {DEMO_STORE}, emptied on each run; the global --store if given).")
@click.option("--faces", type=click.IntRange(min=20, max=20000), default=1500, show_default=True, help="How many sample faces.")
@click.option("--answers", type=click.IntRange(min=0), default=12, show_default=True, help="Review questions the simulated reviewer answers.")
@click.option("--batch-size", type=click.IntRange(min=1), default=100, show_default=True, help="Faces per batch.")
@click.option("--synthetic", is_flag=True, help="Use generated faces even when the real sample is present.")
@click.option("--photos", type=click.IntRange(min=1), default=200, show_default=True,
              help="How many of the sample photos to ingest, when they are present (545: all of them).")
@click.option("--vectors", is_flag=True, help="Start from the LFW vectors even when the sample photos are present.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling and shuffling seed.")
@click.option("--reset", is_flag=True, help="Empty a store the demo did not make (never done without this flag).")
@pass_state
def demo(state: State, demo_store: str | None, faces: int, answers: int, batch_size: int, synthetic: bool,
         photos: int, vectors: bool, seed: int, reset: bool) -> None:
    """Cluster sample faces end to end and show what happened.

    Input, first present: the LFW photos of ../shared/data/lfw_photos (with the photos extra),
    the LFW vectors of ../shared/data/lfw_dlib128, generated faces.
    """
    target = demo_store or (state.store if state.store_given else DEMO_STORE)
    with progress_bar("ingesting") as progress:
        summary = run_demo(
            target, faces=faces, answers=answers, batch_size=batch_size, synthetic=synthetic, seed=seed, reset=reset,
            photos=photos, vectors=vectors,
            open_store=state.open, echo=lambda line: click.echo(line, err=state.as_json), progress=progress,
        )
    emit(state, dataclasses.asdict(summary), lambda: click.echo("\n".join(summary_lines(summary))))


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``graphcluster``)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="graphcluster")
