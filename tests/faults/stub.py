"""A tiny HTTP server in front of the emulator that answers chosen routes itself (a
status the emulator cannot inject, or a body that is not JSON) and forwards the rest.

It runs in a thread with the standard library's server, so it needs no event loop and
answers while the test's loop awaits a workflow.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx

__all__ = ["Canned", "ProviderStub"]


@dataclass(frozen=True)
class Canned:
    """The answer to one route. With `forward_first`, the request still reaches the
    emulator (a create is applied) and only its response is replaced."""

    status: int
    body: bytes
    content_type: str = "application/json"
    forward_first: bool = False


class ProviderStub:
    """`ProviderStub(upstream_base)`; `api_url` is what VULTR_API_URL points at."""

    def __init__(self, upstream_base: str) -> None:
        self._upstream = upstream_base.rstrip("/")
        self._canned: dict[tuple[str, str], Canned] = {}
        self.seen: list[tuple[str, str, int]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                stub._handle(self)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return  # quiet: the headers carry the bearer token

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/v2"

    def answer(self, method: str, path: str, canned: Canned) -> None:
        """Answer `method path` (no query string, e.g. `GET /v2/instances`) with `canned`."""
        self._canned[(method, path)] = canned

    def __enter__(self) -> ProviderStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path = urlsplit(request.path).path
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        canned = self._canned.get((request.command, path))
        if canned is None or canned.forward_first:
            forwarded = httpx.request(
                request.command,
                self._upstream + request.path,
                content=body,
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                timeout=30,
            )
        if canned is None:
            status, payload = forwarded.status_code, forwarded.content
            content_type = forwarded.headers.get("content-type", "application/json")
        else:
            status, payload, content_type = canned.status, canned.body, canned.content_type
        self.seen.append((request.command, path, status))
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
