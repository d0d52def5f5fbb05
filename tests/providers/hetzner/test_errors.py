"""Every Hetzner error answer maps onto providers.errors, over a scripted transport
(codes and bodies the emulator never gives included); the token never leaks."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from providers.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderNotFound,
    ProviderProtocolError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderServerError,
)
from providers.hetzner import HetznerClient
from providers.hetzner.errors import retry_after_from_headers
from tests.providers.hetzner.support import SECRET_TOKEN, error_answer

MakeClient = Callable[..., HetznerClient]


@pytest.mark.parametrize(
    ("status", "code", "kind", "retryable"),
    [
        (400, "invalid_input", ProviderBadRequest, False),
        (409, "uniqueness_error", ProviderBadRequest, False),
        (400, "json_error", ProviderBadRequest, False),
        (401, "unauthorized", ProviderAuthError, False),
        (403, "forbidden", ProviderAuthError, False),
        (404, "not_found", ProviderNotFound, False),
        (429, "rate_limit_exceeded", ProviderRateLimited, True),
        (403, "resource_limit_exceeded", ProviderQuotaExceeded, False),
        (403, "server_limit_reached", ProviderQuotaExceeded, False),
        (423, "locked", ProviderServerError, True),
        (409, "conflict", ProviderServerError, True),
        (500, "server_error", ProviderServerError, True),
        (503, "unavailable", ProviderServerError, True),
        (502, "", ProviderServerError, True),
        (418, "", ProviderBadRequest, False),
    ],
)
async def test_each_code_maps_onto_its_error(
    mock_client: MakeClient, status: int, code: str, kind: type[ProviderError], retryable: bool
) -> None:
    client = mock_client(error_answer(status, code))
    with pytest.raises(kind) as caught:
        await client.get_server(1)
    assert caught.value.status == status and caught.value.retryable is retryable
    assert "GET /servers/1" in str(caught.value)


async def test_quota_message_says_the_limit_is_reached(mock_client: MakeClient) -> None:
    client = mock_client(error_answer(403, "resource_limit_exceeded", "server limit exceeded"))
    with pytest.raises(ProviderQuotaExceeded, match="server limit is reached: delete servers"):
        await client.list_servers()


async def test_invalid_input_names_the_fields(mock_client: MakeClient) -> None:
    details = {"fields": [{"name": "name", "messages": ["is not a valid hostname"]}]}
    body = {"error": {"code": "invalid_input", "message": "invalid input", "details": details}}
    client = mock_client(lambda r: httpx.Response(400, json=body))
    with pytest.raises(ProviderBadRequest, match=r"\(name: is not a valid hostname\)"):
        await client.list_servers()


async def test_retry_after_comes_from_ratelimit_reset(mock_client: MakeClient) -> None:
    reset = str(int(time.time()) + 3600)
    headers = {"RateLimit-Limit": "3600", "RateLimit-Remaining": "0", "RateLimit-Reset": reset}
    client = mock_client(error_answer(429, "rate_limit_exceeded", headers=headers))
    with pytest.raises(ProviderRateLimited) as caught:
        await client.list_servers()
    # An empty bucket of 3,600 full again in an hour: one request per second.
    assert caught.value.retry_after == pytest.approx(1.0, abs=0.01)
    assert client.rate_limit is not None and client.rate_limit.remaining == 0


def test_retry_after_falls_back_to_the_retry_after_header() -> None:
    assert retry_after_from_headers({"Retry-After": "7"}, now=0) == 7
    assert retry_after_from_headers({}, now=0) is None


async def test_a_body_that_is_not_json_is_a_protocol_error(mock_client: MakeClient) -> None:
    client = mock_client(lambda r: httpx.Response(200, text="<html>hello</html>"))
    with pytest.raises(ProviderProtocolError, match="HCLOUD_API_URL"):
        await client.list_servers()


async def test_a_create_answered_with_a_bad_body_is_ambiguous(mock_client: MakeClient) -> None:
    from providers.hetzner.models import CreateServerRequest

    client = mock_client(lambda r: httpx.Response(201, json={"server": {"id": "x"}}))
    request = CreateServerRequest(name="a", server_type="cx22", image="ubuntu-24.04")
    with pytest.raises(ProviderProtocolError) as caught:
        await client.create_server(request)
    assert caught.value.ambiguous


async def test_a_non_numeric_id_is_refused_before_sending(mock_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = mock_client(lambda r: seen.append(r) or httpx.Response(200, json={}))  # type: ignore[func-returns-value]
    with pytest.raises(ProviderError, match="positive integer"):
        await client.delete_server("../servers")
    assert seen == []


async def test_the_token_is_sent_as_bearer_and_never_leaks(mock_client: MakeClient) -> None:
    seen: list[httpx.Request] = []

    def echo(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            401, json={"error": {"code": "unauthorized", "message": f"bad {SECRET_TOKEN}"}}
        )

    client = mock_client(echo)
    with pytest.raises(ProviderAuthError) as caught:
        await client.list_servers()
    assert seen[0].headers["Authorization"] == f"Bearer {SECRET_TOKEN}"
    for text in (str(caught.value), repr(caught.value), caught.value.error_text, repr(client)):
        assert SECRET_TOKEN not in text
    assert "HCLOUD_TOKEN" in str(caught.value)


def test_an_empty_token_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="HCLOUD_TOKEN"):
        HetznerClient("  ")


async def test_a_next_page_that_goes_backwards_is_a_protocol_error(
    mock_client: MakeClient,
) -> None:
    meta = {"pagination": {"page": 1, "per_page": 50, "next_page": 1}}
    client = mock_client(lambda r: httpx.Response(200, json={"servers": [], "meta": meta}))
    with pytest.raises(ProviderProtocolError, match="next page"):
        await client.list_servers()
