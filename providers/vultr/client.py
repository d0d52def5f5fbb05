"""Async client for the subset of Vultr API v2 the orchestrator uses.

One pooled `httpx.AsyncClient` per `VultrClient`. Every response is mapped to a
typed model or to one `VultrError` subclass (see errors.py); nothing from httpx
escapes. The client never retries by itself: retries belong to the caller
(Temporal activity retry policies), which sees `retryable`, `retry_after` and
`ambiguous` on every error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from providers.http import NOT_SENT, TRANSIENT, ApiHttpClient, excerpt
from providers.single_flight import SingleFlight
from providers.vultr.catalog import Catalog, validate_create_request
from providers.vultr.errors import (
    VultrAuthError,
    VultrBadRequest,
    VultrError,
    VultrNotFound,
    VultrProtocolError,
    VultrRateLimited,
    VultrServerError,
    VultrTransportError,
    VultrValidationError,
    parse_retry_after,
)
from providers.vultr.models import (
    Account,
    CreateInstanceRequest,
    Instance,
    OperatingSystem,
    PendingCharge,
    Plan,
    Region,
)

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = ["DEFAULT_BASE_URL", "MAX_PER_PAGE", "VultrClient"]

DEFAULT_BASE_URL = "https://api.vultr.com/v2"
MAX_PER_PAGE = 500  # the API's maximum page size


M = TypeVar("M", bound=BaseModel)


class VultrClient(ApiHttpClient):
    """Vultr API v2 over one connection pool. Use as `async with VultrClient(...) as c:`."""

    _log = logging.getLogger("providers.vultr")

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 50,
    ) -> None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise ValueError(
                "the Vultr API key is empty: set VULTR_API_KEY (any non-empty value works "
                "against the emulator)"
            )
        self.base_url = base_url.rstrip("/")
        self.catalog: Catalog | None = None
        self._catalog_fetch = SingleFlight(self._fetch_catalog)
        super().__init__(
            api_key,
            self.base_url + "/",
            timeout=timeout,
            transport=transport,
            max_connections=max_connections,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> VultrClient:
        """A client for `VULTR_API_URL` with `VULTR_API_KEY`; options as for the constructor."""
        return cls(settings.vultr_key(), settings.vultr_api_url, **options)

    def __repr__(self) -> str:
        return f"VultrClient(base_url={self.base_url!r}, api_key='***', timeout={self.timeout!r})"

    # ---- instances -------------------------------------------------------------------

    async def create_instance(self, request: CreateInstanceRequest | Mapping[str, Any]) -> Instance:
        """Deploy a server. Not idempotent: a lost answer raises with `ambiguous=True`,
        and the caller must look the server up (by label or tag) before creating again.

        Validated first against its own rules and, when loaded, the catalog.
        """
        checked = validate_create_request(request, self.catalog)
        response = await self._request(
            "POST", "/instances", json=checked.api_body(), idempotent=False, expect=(200, 201, 202)
        )
        return self._one(response, "instance", Instance, idempotent=False)

    async def get_instance(self, instance_id: str) -> Instance:
        """The instance; VultrNotFound when there is none (also briefly after a create)."""
        response = await self._request("GET", self._instance_path(instance_id))
        return self._one(response, "instance", Instance)

    async def list_instances(
        self,
        *,
        label: str | None = None,
        tag: str | None = None,
        region: str | None = None,
        per_page: int = MAX_PER_PAGE,
    ) -> list[Instance]:
        """Every instance matching the filters, all pages followed."""
        filters = {"label": label, "tag": tag, "region": region}
        params = {key: value for key, value in filters.items() if value is not None}
        return await self._paginate("/instances", "instances", Instance, params, per_page)

    async def delete_instance(self, instance_id: str) -> bool:
        """Destroy the instance; True if it existed, False if it was already gone (404).

        A locked server answers VultrServerError with `is_locked`: retry shortly.
        """
        response = await self._request(
            "DELETE", self._instance_path(instance_id), expect=(200, 204, 404)
        )
        return response.status_code != 404

    async def halt_instance(self, instance_id: str) -> None:
        """Power off. A halted server is still billed; only deletion stops billing."""
        await self._request("POST", self._instance_path(instance_id, "halt"), expect=(200, 204))

    async def start_instance(self, instance_id: str) -> None:
        await self._request("POST", self._instance_path(instance_id, "start"), expect=(200, 204))

    async def reboot_instance(self, instance_id: str) -> None:
        await self._request("POST", self._instance_path(instance_id, "reboot"), expect=(200, 204))

    # ---- catalog and account ---------------------------------------------------------

    async def list_regions(self, *, per_page: int = MAX_PER_PAGE) -> list[Region]:
        return await self._paginate("/regions", "regions", Region, {}, per_page)

    async def list_plans(
        self, *, plan_type: str | None = None, per_page: int = MAX_PER_PAGE
    ) -> list[Plan]:
        params = {"type": plan_type} if plan_type else {}
        return await self._paginate("/plans", "plans", Plan, params, per_page)

    async def list_os(self, *, per_page: int = MAX_PER_PAGE) -> list[OperatingSystem]:
        return await self._paginate("/os", "os", OperatingSystem, {}, per_page)

    async def load_catalog(self) -> Catalog:
        """The catalog, fetched on the first call and kept: later creates are validated against it.
        Callers that arrive while it is fetched share that fetch (a burst of quotes)."""
        if self.catalog is None:
            self.catalog = await self._catalog_fetch.run()
        return self.catalog

    async def _fetch_catalog(self) -> Catalog:
        """Fetch regions, plans and OS images: three listings, sent together."""
        regions, plans, images = await asyncio.gather(
            self.list_regions(), self.list_plans(), self.list_os()
        )
        return Catalog.build(regions, plans, images)

    async def get_account(self) -> Account:
        response = await self._request("GET", "/account")
        return self._one(response, "account", Account)

    async def pending_charges(self) -> list[PendingCharge]:
        """This month's unbilled lines, one per server (no page size: the route has none)."""
        return await self._paginate(
            "/billing/pending-charges", "pending_charges", PendingCharge, {}, None
        )

    # ---- plumbing --------------------------------------------------------------------

    @staticmethod
    def _instance_path(instance_id: str, action: str | None = None) -> str:
        if not isinstance(instance_id, str) or not instance_id.strip():
            # An empty id would address the collection: DELETE /instances/ is never meant.
            raise VultrValidationError(
                [f"instance id must be a non-empty string, got {instance_id!r}"],
                subject="instance request",
            )
        path = f"/instances/{quote(instance_id, safe='')}"
        return f"{path}/{action}" if action else path

    def _transport_error(
        self, exc: httpx.HTTPError, method: str, path: str, idempotent: bool
    ) -> VultrError:
        detail = self._auth.redact(str(exc)) or type(exc).__name__
        where = f"{method} {path}"
        if isinstance(exc, httpx.DecodingError):
            return VultrProtocolError(
                f"{where}: the response body could not be decoded ({detail}); check that "
                f"VULTR_API_URL ({self.base_url}) is the Vultr API v2",
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
            advice = f"check VULTR_API_URL ({self.base_url})"
        elif ambiguous:
            advice = (
                "the request may have been applied: look the instance up by label "
                "before creating it again"
            )
        else:
            advice = "retry with backoff"
        return VultrTransportError(
            f"{where} to Vultr {what}; {advice}",
            retryable=retryable,
            ambiguous=ambiguous,
            method=method,
            path=path,
        )

    def _status_error(
        self, response: httpx.Response, method: str, path: str, idempotent: bool
    ) -> VultrError:
        status = response.status_code
        text = self._auth.redact(_error_text(response))
        where = f"{method} {path}"
        common: dict[str, Any] = {
            "status": status,
            "error_text": text,
            "method": method,
            "path": path,
        }
        if status in (401, 403):
            reason = text or ("unauthorized" if status == 401 else "forbidden")
            return VultrAuthError(
                f"{status} from Vultr: check VULTR_API_KEY ({reason} on {where}; the key may be "
                "wrong or revoked, or this IP address is not in the key's access list)",
                **common,
            )
        if status == 404:
            return VultrNotFound(
                f"404 from Vultr on {where}: {text or 'not found'}; it does not exist "
                "(already deleted, or a wrong id)",
                **common,
            )
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = (
                f"retry after {retry_after:g} s"
                if retry_after is not None
                else "retry with backoff"
            )
            return VultrRateLimited(
                f"429 from Vultr on {where}: {text or 'rate limit exceeded'}; all workers share "
                f"one request budget per account: {wait}",
                retry_after=retry_after,
                **common,
            )
        if status >= 500:
            # A lookup costs one GET; a missed duplicate costs a billed server. So any 5xx
            # on a non-idempotent request counts as possibly applied.
            ambiguous = not idempotent
            if "locked" in text.lower():
                advice = "the server is locked while Vultr sets it up or changes it: retry shortly"
            elif ambiguous:
                advice = (
                    "the request may have been applied: look the instance up by label "
                    "before creating it again"
                )
            else:
                advice = "Vultr failed; retry with backoff"
            return VultrServerError(
                f"{status} from Vultr on {where}: {text or 'server error'}; {advice}",
                ambiguous=ambiguous,
                **common,
            )
        if 400 <= status < 500:
            return VultrBadRequest(
                f"{status} from Vultr on {where}: {text or 'bad request'}; fix the request, "
                "retrying it unchanged fails the same way",
                **common,
            )
        return VultrProtocolError(
            f"unexpected {status} from Vultr on {where}; check that VULTR_API_URL "
            f"({self.base_url}) is the Vultr API v2",
            ambiguous=not idempotent and 200 <= status < 300,
            **common,
        )

    def _protocol_error(
        self, response: httpx.Response, problem: str, idempotent: bool
    ) -> VultrProtocolError:
        method, path = response.request.method, _path_of(response, self.base_url)
        note = (
            "; the request was accepted, so look the instance up by label before creating again"
            if not idempotent
            else ""
        )
        return VultrProtocolError(
            f"{method} {path} answered {response.status_code} with {problem}; check that "
            f"VULTR_API_URL ({self.base_url}) is the Vultr API v2{note}",
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
        return self._parse(model, body[key], response, key, idempotent=idempotent)

    async def _paginate(
        self,
        path: str,
        key: str,
        model: type[M],
        params: Mapping[str, str | int],
        per_page: int | None,
    ) -> list[M]:
        if per_page is not None and not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, got {per_page}")
        items: list[M] = []
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            query: dict[str, str | int] = dict(params)
            if per_page is not None:
                query["per_page"] = per_page
            if cursor:
                query["cursor"] = cursor
            response = await self._request("GET", path, params=query)
            body = self._body(response)
            page = body.get(key)
            if not isinstance(page, list):
                raise self._protocol_error(response, f"no {key!r} list", True)
            items.extend(
                self._parse(model, item, response, f"{key}[{index}]")
                for index, item in enumerate(page)
            )
            cursor = _next_cursor(body)
            if cursor is None:
                return items
            if cursor in seen:
                raise self._protocol_error(
                    response, f"a next cursor it already gave ({cursor!r})", True
                )
            seen.add(cursor)


def _next_cursor(body: Mapping[str, Any]) -> str | None:
    """`meta.links.next`, or None on the last page (the API sends "" there; some routes
    send no meta at all)."""
    meta = body.get("meta")
    links = meta.get("links") if isinstance(meta, dict) else None
    cursor = links.get("next") if isinstance(links, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None


def _error_text(response: httpx.Response) -> str:
    """Vultr's `error` field, else a short excerpt of whatever the body was."""
    try:
        body = response.json()
    except ValueError:
        return excerpt(response.text)
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return excerpt(response.text)


def _path_of(response: httpx.Response, base_url: str) -> str:
    """The request path relative to the API root, as used in messages and logs."""
    full = response.request.url.path
    root = httpx.URL(base_url).path.rstrip("/")
    return full[len(root) :] if root and full.startswith(root) else full
