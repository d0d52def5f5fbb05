"""Async client for the subset of DigitalOcean API v2 the orchestrator uses: droplets
(create, get, list by tag, delete) and the catalog (sizes, regions, images).

One pooled `httpx.AsyncClient` per client. Every failure becomes one
`providers.errors.ProviderError` (nothing from httpx escapes), with `retryable`,
`retry_after` (from `Retry-After`, else `ratelimit-reset`) and `ambiguous` (a create
that may have been applied) set. The client never retries by itself: retries belong
to the caller. The token goes on each request, never into a message or a log.
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

from providers.digitalocean.catalog import Catalog, check_create
from providers.digitalocean.models import Droplet, Image, Region, Size
from providers.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderNotFound,
    ProviderProtocolError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTransportError,
    ProviderValidationError,
)
from providers.http import NOT_SENT, TRANSIENT, ApiHttpClient, excerpt
from providers.single_flight import SingleFlight

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = ["DEFAULT_BASE_URL", "MAX_PER_PAGE", "DigitalOceanClient", "RateLimitState"]

DEFAULT_BASE_URL = "https://api.digitalocean.com"
MAX_PER_PAGE = 200  # the API's maximum page size
_MAX_PAGES = 10_000  # a listing that never ends is a broken API, not a big account


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """The budget the last answer reported: `ratelimit-limit`, `-remaining`, `-reset`."""

    limit: int
    remaining: int
    reset: float  # epoch seconds


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


class DigitalOceanClient(ApiHttpClient):
    """DigitalOcean API v2 over one connection pool. `async with DigitalOceanClient(...)`."""

    _log = logging.getLogger("providers.digitalocean")

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 50,
        clock: Any = time.time,
    ) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ValueError(
                "the DigitalOcean token is empty: set DIGITALOCEAN_TOKEN (any non-empty "
                "value works against the emulator)"
            )
        self.base_url = base_url.rstrip("/").removesuffix("/v2")
        self.catalog: Catalog | None = None
        self._catalog_fetch = SingleFlight(self._fetch_catalog)
        self.rate_limit: RateLimitState | None = None
        self._clock = clock
        super().__init__(
            token,
            self.base_url + "/v2/",
            timeout=timeout,
            transport=transport,
            max_connections=max_connections,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> DigitalOceanClient:
        """A client for `DIGITALOCEAN_API_URL` with `DIGITALOCEAN_TOKEN`."""
        return cls(settings.digitalocean_key(), settings.digitalocean_api_url, **options)

    def __repr__(self) -> str:
        return f"DigitalOceanClient(base_url={self.base_url!r}, token='***')"

    # ---- droplets --------------------------------------------------------------------

    async def create_droplet(
        self,
        *,
        name: str,
        region: str,
        size: str,
        image: str | int,
        tags: list[str] | None = None,
        user_data: str | None = None,
        ssh_keys: list[str | int] | None = None,
    ) -> Droplet:
        """Create one droplet (202). Not idempotent: a lost or failed answer raises with
        `ambiguous=True`, and the caller must look the droplet up by tag before creating
        again. Checked first (against the catalog when loaded)."""
        tags = list(tags or [])
        check_create(
            self.catalog,
            name=name,
            region=region,
            size=size,
            image=image,
            tags=tags,
            user_data=user_data,
        )
        body: dict[str, Any] = {
            "name": name,
            "region": region,
            "size": size,
            "image": image,
            "tags": tags,
        }
        if user_data is not None:
            body["user_data"] = user_data
        if ssh_keys:
            body["ssh_keys"] = list(ssh_keys)
        response = await self._request(
            "POST", "droplets", json=body, idempotent=False, expect=(201, 202)
        )
        return self._one(response, "droplet", Droplet, idempotent=False)

    async def get_droplet(self, droplet_id: int | str) -> Droplet:
        """The droplet; ProviderNotFound when there is none."""
        response = await self._request("GET", self._droplet_path(droplet_id))
        return self._one(response, "droplet", Droplet)

    async def list_droplets(
        self, *, tag_name: str | None = None, per_page: int = MAX_PER_PAGE
    ) -> list[Droplet]:
        """Every droplet (with `tag_name`: carrying that tag), all pages followed. The
        filter only narrows the listing: decide ownership on each droplet returned."""
        params = {"tag_name": tag_name} if tag_name else {}
        return await self._paginate("droplets", "droplets", Droplet, params, per_page)

    async def delete_droplet(self, droplet_id: int | str) -> bool:
        """Delete; True if it existed, False if it was already gone (404)."""
        response = await self._request(
            "DELETE", self._droplet_path(droplet_id), expect=(202, 204, 404)
        )
        return response.status_code != 404

    # ---- catalog ---------------------------------------------------------------------

    async def list_sizes(self) -> list[Size]:
        return await self._paginate("sizes", "sizes", Size, {}, MAX_PER_PAGE)

    async def list_regions(self) -> list[Region]:
        return await self._paginate("regions", "regions", Region, {}, MAX_PER_PAGE)

    async def list_images(self) -> list[Image]:
        params = {"type": "distribution"}
        return await self._paginate("images", "images", Image, params, MAX_PER_PAGE)

    async def load_catalog(self) -> Catalog:
        """The catalog, fetched on the first call and kept: later creates are checked against it.
        Callers that arrive while it is fetched share that fetch (a burst of quotes)."""
        if self.catalog is None:
            self.catalog = await self._catalog_fetch.run()
        return self.catalog

    async def _fetch_catalog(self) -> Catalog:
        """Fetch sizes, regions and images: three listings, sent together."""
        sizes, regions, images = await asyncio.gather(
            self.list_sizes(), self.list_regions(), self.list_images()
        )
        return Catalog.build(sizes, regions, images)

    # ---- plumbing --------------------------------------------------------------------

    @staticmethod
    def _droplet_path(droplet_id: int | str) -> str:
        text = str(droplet_id)
        if isinstance(droplet_id, bool) or not text.isdigit() or int(text) < 1:
            # Never address the collection (DELETE /droplets deletes by tag).
            raise ProviderValidationError(
                [f"droplet id must be a positive integer, got {droplet_id!r}"],
                subject="droplet request",
                provider="DigitalOcean",
            )
        return f"droplets/{int(text)}"

    def _note_rate_limit(self, headers: httpx.Headers) -> None:
        limit = _int_header(headers, "ratelimit-limit")
        remaining = _int_header(headers, "ratelimit-remaining")
        reset = _int_header(headers, "ratelimit-reset")
        if limit is not None and remaining is not None and reset is not None:
            self.rate_limit = RateLimitState(limit, remaining, float(reset))

    def _retry_after(self, headers: httpx.Headers) -> float | None:
        """`Retry-After` seconds when sent, else the time until `ratelimit-reset`."""
        given = headers.get("retry-after")
        if given is not None:
            try:
                return max(0.0, float(given))
            except ValueError:
                pass
        reset = _int_header(headers, "ratelimit-reset")
        if reset is None:
            return None
        return max(1.0, reset - self._clock())

    def _transport_error(
        self, exc: httpx.HTTPError, method: str, path: str, idempotent: bool
    ) -> ProviderError:
        detail = self._auth.redact(str(exc)) or type(exc).__name__
        where = f"{method} /v2/{path}"
        if isinstance(exc, httpx.DecodingError):
            return ProviderProtocolError(
                f"{where}: the response body could not be decoded ({detail}); check that "
                f"DIGITALOCEAN_API_URL ({self.base_url}) is the DigitalOcean API",
                ambiguous=not idempotent,
                method=method,
                path=path,
            )
        retryable = isinstance(exc, TRANSIENT)
        ambiguous = not idempotent and not isinstance(exc, NOT_SENT)
        if isinstance(exc, httpx.TimeoutException):
            what = f"timed out after {self.timeout:g} s ({type(exc).__name__})"
        else:
            what = f"failed: {type(exc).__name__}: {detail}"
        if not retryable:
            advice = f"check DIGITALOCEAN_API_URL ({self.base_url})"
        elif ambiguous:
            advice = "the droplet may have been created: look it up by tag before creating again"
        else:
            advice = "retry with backoff"
        return ProviderTransportError(
            f"{where} to DigitalOcean {what}; {advice}",
            retryable=retryable,
            ambiguous=ambiguous,
            method=method,
            path=path,
        )

    def _status_error(
        self, response: httpx.Response, method: str, path: str, idempotent: bool
    ) -> ProviderError:
        status = response.status_code
        error_id, text, request_id = _error_fields(response)
        text = self._auth.redact(text)
        where = f"{method} /v2/{path}"
        said = f"{error_id}: {text}" if error_id else text
        ref = f" (request {request_id})" if request_id else ""
        common: dict[str, Any] = {
            "status": status,
            "error_text": text,
            "method": method,
            "path": path,
        }
        head = f"{status} from DigitalOcean on {where}: {said or 'no message'}{ref}"
        lowered = text.lower()
        if status in (401, 403):
            return ProviderAuthError(
                f"{head}; check DIGITALOCEAN_TOKEN (wrong, revoked, or without the scope)",
                **common,
            )
        if status == 404:
            return ProviderNotFound(f"{head}; it does not exist (deleted, or a wrong id)", **common)
        if status == 429:
            retry_after = self._retry_after(response.headers)
            wait = f"retry after {retry_after:g} s" if retry_after is not None else "back off"
            return ProviderRateLimited(
                f"{head}; the token's budget (250/min, 5,000/h) is spent: {wait}",
                retry_after=retry_after,
                **common,
            )
        if status == 422 and "pending event" in lowered:
            return ProviderServerError(f"{head}; the droplet is busy: retry shortly", **common)
        if status == 422 and "limit" in lowered:
            return ProviderQuotaExceeded(
                f"{head}; raise the droplet limit or delete droplets", **common
            )
        if status >= 500:
            # A lookup costs one GET; a missed duplicate costs a billed droplet.
            ambiguous = not idempotent
            advice = (
                "the droplet may have been created: look it up by tag before creating again"
                if ambiguous
                else "retry with backoff"
            )
            return ProviderServerError(f"{head}; {advice}", ambiguous=ambiguous, **common)
        if 400 <= status < 500:
            return ProviderBadRequest(
                f"{head}; fix the request, retrying it unchanged fails the same way", **common
            )
        return ProviderProtocolError(
            f"unexpected {status} from DigitalOcean on {where}; check that DIGITALOCEAN_API_URL "
            f"({self.base_url}) is the DigitalOcean API",
            ambiguous=not idempotent and 200 <= status < 300,
            **common,
        )

    def _protocol_error(
        self, response: httpx.Response, problem: str, idempotent: bool
    ) -> ProviderProtocolError:
        method = response.request.method
        note = "; the create was accepted: look the droplet up by tag" if not idempotent else ""
        return ProviderProtocolError(
            f"{method} {response.request.url.path} answered {response.status_code} with "
            f"{problem}; check that DIGITALOCEAN_API_URL ({self.base_url}) is the "
            f"DigitalOcean API{note}",
            status=response.status_code,
            method=method,
            path=response.request.url.path,
            ambiguous=not idempotent,
        )

    def _one(
        self, response: httpx.Response, key: str, model: type[M], *, idempotent: bool = True
    ) -> M:
        body = self._body(response, idempotent=idempotent)
        if not isinstance(body.get(key), dict):
            raise self._protocol_error(response, f"no {key!r} object", idempotent)
        return self._parse(model, body[key], response, key, idempotent=idempotent)

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
        while page <= _MAX_PAGES:
            query: dict[str, str | int] = {**params, "page": page, "per_page": per_page}
            response = await self._request("GET", path, params=query)
            body = self._body(response)
            listed = body.get(key)
            if not isinstance(listed, list):
                raise self._protocol_error(response, f"no {key!r} list", True)
            items.extend(
                self._parse(model, item, response, f"{key}[{index}]")
                for index, item in enumerate(listed)
            )
            following = _next_page(body)
            if following is None:
                return items
            if following <= page:
                raise self._protocol_error(
                    response, f"a next page ({following}) that is not after page {page}", True
                )
            page = following
        raise ProviderProtocolError(
            f"GET /v2/{path} still had a next page after {_MAX_PAGES} pages; check that "
            f"DIGITALOCEAN_API_URL ({self.base_url}) is the DigitalOcean API"
        )


def _next_page(body: Mapping[str, Any]) -> int | None:
    """The page number in `links.pages.next`, None on the last page (0 when the link has
    none). Only the number is taken: requests always go to the configured API URL."""
    links = body.get("links")
    pages = links.get("pages") if isinstance(links, dict) else None
    following = pages.get("next") if isinstance(pages, dict) else None
    if not isinstance(following, str) or not following:
        return None
    raw = httpx.URL(following).params.get("page")
    return int(raw) if raw is not None and raw.isdigit() else 0  # 0: no usable page number


def _error_fields(response: httpx.Response) -> tuple[str, str, str]:
    """`id`, `message` and `request_id` of DigitalOcean's error body, else an excerpt."""
    try:
        body = response.json()
    except ValueError:
        return "", excerpt(response.text), ""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        error_id = body.get("id") if isinstance(body.get("id"), str) else ""
        request_id = body.get("request_id") if isinstance(body.get("request_id"), str) else ""
        return str(error_id), body["message"], str(request_id)
    return "", excerpt(response.text), ""
