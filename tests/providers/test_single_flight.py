"""SingleFlight: one call for every caller that arrives while it runs."""

from __future__ import annotations

import asyncio

import pytest

from providers.single_flight import SingleFlight


class Loader:
    def __init__(self, *, fail_first: bool = False) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self._fail_first = fail_first

    async def __call__(self) -> str:
        self.calls += 1
        await self.release.wait()
        if self._fail_first and self.calls == 1:
            raise RuntimeError("catalog unavailable")
        return f"catalog {self.calls}"


async def test_callers_that_arrive_during_the_call_share_it_and_a_later_one_calls_again() -> None:
    loader = Loader()
    flight = SingleFlight(loader)
    waiting = [asyncio.create_task(flight.run()) for _ in range(20)]
    await asyncio.sleep(0)
    loader.release.set()
    assert await asyncio.gather(*waiting) == ["catalog 1"] * 20
    assert loader.calls == 1
    assert await flight.run() == "catalog 2"


async def test_a_failed_call_reaches_its_waiters_and_the_next_caller_calls_again() -> None:
    loader = Loader(fail_first=True)
    flight = SingleFlight(loader)
    waiting = [asyncio.create_task(flight.run()) for _ in range(3)]
    await asyncio.sleep(0)
    loader.release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert [str(o) for o in outcomes] == ["catalog unavailable"] * 3
    assert await flight.run() == "catalog 2"
    assert loader.calls == 2


async def test_a_cancelled_caller_leaves_the_call_to_the_others() -> None:
    loader = Loader()
    flight = SingleFlight(loader)
    cancelled, kept = asyncio.create_task(flight.run()), asyncio.create_task(flight.run())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    loader.release.set()
    assert await kept == "catalog 1"
    assert loader.calls == 1
