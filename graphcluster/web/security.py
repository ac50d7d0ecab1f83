"""What keeps the review page safe: CSRF tokens, the optional password, response headers.

- **CSRF** (double-submit cookie): the first page a browser loads sets a random token in the
  cookie ``gc_csrf`` (HttpOnly, SameSite=Strict); every form carries the same token in the
  field ``csrf`` (the page's JavaScript sends it as the header ``X-CSRF-Token``). A POST whose
  token is missing or differs from the cookie is refused with 403 before anything is read
  from the store. A POST whose ``Origin`` header names another site is refused too. Only POST
  changes anything; GET never does.
- **Password** (optional, for LAN use): HTTP basic authentication against one password
  (any user name), compared in constant time. Basic sends the password with every request,
  base64 only: over a LAN use it behind TLS or an SSH tunnel (SECURITY.md).
- **Headers**: a Content-Security-Policy that allows scripts, styles and images from the page's
  own origin only (no inline script: a name that slipped past escaping still could not run),
  ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy: same-origin``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "CSRF_HEADER", "SecurityMiddleware", "csrf_ok", "new_token"]

CSRF_COOKIE = "gc_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
_HEADERS = [
    (b"content-security-policy", _CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(cookie: str | None, given: str | None) -> bool:
    """True when a token was given and equals the cookie's (constant-time)."""
    return bool(cookie) and bool(given) and hmac.compare_digest(str(cookie), str(given))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def password_ok(authorization: str | None, password: str) -> bool:
    """True when an ``Authorization: Basic`` header carries ``password`` (any user name)."""
    if not authorization or not authorization.lower().startswith("basic "):
        return False
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    _, sep, given = decoded.partition(":")
    return bool(sep) and hmac.compare_digest(given.encode(), password.encode())


class SecurityMiddleware:
    """ASGI middleware: the allowed Host names, the password, the Origin check, the headers.

    Args:
        app: the application it guards.
        password: when set, every request needs it (HTTP basic, any user name).
        allowed_hosts: Host header values (without port) that are served; ``None`` serves any.
            A server bound to loopback answers only to loopback names, so a web site cannot
            reach it through DNS rebinding.
    """

    def __init__(self, app: ASGIApp, *, password: str | None, allowed_hosts: list[str] | None) -> None:
        self.app = app
        self.password = password
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = (_header(scope, b"host") or "").lower()
        hostname = urlsplit(f"//{host}").hostname or ""
        if self.allowed_hosts is not None and hostname not in self.allowed_hosts and f"[{hostname}]" not in self.allowed_hosts:
            await _plain(send, 400, f"this server does not answer to the host name {hostname!r}")
            return
        if self.password is not None and not password_ok(_header(scope, b"authorization"), self.password):
            await _plain(send, 401, "the graphcluster review page needs its password",
                         [(b"www-authenticate", b'Basic realm="graphcluster", charset="UTF-8"')])
            return
        if scope["method"] == "POST":
            origin = _header(scope, b"origin")
            if origin and origin != "null" and urlsplit(origin).netloc.lower() != host:
                await _plain(send, 403, f"a form from another site ({origin}) cannot change this database")
                return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + _HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


async def _plain(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = (text + "\n").encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + _HEADERS + (extra or [])})
    await send({"type": "http.response.body", "body": body})
