"""More than N requests per second from one client IP get 429 with Retry-After."""

from __future__ import annotations

from tests.emulator.support import InProcess, MakeEmulator, client_for


async def _statuses(emu: InProcess, count: int) -> list[int]:
    return [(await emu.client.get("/v2/account")).status_code for _ in range(count)]


async def test_requests_beyond_the_limit_in_one_second_get_429(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(rate_limit=5)
    assert await _statuses(emu, 7) == [200] * 5 + [429] * 2


async def test_a_429_carries_retry_after_in_whole_seconds_and_the_error_body(
    make_emulator: MakeEmulator,
) -> None:
    emu = make_emulator(rate_limit=1)
    await emu.client.get("/v2/account")
    emu.clock.advance(0.25)
    refused = await emu.client.get("/v2/account")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["status"] == 429 and refused.json()["error"]


async def test_the_window_slides_so_a_client_that_waits_is_served(
    make_emulator: MakeEmulator,
) -> None:
    emu = make_emulator(rate_limit=2)
    assert await _statuses(emu, 3) == [200, 200, 429]
    emu.clock.advance(1.0)
    assert await _statuses(emu, 2) == [200, 200]


async def test_each_client_ip_has_its_own_budget(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(rate_limit=1)
    other = client_for(emu.app, ip="198.51.100.7")
    try:
        assert (await emu.client.get("/v2/account")).status_code == 200
        assert (await other.get("/v2/account")).status_code == 200
        assert (await emu.client.get("/v2/account")).status_code == 429
    finally:
        await other.aclose()


async def test_admin_routes_are_not_rate_limited(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(rate_limit=1)
    statuses = [(await emu.client.get("/admin/config")).status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert (await emu.client.get("/v2/account")).status_code == 200


async def test_a_rate_limit_of_zero_admits_everything(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(rate_limit=0)
    assert set(await _statuses(emu, 50)) == {200}
