"""Vultr behind the Provider protocol, against the emulator over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.models import ServerSpec
from core.naming import MANAGED_TAG, instance_tag
from providers.base import Provider
from providers.errors import ProviderValidationError
from providers.vultr import VultrClient
from providers.vultr.provider import VultrProvider
from tests.providers.catalog_burst import assert_concurrent_quotes_fetch_the_catalog_once
from tests.support.emulator import TEST_API_KEY, RunningEmulator, create_vultr_instance

SPEC = ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284, tags=["team:ci"])


@pytest.fixture
async def provider(fresh_emulator: RunningEmulator) -> AsyncIterator[Provider]:
    async with VultrClient(TEST_API_KEY, fresh_emulator.api_url, timeout=10) as client:
        yield VultrProvider(client)


async def test_a_quote_carries_the_price_and_an_hourly_billing_model(provider: Provider):
    quote = await provider.quote(SPEC)
    assert quote.plan == "vc2-1c-1gb" and quote.monthly_price > 0
    assert quote.hourly_price == pytest.approx(quote.monthly_price / 672)
    assert quote.billing.period_seconds == 3600 and quote.billing.monthly_cap_hours == 672


async def test_an_unknown_region_is_refused_with_the_choices(provider: Provider):
    with pytest.raises(ProviderValidationError, match=r"unknown region 'xxx' \(known: .*ewr"):
        await provider.quote(SPEC.model_copy(update={"region": "xxx"}))


async def test_a_created_instance_carries_our_marks_and_is_found_by_its_owner(
    provider: Provider,
):
    made = await provider.create(SPEC, owner="server-web-1", hostname="web-1")
    assert {MANAGED_TAG, instance_tag("server-web-1"), "team:ci"} <= set(made.tags)
    assert made.name == "server-web-1" and made.created is not None and not made.ready
    assert [i.id for i in await provider.find("server-web-1")] == [made.id]
    assert await provider.find("server-web-2") == []


@pytest.mark.parametrize("filters", ["honoured", "ignored"])
async def test_find_and_list_decide_ownership_on_each_instance(
    provider: Provider, fresh_emulator: RunningEmulator, filters: str
):
    if filters == "ignored":
        fresh_emulator.admin("POST", "/faults", json={"ignore_list_filters": True})
    create_vultr_instance(fresh_emulator, "server-web-1", [])  # looks like ours, is not
    create_vultr_instance(fresh_emulator, "server-web-1", [instance_tag("server-web-1")])
    create_vultr_instance(fresh_emulator, "managed-only", [MANAGED_TAG])
    ours = await provider.create(SPEC, owner="server-web-1", hostname="web-1")
    assert [i.id for i in await provider.find("server-web-1")] == [ours.id]
    owned = await provider.list_owned()
    assert [i.id for i in owned.instances] == [ours.id]
    assert owned.not_ours == (3 if filters == "ignored" else 1)


async def test_get_of_a_missing_instance_is_none_and_delete_counts_gone_as_done(
    provider: Provider, fresh_emulator: RunningEmulator
):
    made = await provider.create(SPEC, owner="server-gone", hostname="gone")
    assert (await provider.get(made.id)) is not None
    assert await provider.delete(made.id) is True
    assert await provider.delete(made.id) is False
    assert await provider.get(made.id) is None


async def test_concurrent_quotes_load_the_catalog_once(
    provider: Provider, fresh_emulator: RunningEmulator
) -> None:
    await assert_concurrent_quotes_fetch_the_catalog_once(provider, SPEC, fresh_emulator)
