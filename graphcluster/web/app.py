"""The review page: ``create_app(gc)`` returns a Starlette application over an open GraphCluster.

Pages (GET, read only): ``/people`` (the grid of people), ``/people/{id}`` (one person's faces),
``/unassigned`` (faces in no cluster), ``/face?id=`` (one face), ``/review`` (the review queue,
``?calibration=1`` for calibration questions), ``/decisions`` (the decision log) and
``/crop?face=`` (a face's JPEG crop, or an SVG placeholder for a face that has none).

Actions (POST only, CSRF token required): each calls one GraphCluster method — the one the CLI
command of the same name calls — with ``by`` set to the app's ``by`` ("web"): ``/answer``
(``answer``), ``/people/{id}/name|lock|unlock|merge`` (``name``, ``lock``, ``unlock``,
``merge``), ``/faces/remove|move|same|different`` (``remove``, ``assign``, ``same_person``,
``different_person`` for each selected face), ``/undo`` and ``/undo-last`` (``undo``).
A form post is answered with a redirect back to the page it came from; a post from the page's
script (header ``X-CSRF-Token``) with JSON.

Errors: an unknown face, person, question or decision is a 404 page, bad input (a page number,
an answer, an empty name, a selection) a 400 page naming the value, a decision that
contradicts an earlier one a 409 page naming it; the store is left as it was.

One lock serialises every call into the GraphCluster: it is one writer, and a review page has
one user at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from graphcluster.models import SYSTEM
from graphcluster.errors import ConstraintConflict, GraphClusterError, InvalidInput, NotFound
from graphcluster.web import pages
from graphcluster.web.security import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, SecurityMiddleware, csrf_ok, new_token

__all__ = ["create_app", "LOOPBACK_HOSTS"]

HERE = Path(__file__).resolve().parent
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
PEOPLE_PER_PAGE = 48
FACES_PER_PAGE = 60
QUESTIONS_PER_PAGE = 10
DECISIONS_PER_PAGE = 50
MAX_SELECTION = 500
T = TypeVar("T")


class BadRequest(Exception):
    """A request the page refuses before calling the GraphCluster (400, with this message)."""


def create_app(gc: Any, *, password: str | None = None, by: str = "web",
               allowed_hosts: list[str] | None = LOOPBACK_HOSTS) -> Starlette:
    """The review page over ``gc``.

    Args:
        gc: an open :class:`graphcluster.GraphCluster` (embedded or Neo4j); the caller closes it.
        password: when set, every request needs it (HTTP basic, any user name).
        by: recorded as ``by`` of every decision made on the page.
        allowed_hosts: Host names the page answers to (default: loopback names only, against
            DNS rebinding); ``None`` answers to any (a server on a LAN, with a password).
    """
    lock = threading.Lock()
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    env.filters["q"] = lambda v: quote(str(v), safe="")
    templates = Jinja2Templates(env=env)

    async def call(fn: Callable[[], T]) -> T:
        def locked() -> T:
            with lock:
                return fn()
        return await run_in_threadpool(locked)

    def token_of(request: Request) -> tuple[str, bool]:
        have = request.cookies.get(CSRF_COOKIE)
        return (have, False) if have else (new_token(), True)

    def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        token, fresh = token_of(request)
        context.update(csrf=token, here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                       undo_target=context.get("undo_target"))
        response = templates.TemplateResponse(request, name, context, status_code=status)
        response.headers["cache-control"] = "no-store"
        if fresh:
            response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    def page_number(request: Request) -> int:
        raw = request.query_params.get("page", "1")
        if not raw.isdigit() or int(raw) < 1:
            raise BadRequest(f"page must be a whole number >= 1, got {raw!r}")
        return int(raw)

    # -- pages --------------------------------------------------------------------------------
    async def people(request: Request) -> Response:
        number = page_number(request)

        def read() -> dict[str, Any]:
            counts = gc.store.counts()
            page = pages.paged(number, PEOPLE_PER_PAGE, counts.clusters)
            clusters = gc.clusters(offset=page.offset, limit=page.size) if counts.clusters else []
            return {"counts": counts, "page": page, "clusters": clusters, "covers": pages.covers(gc, clusters)}

        return render(request, "people.html", **await call(read))

    async def person(request: Request) -> Response:
        cid = request.path_params["cluster_id"]
        number = page_number(request)

        def read() -> dict[str, Any]:
            info = gc.cluster(cid)
            page = pages.paged(number, FACES_PER_PAGE, len(info["members"]))
            return {"cluster": info["cluster"], "page": page,
                    "members": info["members"][page.offset : page.offset + page.size],
                    "decisions": info["decisions"][-10:][::-1]}

        return render(request, "person.html", **await call(read))

    async def unassigned(request: Request) -> Response:
        number = page_number(request)

        def read() -> dict[str, Any]:
            total = gc.store.counts().by_status.get("unassigned", 0)
            page = pages.paged(number, FACES_PER_PAGE, total)
            return {"page": page, "faces": gc.unassigned(offset=page.offset, limit=page.size)}

        return render(request, "unassigned.html", **await call(read))

    async def face(request: Request) -> Response:
        fid = request.query_params.get("id")
        if not fid:
            raise BadRequest("say which face: /face?id=<face id>")
        return render(request, "face.html", **await call(lambda: {"info": gc.face(fid)}))

    async def review(request: Request) -> Response:
        number = page_number(request)
        calibration = request.query_params.get("calibration") == "1"

        def read() -> dict[str, Any]:
            want = number * QUESTIONS_PER_PAGE
            items = gc.calibration_questions(limit=QUESTIONS_PER_PAGE) if calibration else gc.review_queue(limit=want + 1)
            shown = items if calibration else items[want - QUESTIONS_PER_PAGE : want]
            return {"questions": pages.question_views(gc, shown), "number": number,
                    "has_next": not calibration and len(items) > want, "calibration": calibration}

        return render(request, "review.html", **await call(read))

    async def decisions(request: Request) -> Response:
        number = page_number(request)

        def read() -> dict[str, Any]:
            newest = gc.decisions()[::-1]
            page = pages.paged(number, DECISIONS_PER_PAGE, len(newest))
            return {"page": page, "decisions": newest[page.offset : page.offset + page.size],
                    "undo_target": pages.last_undoable(newest[::-1], SYSTEM)}

        return render(request, "decisions.html", **await call(read))

    async def crop(request: Request) -> Response:
        fid = request.query_params.get("face")
        if not fid:
            raise BadRequest("say which face: /crop?face=<face id>")

        def read() -> bytes | None:
            jpeg: bytes | None = gc.face_crop(fid)
            if jpeg is None and not gc.store.existing_face_ids([fid]):
                raise NotFound(f"no face with id {fid!r}")
            return jpeg

        jpeg = await call(read)
        headers = {"cache-control": "private, max-age=300"}
        if jpeg is None:
            return Response(pages.placeholder_svg(fid), media_type="image/svg+xml", headers=headers)
        return Response(jpeg, media_type="image/jpeg", headers=headers)

    # -- actions ------------------------------------------------------------------------------
    async def checked_form(request: Request) -> FormData:
        form = await request.form()
        given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
        if not csrf_ok(request.cookies.get(CSRF_COOKIE), given if isinstance(given, str) else None):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
        return form

    def field(form: FormData, name: str, what: str) -> str:
        value = form.get(name)
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(f"{what} is missing (form field {name!r})")
        return value.strip()

    def selection(form: FormData) -> list[str]:
        faces = [f for f in form.getlist("face") if isinstance(f, str) and f]
        if not faces:
            raise BadRequest("no faces selected: tick the faces first")
        if len(faces) > MAX_SELECTION:
            raise BadRequest(f"{len(faces)} faces selected; at most {MAX_SELECTION} at once")
        return list(dict.fromkeys(faces))

    def done(request: Request, form: FormData, message: str, **data: Any) -> Response:
        if request.headers.get(CSRF_HEADER):
            return JSONResponse({"ok": True, "message": message, **data})
        back = form.get("next")
        target = back if isinstance(back, str) and back.startswith("/") and not back.startswith("//") else "/people"
        return RedirectResponse(target, status_code=303)

    def decided(d: Any) -> dict[str, Any]:
        return {"decision": d.id, "kind": d.kind} if d is not None else {"decision": None}

    async def answer(request: Request) -> Response:
        form = await checked_form(request)
        item, reply = field(form, "item", "the question"), field(form, "answer", "the answer")
        name = form.get("name")
        name = name.strip() or None if isinstance(name, str) else None
        ticked = [f for f in form.getlist("face") if isinstance(f, str)]  # a bulk question's ticked faces
        d = await call(lambda: gc.answer(item, reply, name=name, by=by, faces=ticked or None))
        return done(request, form, f"answered {reply}", **decided(d))

    def cluster_action(fn: Callable[[str, FormData], Any], message: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            form = await checked_form(request)
            cid = request.path_params["cluster_id"]
            d = await call(lambda: fn(cid, form))
            return done(request, form, message, **decided(d))
        return endpoint

    def require_cluster(cid: str) -> None:
        if not gc.store.get_clusters([cid]):
            raise BadRequest(f"there is no person with id {cid!r}: type the id shown on that person's page")

    def do_merge(cid: str, form: FormData) -> Any:
        other = field(form, "other", "the person to merge with")
        require_cluster(other)
        return gc.merge(cid, other, by=by)

    def do_name(cid: str, form: FormData) -> Any:
        return gc.name(cid, field(form, "name", "the name"), by=by)

    def faces_action(fn: Callable[[list[str], FormData], list[Any]], message: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            form = await checked_form(request)
            faces = selection(form)

            def run() -> list[Any]:
                known = gc.store.existing_face_ids(faces)
                unknown = [f for f in faces if f not in known]
                if unknown:
                    raise BadRequest(f"unknown face id {unknown[0]!r}" + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
                return fn(faces, form)

            ds = await call(run)
            return done(request, form, message.format(n=len(ds)), decisions=[d.id for d in ds])
        return endpoint

    def do_remove(faces: list[str], form: FormData) -> list[Any]:
        return [gc.remove(f, by=by) for f in faces]

    def do_move(faces: list[str], form: FormData) -> list[Any]:
        target = field(form, "to", "the person to move them to")
        require_cluster(target)
        return [gc.assign(f, target, by=by) for f in faces]

    def do_same(faces: list[str], form: FormData) -> list[Any]:
        if len(faces) < 2:
            raise BadRequest("select at least two faces to say they are the same person")
        return [gc.same_person(faces[0], f, by=by) for f in faces[1:]]

    def do_different(faces: list[str], form: FormData) -> list[Any]:
        if len(faces) != 2:
            raise BadRequest(f"select exactly two faces to say they are different people ({len(faces)} selected)")
        return [gc.different_person(faces[0], faces[1], by=by)]

    async def undo(request: Request) -> Response:
        form = await checked_form(request)
        did = field(form, "decision", "the decision to undo")
        d = await call(lambda: gc.undo(did, by=by))
        return done(request, form, f"undid {d.kind} {d.id}", **decided(d))

    async def undo_last(request: Request) -> Response:
        form = await checked_form(request)

        def run() -> Any:
            target = pages.last_undoable(gc.decisions(), SYSTEM)
            if target is None:
                raise BadRequest("there is no decision to undo")
            return gc.undo(target.id, by=by)

        d = await call(run)
        return done(request, form, f"undid {d.kind} {d.id}", **decided(d))

    # -- errors -------------------------------------------------------------------------------
    def error(request: Request, status: int, message: str) -> Response:
        if request.method == "POST" and request.headers.get(CSRF_HEADER):
            return JSONResponse({"ok": False, "error": message}, status_code=status)
        return render(request, "error.html", status=status, status_code=status, message=message)

    async def on_not_found(request: Request, exc: Exception) -> Response:
        return error(request, 404, str(exc))

    async def on_bad(request: Request, exc: Exception) -> Response:
        return error(request, 400, str(exc))

    async def on_conflict(request: Request, exc: Exception) -> Response:
        return error(request, 409, str(exc))

    async def on_other(request: Request, exc: Exception) -> Response:
        return error(request, 500, f"graphcluster refused: {exc}")

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = exc.detail if exc.status_code != 404 else f"no page {request.url.path!r}"
        return error(request, exc.status_code, str(detail))

    async def home(request: Request) -> Response:
        return RedirectResponse("/people", status_code=303)

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)  # no icon; answered so browsers do not log a 404

    routes = [
        Route("/", home),
        Route("/favicon.ico", favicon),
        Route("/people", people),
        Route("/people/{cluster_id}", person),
        Route("/unassigned", unassigned),
        Route("/face", face),
        Route("/review", review),
        Route("/decisions", decisions),
        Route("/crop", crop),
        Route("/answer", answer, methods=["POST"]),
        Route("/people/{cluster_id}/name", cluster_action(do_name, "named"), methods=["POST"]),
        Route("/people/{cluster_id}/lock", cluster_action(lambda c, f: gc.lock(c, by=by), "locked"), methods=["POST"]),
        Route("/people/{cluster_id}/unlock", cluster_action(lambda c, f: gc.unlock(c, by=by), "unlocked"), methods=["POST"]),
        Route("/people/{cluster_id}/merge", cluster_action(do_merge, "merged"), methods=["POST"]),
        Route("/faces/remove", faces_action(do_remove, "{n} faces taken out"), methods=["POST"]),
        Route("/faces/move", faces_action(do_move, "{n} faces moved"), methods=["POST"]),
        Route("/faces/same", faces_action(do_same, "{n} same-person links"), methods=["POST"]),
        Route("/faces/different", faces_action(do_different, "a different-people link"), methods=["POST"]),
        Route("/undo", undo, methods=["POST"]),
        Route("/undo-last", undo_last, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={
        NotFound: on_not_found, BadRequest: on_bad, InvalidInput: on_bad, ConstraintConflict: on_conflict,
        GraphClusterError: on_other, HTTPException: on_http,
    })
    app.add_middleware(SecurityMiddleware, password=password, allowed_hosts=allowed_hosts)
    return app
