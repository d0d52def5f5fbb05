"""What the account is charged: pending charges, the account total and the admin ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.vultr.catalog import PLAN_BY_ID
from emulator.vultr.store import InstanceStore
from emulator.vultr.validation import parse_create_request
from tests.emulator.support import FakeClock, InProcess, MakeEmulator

HOUR = 3600.0


async def _charges(emu: InProcess) -> list[dict[str, Any]]:
    response = await emu.client.get("/v2/billing/pending-charges")
    assert response.status_code == 200
    lines: list[dict[str, Any]] = response.json()["pending_charges"]
    return lines


async def _ledger(emu: InProcess) -> dict[str, Any]:
    body: dict[str, Any] = (await emu.client.get("/admin/ledger")).json()
    return body


async def test_a_new_server_is_billed_one_hour_at_once(emu: InProcess) -> None:
    await emu.create()
    [line] = await _charges(emu)
    assert (line["units"], line["unit_type"]) == (1, "hours")
    assert line["unit_price"] == pytest.approx(5 / 672)
    assert line["total"] == pytest.approx(5 / 672)


async def test_each_started_hour_is_billed_whole(emu: InProcess) -> None:
    await emu.create()
    emu.clock.advance(HOUR + 1)
    [line] = await _charges(emu)
    assert line["units"] == 2


async def test_a_running_servers_line_ends_now(emu: InProcess) -> None:
    created = await emu.create()
    emu.clock.advance(1800)
    [line] = await _charges(emu)
    assert line["start_date"] == created["date_created"]
    assert line["end_date"] == "2024-01-10T12:30:00+00:00"


async def test_deletion_stops_billing(emu: InProcess) -> None:
    created = await emu.create()
    emu.clock.advance(HOUR + 5)
    await emu.client.delete(f"/v2/instances/{created['id']}")
    emu.clock.advance(10 * HOUR)
    [line] = await _charges(emu)
    assert line["units"] == 2
    assert line["end_date"] == "2024-01-10T13:00:05+00:00"


async def test_a_halted_server_is_still_billed(emu: InProcess) -> None:
    created = await emu.create()
    await emu.client.post(f"/v2/instances/{created['id']}/halt")
    emu.clock.advance(3 * HOUR)
    [line] = await _charges(emu)
    assert line["units"] == 3


async def test_billing_runs_from_date_created_in_whole_seconds(emu: InProcess) -> None:
    emu.clock.advance(0.9)  # created at 12:00:00.9, shown as 12:00:00
    await emu.create()
    emu.clock.advance(HOUR - 0.8)  # 13:00:00.1: a second hour has started since 12:00:00
    [line] = await _charges(emu)
    assert line["units"] == 2


async def test_one_line_per_server_and_calendar_month(make_emulator: MakeEmulator) -> None:
    clock = FakeClock(datetime(2024, 1, 31, 23, 30, tzinfo=UTC))
    emu = make_emulator(clock=clock)
    await emu.create(label="a")
    await emu.create(label="b")
    clock.advance(2 * HOUR)
    lines = await _charges(emu)
    assert [(line["start_date"], line["end_date"], line["units"]) for line in lines] == [
        ("2024-01-31T23:30:00+00:00", "2024-02-01T00:00:00+00:00", 1),
        ("2024-02-01T00:00:00+00:00", "2024-02-01T01:30:00+00:00", 1),
    ] * 2
    assert ["a" in lines[0]["description"], "b" in lines[2]["description"]] == [True, True]


async def test_a_month_of_running_costs_the_monthly_price(make_emulator: MakeEmulator) -> None:
    clock = FakeClock(datetime(2024, 1, 1, tzinfo=UTC))
    emu = make_emulator(clock=clock)
    await emu.create(plan="vc2-2c-4gb")
    clock.advance(31 * 24 * HOUR - 1)
    [line] = await _charges(emu)
    assert line["units"] == 672 and line["total"] == pytest.approx(20.0)


async def test_gpu_plans_bill_up_to_730_hours_a_month(make_emulator: MakeEmulator) -> None:
    clock = FakeClock(datetime(2024, 1, 1, tzinfo=UTC))
    emu = make_emulator(clock=clock)
    await emu.create(plan="vcg-a16-2c-8g-2vram")
    clock.advance(31 * 24 * HOUR - 1)
    [line] = await _charges(emu)
    monthly = PLAN_BY_ID["vcg-a16-2c-8g-2vram"].monthly_cost
    assert line["units"] == 730 and line["total"] == pytest.approx(monthly)
    assert line["product"] == "Cloud GPU"


async def test_a_shorter_billing_period_bills_more_units(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(billing_period_seconds=2)
    await emu.create()
    emu.clock.advance(5)
    [line] = await _charges(emu)
    assert line["units"] == 3


async def test_account_pending_charges_is_the_sum_of_the_lines(emu: InProcess) -> None:
    first = await emu.create(plan="vc2-1c-1gb")
    await emu.create(plan="vhf-1c-1gb")
    emu.clock.advance(2 * HOUR + 1)
    await emu.client.delete(f"/v2/instances/{first['id']}")
    emu.clock.advance(HOUR)
    lines = await _charges(emu)
    account = (await emu.client.get("/v2/account")).json()["account"]
    assert account["pending_charges"] == pytest.approx(sum(line["total"] for line in lines))
    assert account["pending_charges"] == pytest.approx(3 * 5 / 672 + 4 * 6 / 672)


async def test_the_ledger_has_a_row_per_instance_ever_created(emu: InProcess) -> None:
    kept = await emu.create(label="kept", tags=["t"])
    gone = await emu.create(label="gone", region="fra", plan="vhf-1c-1gb")
    emu.clock.advance(90 * 60)
    await emu.client.delete(f"/v2/instances/{gone['id']}")
    emu.clock.advance(HOUR)
    ledger = await _ledger(emu)
    rows = {row["instance_id"]: row for row in ledger["ledger"]}
    assert rows[kept["id"]] == {
        "instance_id": kept["id"], "label": "kept", "tags": ["t"], "region": "ewr",
        "plan": "vc2-1c-1gb", "created_at": kept["date_created"], "deleted_at": None,
        "units": 3, "unit_price": pytest.approx(5 / 672), "total": pytest.approx(15 / 672),
    }  # fmt: skip
    assert rows[gone["id"]]["deleted_at"] == "2024-01-10T13:30:00+00:00"
    assert rows[gone["id"]]["units"] == 2
    assert ledger["total"] == pytest.approx(15 / 672 + 12 / 672)


@given(
    lifetime=st.floats(min_value=0, max_value=50 * HOUR),
    afterwards=st.floats(min_value=0, max_value=2000 * HOUR),
    period=st.sampled_from([1.0, 60.0, HOUR]),
)
@settings(max_examples=100, deadline=None)
def test_nothing_is_billed_after_deletion(
    lifetime: float, afterwards: float, period: float
) -> None:
    start = datetime(2024, 5, 31, 22, 0, 0, tzinfo=UTC)
    store = InstanceStore(seed=3, billing_period_seconds=period)
    request = parse_create_request({"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2284})
    instance = store.create(request, start)
    deleted_at = start + timedelta(seconds=lifetime)
    store.delete(instance, deleted_at)
    at_deletion, total_then = store.ledger(deleted_at)
    later, total_later = store.ledger(deleted_at + timedelta(seconds=afterwards))
    assert later == at_deletion and total_later == total_then
    assert total_then == Fraction(at_deletion[0]["units"] * 5, 672)
