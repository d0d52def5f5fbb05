"""What every provider's API client shares: bearer auth that never sits in default
headers and redacts the token from echoed text, one pooled httpx client, the request
path (send, log, note the rate limit, map failures to the provider's errors), and which
transport failures are safe to retry or may have been applied remotely."""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Generator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

__all__ = ["NOT_SENT", "TRANSIENT", "USER_AGENT", "ApiHttpClient", "BearerAuth", "excerpt"]

USER_AGENT = "vultr-lifecycle/0.1 (+httpx)"
EXCERPT_CHARS = 200  # of a body that is not what the API documents, quoted in an error
M = TypeVar("M", bound=BaseModel)
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


class ApiHttpClient(ABC):
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

    # Each provider's client logs under its own name (providers.<id>).
    _log = logging.getLogger("providers")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        idempotent: bool = True,
        expect: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        """One API call: the response when its status is in `expect`, else the
        provider's error for it (transport failures included). `idempotent=False` marks
        a failure after the request may have left as ambiguous."""
        started = time.perf_counter()
        where = "/" + path.lstrip("/")
        failure: Exception | None = None
        try:
            response = await self._send(method, path.lstrip("/"), params=params, json=json)
        except httpx.HTTPError as exc:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self._log.debug(
                "%s %s -> %s after %.0f ms", method, where, type(exc).__name__, elapsed_ms
            )
            failure = self._transport_error(exc, method, path, idempotent)
        # Raised outside the except block so the httpx exception, whose request carries
        # the Authorization header, is not kept as __context__.
        if failure is not None:
            raise failure
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._log.debug("%s %s -> %d in %.0f ms", method, where, response.status_code, elapsed_ms)
        self._note_rate_limit(response.headers)
        if response.status_code in expect:
            return response
        raise self._status_error(response, method, path, idempotent)

    def _note_rate_limit(self, headers: httpx.Headers) -> None:  # noqa: B027 (optional hook)
        """Keep what the rate-limit headers say, for clients whose provider sends them."""

    @abstractmethod
    def _protocol_error(
        self, response: httpx.Response, problem: str, idempotent: bool
    ) -> Exception:
        """The provider's error for an answer its API does not document (`problem` says
        what came); `idempotent` False: the request may have been applied."""

    def _body(self, response: httpx.Response, *, idempotent: bool = True) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            quoted = self._auth.redact(excerpt(response.text))
            raise self._protocol_error(
                response, f"a body that is not JSON ({quoted!r})", idempotent
            ) from None
        if not isinstance(body, dict):
            problem = f"a JSON {type(body).__name__} instead of an object"
            raise self._protocol_error(response, problem, idempotent)
        return body

    def _parse(
        self,
        model: type[M],
        data: Any,
        response: httpx.Response,
        where: str,
        idempotent: bool = True,
    ) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            at = ".".join(str(part) for part in (where, *first["loc"]))
            problem = (
                f"an unexpected {model.__name__} ({exc.error_count()} problem(s), first at "
                f"{at}: {first['msg']})"
            )
            raise self._protocol_error(response, problem, idempotent) from None

    @abstractmethod
    def _transport_error(
        self, exc: httpx.HTTPError, method: str, path: str, idempotent: bool
    ) -> Exception:
        """The provider's error for a request that got no answer."""

    @abstractmethod
    def _status_error(
        self, response: httpx.Response, method: str, path: str, idempotent: bool
    ) -> Exception:
        """The provider's error for an answer whose status was not expected."""

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


def excerpt(text: str) -> str:
    """A body's text, whitespace folded, cut to EXCERPT_CHARS."""
    compact = " ".join(text.split())
    return compact if len(compact) <= EXCERPT_CHARS else compact[:EXCERPT_CHARS] + "..."
