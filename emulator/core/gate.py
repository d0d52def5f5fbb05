"""What every API request passes through before its handler: the face's rate limit,
bearer auth, injected latency and failures; and afterwards the request log and the
dropped-response fault."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.core.clock import Clock
from emulator.core.config import CoreConfig
from emulator.core.face import Face
from emulator.core.faults import FaultInjector
from emulator.core.ratelimit import RateLimiter, bearer_token
from emulator.core.requestlog import RequestLog

__all__ = ["DROP_RESPONSE_KEY", "ApiGate", "ResponseDropped"]

# A handler sets this scope key to ask the gate to close the connection unanswered.
DROP_RESPONSE_KEY = "emulator.drop_response"

access_log = logging.getLogger("emulator.access")


class ResponseDropped(ConnectionError):
    """Raised instead of closing the connection when the server gives no way to close it
    (for example httpx.ASGITransport in tests): the client gets no response either way."""


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    """`send` that adds `headers` to the response (the rate-limit headers of every answer)."""
    if not headers:
        return send
    extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


class ApiGate:
    """ASGI middleware for the face's API prefix; every other path goes straight through."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: CoreConfig,
        face: Face,
        clock: Clock,
        faults: FaultInjector,
        limiter: RateLimiter,
        request_log: RequestLog,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.app = app
        self.config = config
        self.face = face
        self.clock = clock
        self.faults = faults
        self.limiter = limiter
        self.request_log = request_log
        self.sleep = sleep
        self._api_key = config.api_key.get_secret_value().encode() if config.api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if not self.face.routes.covers(path):
            started = time.perf_counter()
            status = await self._forward(scope, receive, send)
            self._log_line(scope, status, started)
            return

        started = time.perf_counter()
        now = self.clock()
        method: str = scope["method"]
        route = self.face.routes.match(method, path)
        status = 0
        dropped = False
        try:
            admission = self.limiter.admit(scope, now.timestamp())
            send = _with_headers(send, admission.headers)
            refusal = self._refusal(scope, route, admission.retry_after)
            if refusal is None and route is not None:
                delay = self.faults.latency_seconds(route)
                if delay > 0:
                    await self.sleep(delay)
                refusal = self._injected_failure(route)
            if refusal is not None:
                status = refusal.status_code
                await refusal(scope, receive, send)
                return
            status = await self._forward(scope, receive, send)
            if scope.get(DROP_RESPONSE_KEY):
                dropped = True
                status = int(scope[DROP_RESPONSE_KEY])  # what the server did, unseen by the client
                await self._drop_connection(receive)
        finally:
            self.request_log.append(
                {
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "time": now.timestamp(),
                    "dropped": dropped,
                }
            )
            self._log_line(scope, status, started, route=route, dropped=dropped)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> int:
        status = 0

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, recording_send)
        return status

    def _refusal(self, scope: Scope, route: str | None, retry_after: int | None) -> Response | None:
        if retry_after is not None:
            return self.face.render(self.face.rate_limited(retry_after))
        if route in self.face.routes.public:
            return None
        token = bearer_token(scope)
        if not token:
            return self.face.render(self.face.unauthorized(token_given=False))
        if self._api_key is not None and not hmac.compare_digest(token.encode(), self._api_key):
            return self.face.render(self.face.unauthorized(token_given=True))
        return None

    def _injected_failure(self, route: str) -> Response | None:
        failure = self.faults.failure_for(route)
        if failure is None:
            return None
        return self.face.render(self.face.injected(failure.status, failure.retry_after))

    async def _drop_connection(self, receive: Receive) -> None:
        # uvicorn's receive is a bound method of its request cycle, which holds the
        # socket's transport: aborting it closes the connection with nothing sent.
        transport = getattr(getattr(receive, "__self__", None), "transport", None)
        if transport is None or not hasattr(transport, "abort"):
            raise ResponseDropped("the emulator dropped this create response (fault injection)")
        transport.abort()
        # Let uvicorn see the disconnect before the app returns, so it sends nothing.
        for _ in range(3):
            await asyncio.sleep(0)

    def _log_line(
        self,
        scope: Scope,
        status: int,
        started: float,
        *,
        route: str | None = None,
        dropped: bool = False,
    ) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        client = scope.get("client")
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope["path"] + (f"?{query}" if query else "")
        elapsed_ms = (time.perf_counter() - started) * 1000
        outcome = "dropped" if dropped else str(status)
        # Headers are never logged: the Authorization header carries the API key.
        access_log.info(
            '%s "%s %s" %s %.1fms%s',
            client[0] if client else "-",
            scope["method"],
            target,
            outcome,
            elapsed_ms,
            f" route={route!r}" if route else "",
        )
