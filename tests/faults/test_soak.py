"""The soak's quick size (bench/soak.py --quick) through the bench's own code: three
`python worker.py`, the Vultr, Hetzner and DigitalOcean emulators, random jobs, claims,
terminations and a warm pool for 105 s while every fault kind is injected at least once
(one at a time), then drained; every invariant must hold.

Size: 80 s period, 40 s margin, 20 s DigitalOcean idle window, quota 4 per provider, at
most 3 servers started directly per provider; about 3 minutes with start-up (~25 s on
a loaded machine), drain (15 s at deadlines, then terminate-now) and the checks.

Why a 40 s margin is enough (and the DigitalOcean bound of the same 40 s): faults come
one at a time, 2-4 s apart, so a deadline meets at most one fault and the tail of the
one before. The longest delays a delete can meet are:
- a worker SIGKILLed mid-activity: a lost MongoDB call is retried when its 15 s
  start-to-close timeout passes, a provider call after its 5 s heartbeat timeout; the
  workflow's next task leaves the dead worker's sticky queue within ~10 s
  (test_shared_workers); two other workers serve, so the 1-10 s restart does not count;
- a Temporal restart: down 1-3 s, ~5-10 s to start on a loaded machine, and the
  workers' pollers reconnect within ~10 s (test_temporal_restart allows 10 s);
- MongoDB frozen 2-5 s or restarted (down 1-3 s): the termination slot is waited for at
  most a quarter of the margin (10 s), then the delete goes on without it;
- provider faults: 5xx/429 for 3-8 s, a locked delete or DELETE latency (<= 3 s).
The worst single one is about 25 s; with the tail of the previous fault (<= 10 s) that
leaves the margin 5+ s, and the 80 s period leaves 40 s from creation to the first
deadline for boot (2 s) and readiness polls (2 s apart). Measured: 166-237 s wall in
five runs, load average 2-9 (another suite, or a 30-minute soak, beside it).
"""

from __future__ import annotations

import time

import pytest

from bench.soak import preset, print_report, run_soak
from bench.soak_faults import FAULT_KINDS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 7


async def test_quick_soak_meets_every_invariant(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The soak restarts its own embedded MongoDB: never a shared one.
    monkeypatch.delenv("MONGO_URI", raising=False)
    began = time.monotonic()
    result = await run_soak(preset(quick=True, seed=SEED))
    wall = time.monotonic() - began
    print_report(result)
    report = capsys.readouterr().out
    print(f"{report}\nquick soak: {wall:.0f} s wall")

    verdict = result.verdict
    assert verdict.ok, report
    assert set(result.faults) == set(FAULT_KINDS), f"not every fault kind ran:\n{report}"
    measured = verdict.measured
    assert measured["instances left at any provider"] == 0
    assert measured["servers deleted while a task ran"] == 0
    assert measured["billed periods beyond the intended ones"] == 0
    assert measured["unmanaged instances touched"] == 0
    assert measured["quota exceeded (sampled)"] == 0
    assert measured["workflows stuck"] == 0
    assert result.traffic["servers_seen"] > 0 and result.traffic["jobs"], report
