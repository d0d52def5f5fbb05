"""Async client for the subset of Hetzner Cloud API v1 the lifecycle uses.

One pooled `httpx.AsyncClient` per `HetznerClient`. Every response becomes a typed model
or one `HetznerError` subclass (errors.py); nothing from httpx escapes. The client never
retries by itself: the caller sees `retryable`, `retry_after` and `ambiguous` on every
error. The token rides in a per-request auth hook, never in reprs, logs or messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from pydantic import BaseModel

from providers.hetzner.catalog import Catalog
from providers.hetzner.errors import (
    HetznerError,
    HetznerProtocolError,
    HetznerTransportError,
    HetznerValidationError,
    error_for,
    retry_after_from_headers,
)
from providers.hetzner.labels import label_problems
from providers.hetzner.models import (
    CreateServerRequest,
    Image,
    Location,
    Server,
    ServerType,
)
from providers.http import NOT_SENT, TRANSIENT, ApiHttpClient, excerpt
from providers.single_flight import SingleFlight

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = ["DEFAULT_BASE_URL", "MAX_PER_PAGE", "HetznerClient", "RateLimitState"]

DEFAULT_BASE_URL = "https://api.hetzner.cloud/v1"
MAX_PER_PAGE = 50  # the API's maximum page size
MAX_USER_DATA_BYTES = 32 * 1024


M = TypeVar("M", bound=BaseModel)

# Failures before the request leaves this host: never applied remotely.


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """The project's request budget as the last answer stated it."""

    limit: int
    remaining: int
    reset: float  # Unix time at which the bucket is full again


class HetznerClient(ApiHttpClient):
    """Hetzner Cloud API v1 over one connection pool. Use as `async with HetznerClient(...)`."""

    _log = logging.getLogger("providers.hetzner")

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 20,
    ) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ValueError(
                "the Hetzner API token is empty: set HCLOUD_TOKEN (any non-empty value works "
                "against the emulator)"
            )
        self.base_url = base_url.rstrip("/")
        self.catalog: Catalog | None = None
        self._catalog_fetch = SingleFlight(self._fetch_catalog)
        self.rate_limit: RateLimitState | None = None
        super().__init__(
            token,
            self.base_url + "/",
            timeout=timeout,
            transport=transport,
            max_connections=max_connections,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> HetznerClient:
        """A client for `HCLOUD_API_URL` with `HCLOUD_TOKEN`; options as for the constructor."""
        return cls(settings.hcloud_key(), settings.hcloud_api_url, **options)

    def __repr__(self) -> str:
        return f"HetznerClient(base_url={self.base_url!r}, token='***', timeout={self.timeout!r})"

    # ---- servers ---------------------------------------------------------------------

    def check_create(self, request: CreateServerRequest) -> None:
        """Raise HetznerValidationError naming every problem Hetzner would refuse."""
        problems = label_problems(request.labels)
        if request.user_data is not None and len(request.user_data.encode()) > MAX_USER_DATA_BYTES:
            problems.append(
                f"user data is {len(request.user_data.encode())} bytes; Hetzner accepts at "
                f"most {MAX_USER_DATA_BYTES}"
            )
        if self.catalog is not None:
            problems += self.catalog.problems(request.server_type, request.location, request.image)
        if problems:
            raise HetznerValidationError(problems)

    async def create_server(self, request: CreateServerRequest) -> Server:
        """Create a server. Not idempotent: a lost answer raises with `ambiguous=True`; the
        name is unique per project, so look it up by name before creating again."""
        self.check_create(request)
        response = await self._request(
            "POST", "/servers", json=request.api_body(), idempotent=False, expect=(201,)
        )
        return self._one(response, "server", Server, idempotent=False)

    async def get_server(self, server_id: str | int) -> Server:
        response = await self._request("GET", self._server_path(server_id))
        return self._one(response, "server", Server)

    async def list_servers(
        self,
        *,
        label_selector: str | None = None,
        name: str | None = None,
        per_page: int = MAX_PER_PAGE,
    ) -> list[Server]:
        """Every server matching the filters, all pages followed."""
        params = {"label_selector": label_selector, "name": name}
        query = {k: v for k, v in params.items() if v}
        return await self._paginate("/servers", "servers", Server, query, per_page)

    async def delete_server(self, server_id: str | int) -> bool:
        """Delete; True if it existed (Hetzner answers with the delete action), False if
        it was already gone (404). A server busy with an action answers `locked`: retry."""
        response = await self._request("DELETE", self._server_path(server_id), expect=(200, 404))
        return response.status_code != 404

    # ---- catalog ---------------------------------------------------------------------

    async def list_server_types(self) -> list[ServerType]:
        return await self._paginate("/server_types", "server_types", ServerType, {}, MAX_PER_PAGE)

    async def list_locations(self) -> list[Location]:
        return await self._paginate("/locations", "locations", Location, {}, MAX_PER_PAGE)

    async def list_images(self) -> list[Image]:
        return await self._paginate("/images", "images", Image, {"type": "system"}, MAX_PER_PAGE)

    async def load_catalog(self) -> Catalog:
        """The catalog, fetched on the first call and kept: later creates are checked against it.
        Callers that arrive while it is fetched share that fetch (a burst of quotes)."""
        if self.catalog is None:
            self.catalog = await self._catalog_fetch.run()
        return self.catalog

    async def _fetch_catalog(self) -> Catalog:
        """Fetch server types, locations and images: three listings, sent together."""
        types, locations, images = await asyncio.gather(
            self.list_server_types(), self.list_locations(), self.list_images()
        )
        return Catalog.build(types, locations, images)

    # ---- plumbing --------------------------------------------------------------------

    @staticmethod
    def _server_path(server_id: str | int) -> str:
        text = str(server_id).strip()
        if not text.isdigit():
            # Anything else would address another route (or the collection).
            raise HetznerValidationError(
                [f"server id must be a positive integer, got {server_id!r}"],
                subject="server request",
            )
        return f"/servers/{int(text)}"

    def _note_rate_limit(self, headers: httpx.Headers) -> None:
        try:
            self.rate_limit = RateLimitState(
                int(headers["RateLimit-Limit"]),
                int(headers["RateLimit-Remaining"]),
                float(headers["RateLimit-Reset"]),
            )
        except (KeyError, ValueError):
            pass

    def _transport_error(
        self, exc: httpx.HTTPError, method: str, path: str, idempotent: bool
    ) -> HetznerError:
        detail = self._auth.redact(str(exc)) or type(exc).__name__
        where = f"{method} {path}"
        if isinstance(exc, httpx.DecodingError):
            return HetznerProtocolError(
                f"{where}: the response body could not be decoded ({detail}); check that "
                f"HCLOUD_API_URL ({self.base_url}) is the Hetzner Cloud API v1",
                method=method,
                path=path,
                ambiguous=not idempotent,
            )
        retryable = isinstance(exc, TRANSIENT)
        ambiguous = not idempotent and not isinstance(exc, NOT_SENT)
        if isinstance(exc, httpx.TimeoutException):
            what = f"timed out after {self.timeout:g} s ({type(exc).__name__})"
        else:
            what = f"failed: {type(exc).__name__}: {detail}"
        if not retryable:
            advice = f"check HCLOUD_API_URL ({self.base_url})"
        elif ambiguous:
            advice = (
                "the request may have been applied: look the server up by name before "
                "creating it again"
            )
        else:
            advice = "retry with backoff"
        return HetznerTransportError(
            f"{where} to Hetzner {what}; {advice}",
            retryable=retryable,
            ambiguous=ambiguous,
            method=method,
            path=path,
        )

    def _status_error(
        self, response: httpx.Response, method: str, path: str, idempotent: bool
    ) -> HetznerError:
        code, text, details = _error_parts(response)
        return error_for(
            response.status_code,
            code,
            self._auth.redact(text),
            details,
            where=f"{method} {path}",
            idempotent=idempotent,
            retry_after=retry_after_from_headers(response.headers, time.time()),
        )

    def _protocol_error(
        self, response: httpx.Response, problem: str, idempotent: bool
    ) -> HetznerProtocolError:
        method = response.request.method
        path = response.request.url.path.removeprefix(httpx.URL(self.base_url).path.rstrip("/"))
        note = (
            "; the request was accepted, so look the server up by name before creating again"
            if not idempotent
            else ""
        )
        return HetznerProtocolError(
            f"{method} {path} answered {response.status_code} with {problem}; check that "
            f"HCLOUD_API_URL ({self.base_url}) is the Hetzner Cloud API v1{note}",
            status=response.status_code,
            method=method,
            path=path,
            ambiguous=not idempotent,
        )

    def _one(
        self, response: httpx.Response, key: str, model: type[M], *, idempotent: bool = True
    ) -> M:
        body = self._body(response, idempotent=idempotent)
        if not isinstance(body.get(key), dict):
            raise self._protocol_error(response, f"no {key!r} object", idempotent)
        return self._parse(model, body[key], response, key, idempotent)

    async def _paginate(
        self,
        path: str,
        key: str,
        model: type[M],
        params: Mapping[str, str | int],
        per_page: int,
    ) -> list[M]:
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, got {per_page}")
        items: list[M] = []
        page = 1
        while True:
            query = {**params, "page": page, "per_page": per_page}
            response = await self._request("GET", path, params=query)
            body = self._body(response)
            listed = body.get(key)
            if not isinstance(listed, list):
                raise self._protocol_error(response, f"no {key!r} list", True)
            items.extend(
                self._parse(model, item, response, f"{key}[{i}]", True)
                for i, item in enumerate(listed)
            )
            following = _next_page(body)
            if following is None:
                return items
            if following <= page:
                raise self._protocol_error(
                    response, f"a next page ({following}) that is not after page {page}", True
                )
            page = following


def _next_page(body: Mapping[str, Any]) -> int | None:
    meta = body.get("meta")
    pagination = meta.get("pagination") if isinstance(meta, dict) else None
    following = pagination.get("next_page") if isinstance(pagination, dict) else None
    return following if isinstance(following, int) and not isinstance(following, bool) else None


def _error_parts(response: httpx.Response) -> tuple[str, str, Any]:
    """Hetzner's error code, message and details; else an excerpt of the body."""
    try:
        body = response.json()
    except ValueError:
        return "", excerpt(response.text), None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = error.get("code")
        return (code if isinstance(code, str) else ""), error["message"], error.get("details")
    return "", excerpt(response.text), None
