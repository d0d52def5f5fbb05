"""The Hetzner ledger: every started hour from `created`, a calendar month capped at the
type's monthly price in its location; deletion stops the bill."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from emulator.hetzner.catalog import SERVER_TYPE_BY_NAME
from tests.emulator.hetzner.support import InProcess, MakeHetzner
from tests.emulator.support import FakeClock

HOURLY = SERVER_TYPE_BY_NAME["cx22"].prices["fsn1"].hourly
MONTHLY = SERVER_TYPE_BY_NAME["cx22"].prices["fsn1"].monthly


async def _row(hz: InProcess) -> dict:  # type: ignore[type-arg]
    ledger = (await hz.client.get("/admin/ledger")).json()
    (row,) = ledger["ledger"]
    assert ledger["total"] == row["total"]
    return row  # type: ignore[no-any-return]


async def test_every_started_hour_is_billed_from_creation(hz: InProcess) -> None:
    await hz.create()
    first = await _row(hz)
    hz.clock.advance(3600 * 2 + 1)
    later = await _row(hz)
    assert first["units"] == 1 and first["total"] == float(HOURLY)
    assert later["units"] == 3 and later["total"] == float(3 * HOURLY)
    assert later["server_type"] == "cx22" and later["location"] == "fsn1"


async def test_a_month_costs_at_most_the_monthly_price(make_hetzner: MakeHetzner) -> None:
    hz = make_hetzner(clock=FakeClock(datetime(2024, 3, 1, tzinfo=UTC)))
    await hz.create()
    hz.clock.advance(3600 * 24 * 30)  # 720 hours: more than the cap's 632
    row = await _row(hz)
    assert row["total"] == float(MONTHLY)
    assert 720 * HOURLY > MONTHLY


async def test_the_cap_is_per_calendar_month(make_hetzner: MakeHetzner) -> None:
    hz = make_hetzner(clock=FakeClock(datetime(2024, 3, 1, tzinfo=UTC)))
    await hz.create()
    hz.clock.advance(3600 * 24 * 31 + 3600 * 10 + 1)  # all of March, then 10 h 1 s of April
    row = await _row(hz)
    assert row["total"] == float(MONTHLY + 11 * HOURLY)  # the 11th hour has started


async def test_deletion_stops_the_bill(hz: InProcess) -> None:
    server_id = (await hz.create())["server"]["id"]
    hz.clock.advance(3600 + 10)
    await hz.client.delete(f"/v1/servers/{server_id}")
    at_delete = await _row(hz)
    hz.clock.advance(3600 * 5)
    assert await _row(hz) == at_delete
    assert at_delete["units"] == 2 and at_delete["deleted_at"] is not None
    assert Decimal(str(at_delete["total"])) == 2 * HOURLY
