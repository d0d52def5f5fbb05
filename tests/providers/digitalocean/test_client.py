"""The DigitalOcean client against the emulator's DigitalOcean face over real HTTP (and,
where the emulator's clock must move, in process): every error mapped, pagination,
tag lookups, validation before sending and the rate-limit headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.procs import free_port
from emulator import create_app
from emulator.digitalocean.config import DigitalOceanConfig
from providers.digitalocean import DigitalOceanClient
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
from tests.emulator.support import FakeClock
from tests.providers.digitalocean.support import DROPLET
from tests.support.emulator import TEST_API_KEY, RunningEmulator, start_emulator

MOCK_TOKEN = "dop_v1_mock0123456789"
SIZE: dict[str, Any] = {"region": "nyc3", "size": "s-1vcpu-1gb", "image": "ubuntu-24-04-x64"}


@pytest.fixture
async def client(fresh_do: RunningEmulator) -> AsyncIterator[DigitalOceanClient]:
    async with DigitalOceanClient(TEST_API_KEY, fresh_do.base, timeout=10) as made:
        yield made


def _create_directly(emulator: RunningEmulator, count: int, **fields: Any) -> list[int]:
    headers = {"Authorization": f"Bearer {TEST_API_KEY}"}
    ids = []
    with httpx.Client(base_url=emulator.api_url, headers=headers, timeout=10) as http:
        for index in range(count):
            body = {**DROPLET, "name": f"d-{index}", **fields}
            ids.append(http.post("/droplets", json=body).raise_for_status().json()["droplet"]["id"])
    return ids


def _requests(emulator: RunningEmulator, route: str) -> int:
    log = emulator.admin("GET", "/requests").json()["requests"]
    return sum(1 for entry in log if entry["route"] == route)


async def test_create_get_and_delete_a_droplet(client: DigitalOceanClient):
    made = await client.create_droplet(name="web-1", tags=["a:b"], user_data="#!/bin/sh", **SIZE)
    assert made.status == "new" and made.tags == ["a:b"] and made.created_at.tzinfo
    assert (await client.get_droplet(made.id)).name == "web-1"
    assert await client.delete_droplet(made.id) is True
    assert await client.delete_droplet(made.id) is False
    with pytest.raises(ProviderNotFound, match="404 from DigitalOcean on GET /v2/droplets/"):
        await client.get_droplet(made.id)


async def test_a_listing_follows_every_page_to_the_end(
    client: DigitalOceanClient, fresh_do: RunningEmulator
):
    ids = _create_directly(fresh_do, 45)
    listed = await client.list_droplets(per_page=20)
    assert [d.id for d in listed] == ids
    assert _requests(fresh_do, "GET /v2/droplets") == 3


@pytest.mark.parametrize("ignored", [False, True])
async def test_a_tag_lookup_narrows_only_when_the_filter_is_honoured(
    client: DigitalOceanClient, fresh_do: RunningEmulator, ignored: bool
):
    if ignored:
        fresh_do.admin("POST", "/faults", json={"ignore_list_filters": True})
    _create_directly(fresh_do, 2, tags=["workflow:server-a"])
    _create_directly(fresh_do, 1, tags=["workflow:server-b"])
    listed = await client.list_droplets(tag_name="workflow:server-a")
    assert len(listed) == (3 if ignored else 2)


async def test_a_create_is_checked_against_the_catalog_before_it_is_sent(
    client: DigitalOceanClient, fresh_do: RunningEmulator
):
    await client.load_catalog()
    with pytest.raises(ProviderValidationError) as caught:
        await client.create_droplet(
            name="web-1", region="xx1", size="s-9vcpu", image="win-95", tags=["bad tag"]
        )
    message = str(caught.value)
    assert "unknown region 'xx1' (known: ams3" in message
    assert "unknown size 's-9vcpu' (known: c-2" in message
    assert "unknown image 'win-95' (known: debian-12-x64" in message
    assert "tag 'bad tag' is not valid" in message
    with pytest.raises(ProviderValidationError, match=r"not offered in region 'tor1' \(offered"):
        await client.create_droplet(name="web-1", region="tor1", size="c-2", image=155112933)
    assert _requests(fresh_do, "POST /v2/droplets") == 0


async def test_a_refused_create_is_a_bad_request_naming_the_api_message(
    client: DigitalOceanClient,
):
    with pytest.raises(ProviderBadRequest, match="422 .*unprocessable_entity: Size 's-9'"):
        await client.create_droplet(name="web-1", region="nyc3", size="s-9", image=155112933)


async def test_a_wrong_token_is_an_auth_error_without_the_token(fresh_do: RunningEmulator):
    async with DigitalOceanClient("wrong-token-123", fresh_do.base, timeout=10) as wrong:
        with pytest.raises(ProviderAuthError, match="check DIGITALOCEAN_TOKEN") as caught:
            await wrong.list_droplets()
    assert "wrong-token-123" not in str(caught.value) and not caught.value.retryable


async def test_server_errors_are_retryable_and_ambiguous_only_on_create(
    client: DigitalOceanClient, fresh_do: RunningEmulator
):
    rules = [
        {"route": "POST /v2/droplets", "status": 500, "count": 1},
        {"route": "GET /v2/droplets", "status": 503, "count": 1},
    ]
    fresh_do.admin("POST", "/faults", json={"rules": rules})
    with pytest.raises(ProviderServerError) as on_create:
        await client.create_droplet(name="web-1", **SIZE)
    assert on_create.value.ambiguous and on_create.value.retryable
    with pytest.raises(ProviderServerError) as on_list:
        await client.list_droplets()
    assert not on_list.value.ambiguous and on_list.value.retryable


async def test_an_injected_429_carries_its_retry_after(
    client: DigitalOceanClient, fresh_do: RunningEmulator
):
    rule = {"route": "GET /v2/droplets/{droplet_id}", "status": 429, "count": 1, "retry_after": 7}
    fresh_do.admin("POST", "/faults", json={"rules": [rule]})
    with pytest.raises(ProviderRateLimited) as caught:
        await client.get_droplet(1)
    assert caught.value.retry_after == 7 and caught.value.retryable


async def test_a_dropped_create_is_an_ambiguous_transport_error_found_by_tag(
    client: DigitalOceanClient, fresh_do: RunningEmulator
):
    fresh_do.admin("POST", "/faults", json={"drop_create_response": {"count": 1}})
    with pytest.raises(ProviderTransportError) as caught:
        await client.create_droplet(name="web-1", tags=["workflow:server-x"], **SIZE)
    assert caught.value.ambiguous and caught.value.retryable
    assert "look it up by tag" in str(caught.value)
    assert [d.name for d in await client.list_droplets(tag_name="workflow:server-x")] == ["web-1"]


async def test_a_locked_delete_is_a_retryable_server_error(
    client: DigitalOceanClient, fresh_do: RunningEmulator
):
    (droplet_id,) = _create_directly(fresh_do, 1)
    fresh_do.admin("POST", "/faults", json={"locked_delete": {"count": 1}})
    with pytest.raises(ProviderServerError, match="pending event") as caught:
        await client.delete_droplet(droplet_id)
    assert caught.value.retryable
    assert await client.delete_droplet(droplet_id) is True


async def test_a_refused_connection_is_retryable_and_not_ambiguous():
    async with DigitalOceanClient(MOCK_TOKEN, f"http://127.0.0.1:{free_port()}", timeout=2) as dead:
        with pytest.raises(ProviderTransportError) as caught:
            await dead.create_droplet(name="web-1", **SIZE)
    assert caught.value.retryable and not caught.value.ambiguous


async def test_a_bad_droplet_id_is_refused_before_sending(client: DigitalOceanClient):
    with pytest.raises(ProviderValidationError, match="positive integer"):
        await client.delete_droplet("")


async def test_the_rate_limit_headers_give_the_wait_and_the_budget():
    clock = FakeClock()
    app = create_app(DigitalOceanConfig(seed=5, rate_limit=2), clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with DigitalOceanClient(
        MOCK_TOKEN, "http://emulator", transport=transport, clock=lambda: clock.now.timestamp()
    ) as limited:
        await limited.list_sizes()
        assert limited.rate_limit is not None and limited.rate_limit.remaining == 4999
        clock.advance(20)
        await limited.list_regions()
        with pytest.raises(ProviderRateLimited) as caught:
            await limited.list_images()
        assert caught.value.retry_after == 40  # ratelimit-reset: the first request + 60 s
        assert limited.rate_limit.remaining == 0
        clock.now += timedelta(seconds=40)
        assert await limited.list_images()


def _mock(handler: Any) -> DigitalOceanClient:
    return DigitalOceanClient(
        MOCK_TOKEN, "https://do.example.test", transport=httpx.MockTransport(handler)
    )


@pytest.mark.parametrize(
    ("answer", "error", "ambiguous"),
    [
        (
            httpx.Response(
                422,
                json={
                    "id": "unprocessable_entity",
                    "message": "creating this/these droplet(s) will exceed your droplet limit",
                },
            ),
            ProviderQuotaExceeded,
            False,
        ),
        (httpx.Response(202, text="<html>proxy</html>"), ProviderProtocolError, True),
        (httpx.Response(202, json={"droplet": {"id": "x"}}), ProviderProtocolError, True),
        (httpx.Response(302, headers={"location": "/"}), ProviderProtocolError, False),
    ],
)
async def test_answers_the_face_cannot_give_are_mapped_too(
    answer: httpx.Response, error: type[ProviderError], ambiguous: bool
):
    async with _mock(lambda request: answer) as mocked:
        with pytest.raises(error) as caught:
            await mocked.create_droplet(name="web-1", **SIZE)
    assert caught.value.ambiguous is ambiguous


async def test_a_next_link_without_a_later_page_is_a_protocol_error():
    body = {
        "droplets": [],
        "links": {"pages": {"next": "https://x/v2/droplets?page=1"}},
        "meta": {"total": 0},
    }
    async with _mock(lambda request: httpx.Response(200, json=body)) as mocked:
        with pytest.raises(ProviderProtocolError, match="not after page 1"):
            await mocked.list_droplets()


async def test_a_spent_minute_budget_over_http_waits_until_ratelimit_reset(
    tmp_path: Path,
):
    limited = start_emulator(
        tmp_path, boot_seconds=0, rate_limit=2, seed=3, provider="digitalocean"
    )
    try:
        async with DigitalOceanClient(MOCK_TOKEN, limited.base, timeout=10) as client:
            await client.list_sizes()
            await client.list_regions()
            with pytest.raises(ProviderRateLimited, match="retry after") as caught:
                await client.list_images()
    finally:
        limited.process.stop()
    assert caught.value.retry_after is not None and 55 <= caught.value.retry_after <= 61
