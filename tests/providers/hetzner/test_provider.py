"""Hetzner behind the Provider protocol, against the emulator's Hetzner face over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from core.models import ServerSpec
from core.naming import MANAGED_TAG, instance_tag
from providers.base import Provider
from providers.errors import ProviderBadRequest, ProviderValidationError
from providers.hetzner import HetznerClient, HetznerProvider
from tests.providers.catalog_burst import assert_concurrent_quotes_fetch_the_catalog_once
from tests.support.emulator import TEST_API_KEY, RunningEmulator

UBUNTU_X86 = 161547269  # ubuntu-24.04 on x86 in the emulator's catalog
SPEC = ServerSpec(region="fsn1", plan="cx22", os_id=UBUNTU_X86, tags=["team:ci"])


@pytest.fixture
async def provider(fresh_hetzner: RunningEmulator) -> AsyncIterator[Provider]:
    async with HetznerClient(TEST_API_KEY, fresh_hetzner.api_url, timeout=10) as client:
        yield HetznerProvider(client)


def create_directly(emulator: RunningEmulator, name: str, labels: dict[str, str]) -> int:
    response = httpx.post(
        f"{emulator.api_url}/servers",
        headers={"Authorization": f"Bearer {TEST_API_KEY}"},
        json={"name": name, "server_type": "cx22", "image": "ubuntu-24.04", "labels": labels},
    )
    response.raise_for_status()
    server_id: int = response.json()["server"]["id"]
    return server_id


async def test_a_quote_carries_the_price_and_a_monthly_capped_billing_model(provider: Provider):
    quote = await provider.quote(SPEC)
    assert quote.plan == "cx22" and quote.hourly_price == pytest.approx(0.006)
    assert quote.monthly_price == pytest.approx(3.79)
    assert quote.billing.period_seconds == 3600
    assert quote.billing.monthly_cap_hours == pytest.approx(3.79 / 0.006)


async def test_an_unknown_location_is_refused_with_the_choices(provider: Provider):
    with pytest.raises(ProviderValidationError, match=r"unknown location 'xxx' \(known: .*fsn1"):
        await provider.quote(SPEC.model_copy(update={"region": "xxx"}))


async def test_a_created_instance_carries_our_marks_and_is_found_by_its_owner(
    provider: Provider,
):
    made = await provider.create(SPEC, owner="server-web-1", hostname="web-1")
    assert {MANAGED_TAG, instance_tag("server-web-1"), "team:ci"} <= set(made.tags)
    assert made.name == "server-web-1" and made.created is not None and not made.ready
    assert [i.id for i in await provider.find("server-web-1")] == [made.id]
    assert await provider.find("server-web-2") == []


async def test_a_name_conflict_with_our_own_server_returns_it(provider: Provider):
    first = await provider.create(SPEC, owner="server-web-1", hostname="web-1")
    again = await provider.create(SPEC, owner="server-web-1", hostname="web-1")
    assert again.id == first.id
    assert [i.id for i in await provider.find("server-web-1")] == [first.id]


async def test_a_name_taken_by_someone_else_is_refused(
    provider: Provider, fresh_hetzner: RunningEmulator
):
    create_directly(fresh_hetzner, "server-web-1", {"owner": "someone-else"})
    with pytest.raises(ProviderBadRequest, match="is not ours"):
        await provider.create(SPEC, owner="server-web-1", hostname="web-1")


async def test_a_tag_that_does_not_fit_a_label_is_refused(provider: Provider):
    spec = SPEC.model_copy(update={"tags": ["team:has spaces"]})
    with pytest.raises(ProviderValidationError, match="label value 'has spaces'"):
        await provider.create(spec, owner="server-web-1", hostname="web-1")


@pytest.mark.parametrize("filters", ["honoured", "ignored"])
async def test_find_and_list_decide_ownership_on_each_instance(
    provider: Provider, fresh_hetzner: RunningEmulator, filters: str
):
    if filters == "ignored":
        fresh_hetzner.admin("POST", "/faults", json={"ignore_list_filters": True})
    create_directly(fresh_hetzner, "lookalike", {"workflow": "server-web-1"})
    create_directly(fresh_hetzner, "managed-only", {"managed-by": "vultr-lifecycle"})
    create_directly(fresh_hetzner, "unrelated", {})
    ours = await provider.create(SPEC, owner="server-web-1", hostname="web-1")
    assert [i.id for i in await provider.find("server-web-1")] == [ours.id]
    owned = await provider.list_owned()
    assert [i.id for i in owned.instances] == [ours.id]
    assert owned.not_ours == (3 if filters == "ignored" else 1)


async def test_ready_once_running(provider: Provider):
    made = await provider.create(SPEC, owner="server-web-1", hostname="web-1")
    current = made
    for _ in range(50):
        found = await provider.get(made.id)
        assert found is not None
        current = found
        if current.ready:
            break
        await asyncio.sleep(0.1)
    assert current.ready and current.status == "running" and current.ip


async def test_get_of_a_missing_instance_is_none_and_delete_counts_gone_as_done(
    provider: Provider,
):
    made = await provider.create(SPEC, owner="server-gone", hostname="gone")
    assert (await provider.get(made.id)) is not None
    assert await provider.delete(made.id) is True
    assert await provider.delete(made.id) is True  # still deleting: under way
    assert await provider.delete("123456") is False
    assert await provider.get("123456") is None


async def test_concurrent_quotes_load_the_catalog_once(
    provider: Provider, fresh_hetzner: RunningEmulator
) -> None:
    await assert_concurrent_quotes_fetch_the_catalog_once(provider, SPEC, fresh_hetzner)
