"""What every provider's API client shares: bearer auth that never sits in default
headers and redacts the token from echoed text, one pooled httpx client, and which
transport failures are safe to retry or may have been applied remotely."""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

__all__ = ["NOT_SENT", "TRANSIENT", "USER_AGENT", "ApiHttpClient", "BearerAuth"]

USER_AGENT = "vultr-lifecycle/0.1 (+httpx)"
# Failures that happen before the request leaves this host: never applied remotely.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures worth retrying: the network or the far side, not this configuration.
TRANSIENT = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)


class BearerAuth(httpx.Auth):
    """Adds the bearer token per request, so it never sits in the client's default headers."""

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def redact(self, text: str) -> str:
        # Defence in depth: a proxy or server echoing the token back must not carry it
        # into an exception message.
        return text.replace(self._token, "[redacted]") if self._token in text else text

    def __repr__(self) -> str:
        return "BearerAuth(token='***')"


class ApiHttpClient:
    """One provider API over one connection pool; `async with` closes it.

    `api_root` is the URL relative paths resolve under (with its trailing slash, so
    they land below it instead of replacing its last segment).
    """

    def __init__(
        self,
        token: str,
        api_root: str,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None,
        max_connections: int,
    ) -> None:
        self.timeout = timeout
        self._auth = BearerAuth(token)
        self._http = httpx.AsyncClient(
            base_url=api_root.rstrip("/") + "/",
            auth=self._auth,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """One request, bounded as a whole by `timeout`: httpx bounds each phase on its
        own (connect, write, every read), so a slow answer could otherwise outlast the
        activity's start-to-close timeout and be cut off with no error of ours."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._http.request(method, path, params=params, json=json)
        except TimeoutError:
            # Counted as possibly sent: the deadline may have passed after the request left.
            raise httpx.ReadTimeout(f"no complete answer within {self.timeout:g} s") from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def closed(self) -> bool:
        return self._http.is_closed
