"""The Hetzner client against the emulator's Hetzner face over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.procs import free_port
from providers.errors import ProviderValidationError
from providers.hetzner import HetznerClient
from providers.hetzner.errors import (
    HetznerBadRequest,
    HetznerNotFound,
    HetznerQuotaExceeded,
    HetznerRateLimited,
    HetznerServerError,
    HetznerTransportError,
    HetznerValidationError,
)
from providers.hetzner.models import CreateServerRequest
from tests.support.emulator import TEST_API_KEY, RunningEmulator, start_emulator

REQUEST = CreateServerRequest(
    name="web-1", server_type="cx22", image="ubuntu-24.04", location="fsn1"
)


async def test_create_get_list_and_delete(client: HetznerClient) -> None:
    made = await client.create_server(REQUEST.model_copy(update={"labels": {"team": "ci"}}))
    assert made.name == "web-1" and made.status == "initializing" and made.location == "fsn1"
    got = await client.get_server(made.id)
    assert got.labels == {"team": "ci"} and got.server_type.name == "cx22"
    assert [s.id for s in await client.list_servers(name="web-1")] == [made.id]
    assert await client.delete_server(made.id) is True
    assert (await client.get_server(made.id)).status == "deleting"


async def test_listing_follows_every_page(client: HetznerClient) -> None:
    ids = [
        (await client.create_server(REQUEST.model_copy(update={"name": f"s{i}"}))).id
        for i in range(5)
    ]
    assert [s.id for s in await client.list_servers(per_page=2)] == ids


@pytest.mark.parametrize("filters", ["honoured", "ignored"])
async def test_label_selector_lookups(
    client: HetznerClient, fresh_hetzner: RunningEmulator, filters: str
) -> None:
    if filters == "ignored":
        fresh_hetzner.admin("POST", "/faults", json={"ignore_list_filters": True})
    a = await client.create_server(REQUEST.model_copy(update={"name": "a", "labels": {"k": "1"}}))
    await client.create_server(REQUEST.model_copy(update={"name": "b", "labels": {"k": "2"}}))
    listed = await client.list_servers(label_selector="k=1")
    expected = 2 if filters == "ignored" else 1
    assert len(listed) == expected and listed[0].id == a.id


async def test_catalog_has_prices_per_location_and_refuses_bad_specs(client: HetznerClient) -> None:
    catalog = await client.load_catalog()
    price = catalog.server_types["cpx11"].price_in("ash")
    assert price is not None and price.price_monthly.net > price.price_hourly.net
    bad = REQUEST.model_copy(update={"server_type": "cx22", "location": "ash", "image": "nope"})
    with pytest.raises(HetznerValidationError) as caught:
        await client.create_server(bad)
    message = str(caught.value)
    assert "not sold in 'ash' (it is in: fsn1, nbg1, hel1)" in message
    assert "unknown image 'nope'" in message and "ubuntu-24.04" in message
    assert await client.list_servers() == []  # nothing was sent


async def test_labels_that_do_not_fit_are_refused_before_sending(client: HetznerClient) -> None:
    with pytest.raises(ProviderValidationError, match="label value"):
        await client.create_server(REQUEST.model_copy(update={"labels": {"k": "x" * 64}}))
    assert await client.list_servers() == []


async def test_emulator_answers_map_onto_the_error_set(
    client: HetznerClient, fresh_hetzner: RunningEmulator
) -> None:
    made = await client.create_server(REQUEST)
    with pytest.raises(HetznerBadRequest) as taken:
        await client.create_server(REQUEST)
    assert taken.value.code == "uniqueness_error" and taken.value.status == 409
    with pytest.raises(HetznerNotFound):
        await client.get_server(999)
    assert await client.delete_server(999) is False
    rules = [
        {"route": "GET /v1/servers/{id}", "status": 503, "count": 1},
        {"route": "POST /v1/servers", "status": 500, "count": 1},
    ]
    fresh_hetzner.admin("POST", "/faults", json={"rules": rules, "locked_delete": {"count": 1}})
    with pytest.raises(HetznerServerError) as unavailable:
        await client.get_server(made.id)
    assert unavailable.value.retryable and not unavailable.value.ambiguous
    with pytest.raises(HetznerServerError) as failed_create:
        await client.create_server(REQUEST.model_copy(update={"name": "web-2"}))
    assert failed_create.value.ambiguous  # a 5xx on a create may have been applied
    with pytest.raises(HetznerServerError) as locked:
        await client.delete_server(made.id)
    assert locked.value.code == "locked" and locked.value.retryable


async def test_a_lost_create_answer_is_ambiguous(
    client: HetznerClient, fresh_hetzner: RunningEmulator
) -> None:
    fresh_hetzner.admin("POST", "/faults", json={"drop_create_response": {"count": 1}})
    with pytest.raises(HetznerTransportError) as lost:
        await client.create_server(REQUEST)
    assert lost.value.ambiguous and lost.value.retryable
    assert "look the server up by name" in str(lost.value)
    assert [s.name for s in await client.list_servers(name="web-1")] == ["web-1"]


async def test_a_refused_connection_is_retryable_and_not_ambiguous() -> None:
    async with HetznerClient(TEST_API_KEY, f"http://127.0.0.1:{free_port()}/v1") as nowhere:
        with pytest.raises(HetznerTransportError) as refused:
            await nowhere.create_server(REQUEST)
    assert refused.value.retryable and not refused.value.ambiguous


async def test_rate_limit_headers_are_tracked_and_429_says_when_to_retry(tmp_path: Path) -> None:
    limited = start_emulator(
        tmp_path,
        "hetzner",
        rate_limit=3,
        seed=5,
        extra_args=["--rate-limit-refill-per-second", "0.5", "--server-limit", "1"],
    )
    try:
        async with HetznerClient(TEST_API_KEY, limited.api_url, timeout=10) as api:
            await api.create_server(REQUEST)
            assert api.rate_limit is not None and api.rate_limit.limit == 3
            assert api.rate_limit.remaining == 2
            with pytest.raises(HetznerQuotaExceeded, match="server limit"):
                await api.create_server(REQUEST.model_copy(update={"name": "web-2"}))
            await api.list_servers()
            with pytest.raises(HetznerRateLimited) as caught:
                await api.list_servers()
        assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= 2.5
    finally:
        limited.process.stop()
