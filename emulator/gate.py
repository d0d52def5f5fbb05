"""What every /v2 request passes through before its handler: the rate limit, bearer
auth, injected latency and failures; and afterwards the request log and the
dropped-response fault."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.config import EmulatorConfig
from emulator.errors import error_response
from emulator.faults import FaultInjector
from emulator.ratelimit import SlidingWindowLimiter
from emulator.routes import PUBLIC_ROUTES, match_route
from emulator.store import Clock

__all__ = ["DROP_RESPONSE_KEY", "REQUEST_LOG_SIZE", "ApiGate", "RequestLog", "ResponseDropped"]

# A handler sets this scope key to ask the gate to close the connection unanswered.
DROP_RESPONSE_KEY = "emulator.drop_response"
REQUEST_LOG_SIZE = 50_000

access_log = logging.getLogger("emulator.access")


class ResponseDropped(ConnectionError):
    """Raised instead of closing the connection when the server gives no way to close it
    (for example httpx.ASGITransport in tests): the client gets no response either way."""


class RequestLog:
    """The most recent /v2 requests, for GET /admin/requests."""

    def __init__(self, size: int = REQUEST_LOG_SIZE) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)

    def append(self, entry: dict[str, Any]) -> None:
        self._entries.append(entry)

    def clear(self) -> None:
        self._entries.clear()

    def entries(self) -> list[dict[str, Any]]:
        return list(self._entries)


def _bearer_token(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
            return ""
    return ""


class ApiGate:
    """ASGI middleware for /v2; every other path goes straight through."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: EmulatorConfig,
        clock: Clock,
        faults: FaultInjector,
        limiter: SlidingWindowLimiter,
        request_log: RequestLog,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.app = app
        self.config = config
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
        if not (path == "/v2" or path.startswith("/v2/")):
            started = time.perf_counter()
            status = await self._forward(scope, receive, send)
            self._log_line(scope, status, started)
            return

        started = time.perf_counter()
        now = self.clock()
        method: str = scope["method"]
        route = match_route(method, path)
        status = 0
        dropped = False
        try:
            refusal = self._refusal(scope, route, now.timestamp())
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

    def _refusal(self, scope: Scope, route: str | None, now: float) -> Response | None:
        client = scope.get("client")
        retry_after = self.limiter.check(client[0] if client else "unknown", now)
        if retry_after is not None:
            return error_response(
                429,
                "Rate limit exceeded: too many requests per second; retry after the "
                "Retry-After header's seconds.",
                {"Retry-After": str(retry_after)},
            )
        if route in PUBLIC_ROUTES:
            return None
        token = _bearer_token(scope)
        if not token:
            return error_response(401, "Invalid API token: send 'Authorization: Bearer <API key>'.")
        if self._api_key is not None and not hmac.compare_digest(token.encode(), self._api_key):
            return error_response(401, "Invalid API token: this API key is not accepted.")
        return None

    def _injected_failure(self, route: str) -> Response | None:
        failure = self.faults.failure_for(route)
        if failure is None:
            return None
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else None
        return error_response(failure.status, self.faults.message(failure.status), headers)

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
