"""The client against the emulator over real HTTP: round trips, pagination, errors, faults."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from providers.vultr import (
    CreateInstanceRequest,
    Instance,
    VultrAuthError,
    VultrBadRequest,
    VultrClient,
    VultrError,
    VultrNotFound,
    VultrRateLimited,
    VultrServerError,
    VultrTransportError,
    VultrValidationError,
)
from tests.support.emulator import ONE_KEY, TEST_API_KEY, RunningEmulator, running_emulator

CREATE_ROUTE = "POST /v2/instances"
GET_ROUTE = "GET /v2/instances/{instance-id}"
DELETE_ROUTE = "DELETE /v2/instances/{instance-id}"


def spec(label: str, **overrides: Any) -> CreateInstanceRequest:
    fields: dict[str, Any] = {
        "region": "ewr",
        "plan": "vc2-1c-1gb",
        "os_id": 2284,
        "label": label,
        "tags": ["lifecycle", label],
    }
    fields.update(overrides)
    return CreateInstanceRequest(**fields)


def set_faults(emulator: RunningEmulator, **faults: Any) -> None:
    emulator.admin("POST", "/faults", json=faults)


def requests_log(emulator: RunningEmulator) -> list[dict[str, Any]]:
    return emulator.admin("GET", "/requests").json()["requests"]


@pytest.fixture
async def client(fresh_emulator: RunningEmulator) -> AsyncIterator[VultrClient]:
    async with VultrClient(TEST_API_KEY, fresh_emulator.api_url, timeout=10) as vultr:
        yield vultr


@pytest.fixture(scope="module")
def throttled_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """An emulator with a rate limit low enough to reach in a test."""
    with running_emulator(
        tmp_path_factory.mktemp("throttled-emulator"), boot_seconds=1, rate_limit=5
    ) as running:
        yield running


# ---- round trips -------------------------------------------------------------------------


async def test_create_then_get_returns_the_same_server(client: VultrClient) -> None:
    created = await client.create_instance(spec("server-a", user_data="#!/bin/sh\necho hi\n"))
    fetched = await client.get_instance(created.id)
    assert fetched.id == created.id
    assert (fetched.label, fetched.region, fetched.plan, fetched.os_id) == (
        "server-a",
        "ewr",
        "vc2-1c-1gb",
        2284,
    )
    assert fetched.tags == ["lifecycle", "server-a"]
    assert fetched.date_created is not None and fetched.date_created.tzinfo is not None
    assert fetched.date_created == created.date_created


async def test_create_returns_the_one_time_password_but_never_dumps_it(
    client: VultrClient,
) -> None:
    created = await client.create_instance(spec("server-a"))
    assert created.default_password is not None
    assert created.default_password.get_secret_value()
    assert "default_password" not in created.model_dump()


async def test_a_new_server_becomes_ready_after_boot(client: VultrClient) -> None:
    created = await client.create_instance(spec("server-a"))
    assert created.is_ready is False
    await asyncio.sleep(1.2)  # the session emulator boots in 1 s
    assert (await client.get_instance(created.id)).is_ready is True


async def test_delete_removes_the_server_and_a_second_delete_reports_it_gone(
    client: VultrClient,
) -> None:
    created = await client.create_instance(spec("server-a"))
    assert await client.delete_instance(created.id) is True
    assert await client.delete_instance(created.id) is False
    with pytest.raises(VultrNotFound):
        await client.get_instance(created.id)


async def test_halt_stops_and_start_runs_the_server(client: VultrClient) -> None:
    created = await client.create_instance(spec("server-a"))
    await asyncio.sleep(1.2)
    await client.halt_instance(created.id)
    assert (await client.get_instance(created.id)).power_status == "stopped"
    await client.start_instance(created.id)
    assert (await client.get_instance(created.id)).power_status == "running"


async def test_reboot_leaves_a_halted_server_running(client: VultrClient) -> None:
    created = await client.create_instance(spec("server-a"))
    await asyncio.sleep(1.2)
    await client.halt_instance(created.id)
    await client.reboot_instance(created.id)
    assert (await client.get_instance(created.id)).power_status == "running"


@pytest.mark.parametrize("action", ["halt_instance", "start_instance", "reboot_instance"])
async def test_a_power_action_on_a_missing_server_is_not_found(
    client: VultrClient, action: str
) -> None:
    with pytest.raises(VultrNotFound):
        await getattr(client, action)("no-such-instance")


# ---- listing -----------------------------------------------------------------------------


async def test_list_filters_by_label_tag_and_region(client: VultrClient) -> None:
    a = await client.create_instance(spec("server-a", tags=["blue"]))
    b = await client.create_instance(spec("server-b", tags=["blue"], region="ams"))
    await client.create_instance(spec("server-c", tags=["green"]))

    assert [i.id for i in await client.list_instances(label="server-a")] == [a.id]
    assert {i.id for i in await client.list_instances(tag="blue")} == {a.id, b.id}
    assert [i.id for i in await client.list_instances(region="ams")] == [b.id]
    assert await client.list_instances(label="server-a", region="ams") == []


async def test_list_follows_cursors_across_small_pages(
    client: VultrClient, fresh_emulator: RunningEmulator
) -> None:
    created = [await client.create_instance(spec(f"server-{n}")) for n in range(7)]
    listed = await client.list_instances(per_page=3)
    assert [i.id for i in listed] == [i.id for i in created]
    pages = [r for r in requests_log(fresh_emulator) if r["route"] == "GET /v2/instances"]
    assert len(pages) == 3


async def test_list_returns_more_than_one_full_page_of_500(
    client: VultrClient, fresh_emulator: RunningEmulator
) -> None:
    semaphore = asyncio.Semaphore(20)

    async def create(n: int) -> Instance:
        async with semaphore:
            return await client.create_instance(spec(f"bulk-{n}", tags=[]))

    created = await asyncio.gather(*(create(n) for n in range(501)))
    listed = await client.list_instances()
    assert sorted(i.id for i in listed) == sorted(i.id for i in created)
    pages = [r for r in requests_log(fresh_emulator) if r["route"] == "GET /v2/instances"]
    assert len(pages) == 2


async def test_catalog_lists_are_complete_and_consistent(client: VultrClient) -> None:
    catalog = await client.load_catalog()
    assert "ewr" in catalog.regions
    assert "ewr" in catalog.plans["vc2-1c-1gb"].locations
    assert 2284 in catalog.os
    assert all(set(p.locations) <= set(catalog.regions) for p in catalog.plans.values())


async def test_account_and_pending_charges_reflect_a_running_server(
    client: VultrClient,
) -> None:
    created = await client.create_instance(spec("server-a"))
    charges = await client.pending_charges()
    assert len(charges) == 1
    assert created.id in charges[0].description
    assert charges[0].units == 1
    assert charges[0].start_date is not None and charges[0].start_date.tzinfo is not None
    account = await client.get_account()
    assert account.pending_charges == pytest.approx(sum(c.total for c in charges))


# ---- validation and status errors --------------------------------------------------------


async def test_with_a_catalog_loaded_an_impossible_create_is_never_sent(
    client: VultrClient, fresh_emulator: RunningEmulator
) -> None:
    await client.load_catalog()
    with pytest.raises(VultrValidationError, match="unknown region 'atlantis'"):
        await client.create_instance(spec("server-a", region="atlantis"))
    assert not [r for r in requests_log(fresh_emulator) if r["route"] == CREATE_ROUTE]


async def test_without_a_catalog_the_api_refusal_is_a_bad_request(client: VultrClient) -> None:
    with pytest.raises(VultrBadRequest, match="atlantis") as caught:
        await client.create_instance(spec("server-a", region="atlantis"))
    assert (caught.value.status, caught.value.non_retryable, caught.value.ambiguous) == (
        400,
        True,
        False,
    )


async def test_a_missing_server_is_not_found(client: VultrClient) -> None:
    with pytest.raises(VultrNotFound) as caught:
        await client.get_instance("no-such-instance")
    assert caught.value.error_text == "instance not found"


async def test_a_wrong_api_key_is_an_auth_error_naming_the_variable(
    one_key_emulator: RunningEmulator,
) -> None:
    async with VultrClient("a-wrong-key", one_key_emulator.api_url) as vultr:
        with pytest.raises(VultrAuthError, match="^401 from Vultr: check VULTR_API_KEY") as caught:
            await vultr.list_instances()
    assert caught.value.non_retryable is True
    assert "a-wrong-key" not in str(caught.value)


async def test_the_right_api_key_is_accepted(one_key_emulator: RunningEmulator) -> None:
    async with VultrClient(ONE_KEY, one_key_emulator.api_url) as vultr:
        assert isinstance(await vultr.list_instances(), list)


async def test_going_over_the_rate_limit_is_retryable_with_a_delay(
    throttled_emulator: RunningEmulator,
) -> None:
    async with VultrClient(TEST_API_KEY, throttled_emulator.api_url) as vultr:
        results = await asyncio.gather(
            *(vultr.list_regions() for _ in range(12)), return_exceptions=True
        )
    limited = [r for r in results if isinstance(r, VultrRateLimited)]
    assert limited, "expected some of 12 requests over a limit of 5/s to be refused"
    assert all(e.retryable and e.retry_after is not None and e.retry_after >= 1 for e in limited)
    assert all(isinstance(r, list) for r in results if not isinstance(r, VultrError))


# ---- injected faults ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
async def test_an_injected_server_error_on_a_read_is_retryable_not_ambiguous(
    client: VultrClient, fresh_emulator: RunningEmulator, status: int
) -> None:
    created = await client.create_instance(spec("server-a"))
    set_faults(fresh_emulator, rules=[{"route": GET_ROUTE, "status": status, "count": 1}])
    with pytest.raises(VultrServerError) as caught:
        await client.get_instance(created.id)
    error = caught.value
    assert (error.status, error.retryable, error.ambiguous, error.is_locked) == (
        status,
        True,
        False,
        False,
    )
    assert (await client.get_instance(created.id)).id == created.id  # the rule is spent


async def test_an_injected_server_error_on_create_is_retryable_and_ambiguous(
    client: VultrClient, fresh_emulator: RunningEmulator
) -> None:
    set_faults(fresh_emulator, rules=[{"route": CREATE_ROUTE, "status": 503, "count": 1}])
    with pytest.raises(VultrServerError) as caught:
        await client.create_instance(spec("server-a"))
    assert (caught.value.retryable, caught.value.ambiguous) == (True, True)


async def test_an_injected_429_carries_its_retry_after(
    client: VultrClient, fresh_emulator: RunningEmulator
) -> None:
    set_faults(
        fresh_emulator,
        rules=[{"route": "*", "status": 429, "count": 1, "retry_after": 3}],
    )
    with pytest.raises(VultrRateLimited) as caught:
        await client.list_instances()
    assert (caught.value.retryable, caught.value.retry_after) == (True, 3.0)


async def test_a_slow_answer_past_the_client_timeout_is_a_retryable_transport_error(
    fresh_emulator: RunningEmulator,
) -> None:
    set_faults(fresh_emulator, route_latency_ms={"GET /v2/instances": 1500})
    async with VultrClient(TEST_API_KEY, fresh_emulator.api_url, timeout=0.3) as vultr:
        with pytest.raises(VultrTransportError, match="timed out") as caught:
            await vultr.list_instances()
    assert (caught.value.retryable, caught.value.ambiguous, caught.value.status) == (
        True,
        False,
        None,
    )


async def test_a_create_that_times_out_is_retryable_and_ambiguous(
    fresh_emulator: RunningEmulator,
) -> None:
    # The client cannot know whether Vultr applied a create it stopped waiting for.
    set_faults(fresh_emulator, route_latency_ms={CREATE_ROUTE: 1500})
    async with VultrClient(TEST_API_KEY, fresh_emulator.api_url, timeout=0.3) as impatient:
        with pytest.raises(VultrTransportError, match="may have been applied") as caught:
            await impatient.create_instance(spec("server-slow"))
    assert (caught.value.retryable, caught.value.ambiguous) == (True, True)


async def test_a_dropped_create_answer_is_retryable_ambiguous_and_the_server_exists(
    client: VultrClient, fresh_emulator: RunningEmulator
) -> None:
    set_faults(fresh_emulator, drop_create_response={"count": 1})
    with pytest.raises(VultrTransportError, match="look the instance up by label") as caught:
        await client.create_instance(spec("server-dropped"))
    assert (caught.value.retryable, caught.value.ambiguous) == (True, True)
    found = await client.list_instances(label="server-dropped")
    assert [i.label for i in found] == ["server-dropped"]


async def test_a_locked_delete_is_retryable_marked_locked_and_leaves_the_server(
    client: VultrClient, fresh_emulator: RunningEmulator
) -> None:
    created = await client.create_instance(spec("server-a"))
    set_faults(fresh_emulator, locked_delete={"count": 1})
    with pytest.raises(VultrServerError) as caught:
        await client.delete_instance(created.id)
    assert (caught.value.status, caught.value.retryable, caught.value.is_locked) == (
        500,
        True,
        True,
    )
    assert (await client.get_instance(created.id)).id == created.id
    assert await client.delete_instance(created.id) is True


# ---- secrets -----------------------------------------------------------------------------


async def test_no_log_line_over_real_http_shows_the_key(
    fresh_emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    key = "real-http-secret-" + base64.b32encode(b"0123456789").decode()
    set_faults(fresh_emulator, rules=[{"route": GET_ROUTE, "status": 500, "count": 1}])
    async with VultrClient(key, fresh_emulator.api_url) as vultr:
        created = await vultr.create_instance(spec("server-a"))
        with pytest.raises(VultrServerError):
            await vultr.get_instance(created.id)
        await vultr.delete_instance(created.id)
    vultr_lines = [r for r in caplog.records if r.name == "providers.vultr"]
    assert len(vultr_lines) == 3
    for record in caplog.records:
        assert key not in record.getMessage()
        assert key not in repr(record.args)
