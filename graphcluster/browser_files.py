"""Serve the Neo4j Browser guide and style (``cypher/browser/``) on localhost, with CORS.

Neo4j Browser fetches ``:play URL`` and ``:style URL`` only from hosts in the server setting
``browser.remote_content_hostname_allowlist`` (Neo4j's default includes localhost), and only
from a host that sends a CORS header; this server does both for the files shipped as
``graphcluster.cypher.browser``. ``graphcluster browser-files`` runs it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

__all__ = ["GUIDE", "STYLE", "make_server", "serve", "urls"]

GUIDE = "guide.html"  # the guided tour (:play)
STYLE = "graphcluster.grass"  # the graph style (:style)


class _Handler(SimpleHTTPRequestHandler):
    """Static files with ``Access-Control-Allow-Origin: *``; each request reported to ``log``."""

    def __init__(self, *args: Any, log: Callable[[str], None], **kwargs: Any) -> None:
        self._log = log  # set first: the base class handles the request inside __init__
        super().__init__(*args, **kwargs)

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")  # Browser fetches guides cross-origin
        super().end_headers()

    def do_OPTIONS(self) -> None:  # noqa: N802 - the stdlib's naming; Browser sends a CORS preflight
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", "GET, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        self._log(str(args[0]) if args else "")


def make_server(port: int, *, log: Callable[[str], None] | None = None) -> ThreadingHTTPServer:
    """An HTTP server on ``127.0.0.1:port`` for the Browser files (not started yet).

    ``log`` is called with the request line of every request served.
    """
    folder = resources.files("graphcluster.cypher").joinpath("browser")
    handler = functools.partial(_Handler, directory=str(folder), log=log or (lambda line: None))
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


def urls(port: int) -> dict[str, str]:
    """Where Browser finds the guide and the style when :func:`make_server` serves on ``port``."""
    base = f"http://localhost:{port}"
    return {"guide": f"{base}/{GUIDE}", "style": f"{base}/{STYLE}"}


def serve(server: ThreadingHTTPServer) -> None:
    """Serve until Ctrl-C (``KeyboardInterrupt``), then close the server."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
