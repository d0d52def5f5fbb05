"""DigitalOcean behind the Provider protocol, against the emulator's face over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core import billing
from core.models import ServerSpec
from core.naming import MANAGED_TAG, instance_tag
from core.settings import load_settings
from providers.base import Provider
from providers.digitalocean import DigitalOceanClient, DigitalOceanProvider
from providers.errors import ProviderTransportError, ProviderValidationError
from tests.providers.catalog_burst import assert_concurrent_quotes_fetch_the_catalog_once
from tests.support.emulator import TEST_API_KEY, RunningEmulator

SPEC = ServerSpec(region="nyc3", plan="s-1vcpu-1gb", os_id=155112933, tags=["team:ci"])


@pytest.fixture
async def provider(fresh_do: RunningEmulator) -> AsyncIterator[Provider]:
    async with DigitalOceanClient(TEST_API_KEY, fresh_do.base, timeout=10) as client:
        yield DigitalOceanProvider(client)


def create_directly(emulator: RunningEmulator, name: str, tags: list[str]) -> int:
    response = httpx.post(
        f"{emulator.api_url}/droplets",
        headers={"Authorization": f"Bearer {TEST_API_KEY}"},
        json={
            "name": name,
            "region": "nyc3",
            "size": "s-1vcpu-1gb",
            "image": "ubuntu-24-04-x64",
            "tags": tags,
        },
        timeout=10,
    )
    response.raise_for_status()
    droplet_id: int = response.json()["droplet"]["id"]
    return droplet_id


async def test_a_quote_carries_the_price_and_a_per_second_billing_model(provider: Provider):
    quote = await provider.quote(SPEC)
    assert quote.plan == "s-1vcpu-1gb" and quote.monthly_price == 6
    assert quote.hourly_price == pytest.approx(6 / 672)
    model = quote.billing
    assert model.per_second and model.minimum_seconds == 60 and model.minimum_charge == 0.01
    assert model.monthly_cap_hours == 672
    created = datetime(2026, 1, 1, tzinfo=UTC)
    assert billing.charge_for(model, created, created + timedelta(seconds=5), 0.1) == 0.01
    month = billing.charge_for(model, created, created + timedelta(days=29), 6 / 672)
    assert month == pytest.approx(6.0)


async def test_the_cap_hours_come_from_the_setting(fresh_do: RunningEmulator):
    settings = load_settings(
        digitalocean_token=TEST_API_KEY,
        digitalocean_monthly_cap_hours=730,
        digitalocean_api_url=fresh_do.base,
    )
    async with DigitalOceanClient.from_settings(settings, timeout=10) as client:
        quote = await DigitalOceanProvider(
            client, monthly_cap_hours=settings.digitalocean_monthly_cap_hours
        ).quote(SPEC)
    assert quote.billing.monthly_cap_hours == 730 and quote.hourly_price == pytest.approx(6 / 730)


async def test_an_unknown_region_is_refused_with_the_choices(provider: Provider):
    with pytest.raises(ProviderValidationError, match=r"unknown region 'xxx' \(known: .*nyc3"):
        await provider.quote(SPEC.model_copy(update={"region": "xxx"}))


async def test_a_tag_digitalocean_cannot_store_is_refused_before_sending(provider: Provider):
    with pytest.raises(ProviderValidationError, match="tag 'team ci' is not valid"):
        await provider.quote(SPEC.model_copy(update={"tags": ["team ci"]}))


async def test_a_created_instance_carries_our_marks_and_is_found_by_its_owner(
    provider: Provider,
):
    made = await provider.create(SPEC, owner="server-web-1", hostname="web-1")
    assert {MANAGED_TAG, instance_tag("server-web-1"), "team:ci"} <= set(made.tags)
    assert made.name == "web-1" and made.created is not None and not made.ready
    assert [i.id for i in await provider.find("server-web-1")] == [made.id]
    assert await provider.find("server-web-2") == []


async def test_an_instance_is_ready_once_active(provider: Provider):
    made = await provider.create(SPEC, owner="server-web-1", hostname="web-1")
    for _ in range(40):  # the session emulator boots in 1 s
        shown = await provider.get(made.id)
        if shown is not None and shown.ready:
            break
        await asyncio.sleep(0.05)
    assert shown is not None and shown.ready and shown.status == "active" and shown.ip


@pytest.mark.parametrize("filters", ["honoured", "ignored"])
async def test_find_and_list_decide_ownership_on_each_instance(
    provider: Provider, fresh_do: RunningEmulator, filters: str
):
    if filters == "ignored":
        fresh_do.admin("POST", "/faults", json={"ignore_list_filters": True})
    create_directly(fresh_do, "web-1", [])  # looks like ours, is not
    create_directly(fresh_do, "web-1", [instance_tag("server-web-1")])
    create_directly(fresh_do, "managed-only", [MANAGED_TAG])
    ours = await provider.create(SPEC, owner="server-web-1", hostname="web-1")
    assert [i.id for i in await provider.find("server-web-1")] == [ours.id]
    owned = await provider.list_owned()
    assert [i.id for i in owned.instances] == [ours.id]
    assert owned.not_ours == (3 if filters == "ignored" else 1)


async def test_after_an_ambiguous_create_find_returns_the_droplet(
    provider: Provider, fresh_do: RunningEmulator
):
    fresh_do.admin("POST", "/faults", json={"drop_create_response": {"count": 1}})
    with pytest.raises(ProviderTransportError) as caught:
        await provider.create(SPEC, owner="server-web-1", hostname="web-1")
    assert caught.value.ambiguous
    (found,) = await provider.find("server-web-1")
    assert found.name == "web-1"


async def test_get_of_a_missing_instance_is_none_and_delete_counts_gone_as_done(
    provider: Provider,
):
    made = await provider.create(SPEC, owner="server-gone", hostname="gone")
    assert (await provider.get(made.id)) is not None
    assert await provider.delete(made.id) is True
    assert await provider.delete(made.id) is False
    assert await provider.get(made.id) is None


async def test_concurrent_quotes_load_the_catalog_once(
    provider: Provider, fresh_do: RunningEmulator
) -> None:
    await assert_concurrent_quotes_fetch_the_catalog_once(provider, SPEC, fresh_do)
