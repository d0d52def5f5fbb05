"""`starter.py demo`: the whole product in under two minutes on a private local stack.

A 60 s billing "hour", a 5 s margin and a 3 s boot make an hour's decisions visible in
a minute. Servers are provisioned at each provider of DEMO_PROVIDERS (Vultr, Hetzner and
DigitalOcean, each on its emulator); fake jobs mark them busy and idle. At the hourly
providers the ones whose jobs end early are deleted by their own workflow 5 s before
their first boundary, and one job runs across its first boundary, so that server is
billed two periods (and is then released at once with `terminate --now`, rather than
kept for the rest of the paid period, to keep the demo short). DigitalOcean bills per
second: its Droplets are deleted IDLE_WINDOW s after their last job, and the last one
serves a burst of two jobs inside its window. Per provider, the bill of our cost report
is compared with that emulator's own ledger.

The stack lives in `.devstack/demo` with ports of its own, so it never clashes with
`starter.py dev`; each run starts from empty data.
"""

from __future__ import annotations

import asyncio
import fcntl
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from cli.render import format_time, state_text
from client.errors import FleetError
from client.fleet import ServerFleet, build_overrides, build_spec
from client.reports import load_cost_report
from core.lifecycle import FINAL_STATES, SERVING_STATES, ServerState
from core.models import ServerStatus
from core.settings import Settings, SettingsError, load_settings
from devstack.components import PROJECT_ROOT
from devstack.procs import ComponentError, interrupted_by_termination
from devstack.stack import (
    DIGITALOCEAN_STATE_FILE,
    EMULATOR_API_KEY,
    EMULATOR_STATE_FILE,
    HETZNER_STATE_FILE,
    DevStack,
    DevStackOptions,
    DevStackUrls,
)

__all__ = ["DEMO_DATA_DIR", "DEMO_PROVIDERS", "DemoProvider", "JobPlan", "job_plans", "run_demo"]

DEMO_DATA_DIR = PROJECT_ROOT / ".devstack" / "demo"
PERIOD = 60
MARGIN = 5
BOOT = 3.0
REFRESH_SECONDS = 0.5
# No server of the demo lives past its second period; anything slower is a failure.
SERVER_DEADLINE_SECONDS = 2 * PERIOD + 30
# A per-second provider's idle window: short, so its Droplets go within the demo.
IDLE_WINDOW = 10


@dataclass(frozen=True)
class DemoProvider:
    """Where and what the demo provisions at one provider, and its emulator's URL."""

    provider: str
    region: str
    plans: tuple[str, ...]  # cycled through by the servers
    image: str  # the spec's image: one of that provider's catalog
    currency: str
    api_url: Callable[[DevStackUrls], str | None]  # the emulator the dev stack started
    idle_window: int | None = None  # per-second billing: deleted this long after idling


# A provider whose emulator the dev stack starts is one more entry here.
DEMO_PROVIDERS: tuple[DemoProvider, ...] = (
    DemoProvider(
        "vultr",
        "ewr",
        ("vc2-1c-1gb", "vc2-2c-4gb", "vc2-4c-8gb", "vc2-1c-2gb", "vc2-2c-2gb", "vc2-6c-16gb"),
        "2284",  # Ubuntu 24.04 x64
        "$",
        lambda urls: urls.vultr_api_url,
    ),
    DemoProvider(
        "hetzner",
        "fsn1",
        ("cx22", "cpx11", "cx32", "cax11", "cpx21", "cx42"),
        "ubuntu-24.04",
        "€",
        lambda urls: urls.hetzner_api_url,
    ),
    DemoProvider(
        "digitalocean",
        "nyc3",
        ("s-1vcpu-1gb", "s-1vcpu-2gb", "s-2vcpu-2gb", "s-2vcpu-4gb", "s-4vcpu-8gb"),
        "ubuntu-24-04-x64",
        "$",
        lambda urls: urls.digitalocean_api_url,
        idle_window=IDLE_WINDOW,
    ),
)
_CURRENCY = {p.provider: p.currency for p in DEMO_PROVIDERS}


def _money(cost: float, provider: str) -> str:
    return f"{_CURRENCY.get(provider, '$')}{cost:.4f}"


@dataclass(frozen=True)
class JobPlan:
    """One fake job: busy from `start` to `end` seconds after the server was created."""

    server: str
    task_id: str
    start: float
    end: float
    release_now: bool = False  # terminate --now once the job is done


def job_plans(names: list[str]) -> list[JobPlan]:
    """Short, staggered jobs on every server but the last; the last one's job runs
    across its first boundary (at PERIOD s), so it is billed two periods."""
    plans = []
    for i, name in enumerate(names[:-1]):
        start = 5.0 * i
        plans.append(JobPlan(name, f"job-{i + 1}", start, start + 10 + 5 * i))
    last = names[-1]
    plans.append(JobPlan(last, f"job-{len(names)}", 0.0, PERIOD + 5, release_now=True))
    return plans


def burst_plans(names: list[str]) -> list[JobPlan]:
    """For a per-second provider: one short job per server, and on the last one a burst
    of two jobs whose gap is shorter than the idle window, so one Droplet serves both."""
    plans = [JobPlan(name, f"job-{i + 1}", 2.0 * i, 2.0 * i + 5) for i, name in enumerate(names)]
    last = names[-1]
    gap = IDLE_WINDOW / 2
    plans.append(JobPlan(last, f"job-{len(names)}b", 5 + gap, 10 + gap))
    return plans


def plans_for(provider: DemoProvider, names: list[str]) -> list[JobPlan]:
    return burst_plans(names) if provider.idle_window else job_plans(names)


def server_names(provider: DemoProvider, count: int) -> list[str]:
    return [f"demo-{provider.provider}-{i}" for i in range(1, count + 1)]


def demo_options() -> DevStackOptions:
    return DevStackOptions(
        data_dir=DEMO_DATA_DIR,
        temporal_port=0,
        ui_port=0,
        mongo_port=0,
        emulator_port=0,
        hetzner_port=0,
        digitalocean_port=0,
        metrics_port=0,
        mongo_db="demo",
        use_emulator=True,
        with_worker=True,
        emulator_boot_seconds=BOOT,
        billing_period_seconds=PERIOD,
        terminate_before_seconds=MARGIN,
    )


def _settings_for(base: Settings, urls: DevStackUrls) -> Settings:
    return base.model_copy(
        update={
            "temporal_address": urls.temporal_address,
            "temporal_namespace": urls.temporal_namespace,
            "mongo_uri": urls.mongo_uri,
            "mongo_db": urls.mongo_db,
            "vultr_api_url": urls.vultr_api_url,
            "vultr_api_key": SecretStr(EMULATOR_API_KEY),
        }
    )


@contextmanager
def _demo_lock(data_dir: Path) -> Iterator[None]:
    """One demo at a time per folder: the next one wipes the data this one uses."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "demo.lock").open("a+", encoding="utf-8") as file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ComponentError(
                f"another demo is running in {data_dir}; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)


def _wipe(data_dir: Path) -> None:
    """Forget the previous demo: Temporal history, MongoDB files, emulator state and logs."""
    for path in data_dir.glob("temporal.sqlite*"):
        path.unlink()
    for state in (EMULATOR_STATE_FILE, HETZNER_STATE_FILE, DIGITALOCEAN_STATE_FILE):
        (data_dir / state).unlink(missing_ok=True)
    for sub in ("mongo", "logs"):
        shutil.rmtree(data_dir / sub, ignore_errors=True)


def run_demo(*, servers: int = 3, keep_stack: bool = False, console: Console | None = None) -> int:
    """Run the demo; returns the exit code (0: every server TERMINATED and the bill
    matches the emulator's ledger)."""
    # Not a terminal (a log, a pipe): wide enough that the tables are not cut.
    console = console or (Console() if sys.stdout.isatty() else Console(width=120))
    began = time.monotonic()
    try:
        base = load_settings(billing_period_seconds=PERIOD, terminate_before_seconds=MARGIN)
    except SettingsError as exc:
        console.print(Text(f"error: {exc}", style="red"))
        return 2
    # SIGTERM and SIGHUP stop the demo like Ctrl-C: the stack is always stopped.
    try:
        with interrupted_by_termination(), _demo_lock(DEMO_DATA_DIR):
            _wipe(DEMO_DATA_DIR)
            stack = DevStack(demo_options(), out=sys.stdout)
            try:
                stack.start()
                settings = _settings_for(base, stack.urls)
                code = asyncio.run(_tour(settings, stack.urls, servers, console, began))
                console.print(f"demo took {time.monotonic() - began:.0f} s")
                if keep_stack:
                    console.print("the stack keeps running; press Ctrl-C to stop it")
                    try:
                        stack.wait()
                    except KeyboardInterrupt:
                        pass  # the expected way to end a kept stack
                return code
            finally:
                stack.stop()
    except ComponentError as exc:
        console.print(Text(f"error: {exc}", style="red"))
        return 1
    except KeyboardInterrupt:
        console.print("interrupted; the stack is stopped")
        return 130


class _Clock:
    def __init__(self, began: float) -> None:
        self.began = began

    def stamp(self) -> str:
        return f"+{time.monotonic() - self.began:5.1f}s"


async def _tour(
    settings: Settings, urls: DevStackUrls, count: int, console: Console, began: float
) -> int:
    clock = _Clock(began)
    providers = [p for p in DEMO_PROVIDERS if p.api_url(urls) is not None]
    groups = {p.provider: server_names(p, count) for p in providers}
    names = [name for group in groups.values() for name in group]
    # Each hourly provider's last server runs its job across the first boundary.
    plans = [plan for p in providers for plan in plans_for(p, groups[p.provider])]
    _explain(console, plans, urls, providers, settings)
    fleet = await ServerFleet.connect(settings)
    async with fleet:
        for provider in providers:
            for i, name in enumerate(groups[provider.provider]):
                plan = provider.plans[i % len(provider.plans)]
                spec = build_spec(
                    provider.region, plan, None, image=provider.image, provider=provider.provider
                )
                policy = build_overrides(idle_window_seconds=provider.idle_window)
                await fleet.provision(name, spec, policy)
                console.print(
                    f"{clock.stamp()} provisioned {name} ({provider.provider} {provider.region} "
                    f"{spec.plan})"
                )
        latest: dict[str, ServerStatus] = {}
        jobs = [asyncio.create_task(_run_job(fleet, plan, console, clock)) for plan in plans]
        with Live(console=console, refresh_per_second=4, transient=False) as live:
            while True:
                for name, status in zip(
                    names, await asyncio.gather(*(fleet.status(n) for n in names)), strict=True
                ):
                    before = latest.get(name)
                    if before is None or before.state != status.state:
                        live.console.print(f"{clock.stamp()} {_transition_line(status)}")
                    latest[name] = status
                live.update(_live_view(list(latest.values()), clock))
                if all(s.state in FINAL_STATES for s in latest.values()):
                    break
                if time.monotonic() - began > SERVER_DEADLINE_SECONDS + 60:
                    live.console.print("the demo is taking too long; giving up")
                    break
                await asyncio.sleep(REFRESH_SECONDS)
        console.print()
        failures = [r for r in await asyncio.gather(*jobs, return_exceptions=True) if r]
        for failure in failures:
            console.print(Text(f"job failed: {failure}", style="red"))
        final = [latest[n] for n in names]
        async with fleet.mongo("load the cost report") as db:
            report = await load_cost_report(db, timedelta(seconds=PERIOD))
    # Units as each provider bills them: periods, or seconds on a per-second model.
    billed = {
        line.name: (line.billed_seconds or line.billed_hours, line.cost) for line in report.servers
    }
    ledgers = {p.provider: _ledger(p.api_url(urls) or "") for p in providers}
    ok = _summary(console, final, billed, ledgers, urls)
    return 0 if ok and not failures else 1


def plan_spread_seconds(settings: Settings, provider: str) -> int:
    """How much earlier than its margin a delete may go when the delete plan moves it
    into the previous bucket of the provider's rate budget (0 with the planner off)."""
    budget = settings.delete_budget(provider)
    return 0 if budget is None else budget.bucket_seconds


def _explain(
    console: Console,
    plans: list[JobPlan],
    urls: DevStackUrls,
    providers: list[DemoProvider],
    settings: Settings,
) -> None:
    where = ", ".join(f"{p.provider} ({p.region})" for p in providers)
    per_second = {p.provider for p in providers if p.idle_window}
    console.print(
        f"\n[bold]demo[/bold]: servers at {where}; billing period {PERIOD} s, idle servers "
        f"deleted {MARGIN} s before a boundary, emulator boot {BOOT:g} s"
        + (
            f"; per-second billing at {', '.join(sorted(per_second))}: idle servers deleted "
            f"{IDLE_WINDOW} s after their last job"
            if per_second
            else ""
        )
    )
    for plan in plans:
        if plan.server.split("-")[1] in per_second:
            note = f"billed by the second, deleted {IDLE_WINDOW} s after its last job"
        elif plan.release_now:
            note = (
                f"runs across its first boundary (+{PERIOD} s): billed 2 periods, then "
                "`terminate --now`"
            )
        else:
            note = f"done early: deleted at +{PERIOD - MARGIN} s, billed 1 period"
            spread = plan_spread_seconds(settings, plan.server.split("-")[1])
            if spread > 1:
                # Two deletes due in one bucket of a slow API: one goes a bucket earlier.
                note += f" (or up to {spread} s earlier, when the delete plan spreads deletes)"
        console.print(
            f"  {plan.server}: {plan.task_id} busy from +{plan.start:g} s to +{plan.end:g} s "
            f"after creation; {note}"
        )
    if urls.temporal_ui:
        console.print(
            f"  watch it live: {urls.temporal_ui}/namespaces/{urls.temporal_namespace}/workflows\n"
        )


async def _sleep_until(moment: datetime) -> None:
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        await asyncio.sleep(delay)


async def _run_job(fleet: ServerFleet, plan: JobPlan, console: Console, clock: _Clock) -> str:
    """The job system's side: busy, work, idle (and maybe release). Returns '' or why not."""
    try:
        ready = await fleet.wait_for_state(plan.server, SERVING_STATES, timeout=60)
        assert ready.billing_start is not None
        created = ready.billing_start
        await _sleep_until(created + timedelta(seconds=plan.start))
        await fleet.busy(plan.server, plan.task_id)
        console.print(f"{clock.stamp()} {plan.server}: {plan.task_id} started (busy)")
        await _sleep_until(created + timedelta(seconds=plan.end))
        await fleet.idle(plan.server, plan.task_id)
        console.print(f"{clock.stamp()} {plan.server}: {plan.task_id} finished (idle)")
        if plan.release_now:
            await fleet.terminate(
                plan.server, "job done; released instead of idling out its second period", True
            )
            console.print(f"{clock.stamp()} {plan.server}: terminate --now")
        return ""
    except FleetError as exc:
        return f"{plan.server}: {exc}"


def _billed(s: ServerStatus) -> str:
    """What a server is billed, in its provider's unit."""
    return f"{s.billed_seconds} s" if s.billed_seconds is not None else f"{s.billed_hours} h"


def _short(instance_id: str | None) -> str:
    return (instance_id or "-")[:8]


def _transition_line(s: ServerStatus) -> str:
    line = f"{s.name} is {s.state}"
    if s.state in (ServerState.READY, ServerState.IDLE) and s.terminate_at is not None:
        line += (
            f" (instance {_short(s.instance_id)}; deleted at {format_time(s.terminate_at)} "
            "UTC if still idle)"
        )
    elif s.state == ServerState.EXECUTING:
        line += f" ({', '.join(s.active_tasks)})"
    elif s.state == ServerState.TERMINATED:
        line += f" (billed {_billed(s)}, {_money(s.cost, s.provider)})"
    elif s.state == ServerState.ERROR:
        line += f": {s.error}"
    return line


def _live_view(servers: list[ServerStatus], clock: _Clock) -> Table:
    now = format_time(datetime.now(UTC))
    table = Table(
        title=f"fleet at {now} UTC ({clock.stamp()})", title_justify="left", header_style="bold"
    )
    for column in ("server", "provider", "state", "plan", "instance", "tasks", "terminate at"):
        table.add_column(column, no_wrap=True)
    table.add_column("billed", justify="right")
    table.add_column("cost", justify="right")
    for s in servers:
        table.add_row(
            s.name,
            s.provider,
            state_text(s.state),
            s.plan,
            _short(s.instance_id),
            ", ".join(s.active_tasks) or "-",
            format_time(s.terminate_at),
            _billed(s),
            _money(s.cost, s.provider),
        )
    return table


def _ledger(api_url: str) -> dict[str, Any]:
    """An emulator's GET /admin/ledger; it sits beside the API prefix (/v2, /v1...)."""
    base = api_url.removesuffix("/").rsplit("/", 1)[0]
    response = httpx.get(f"{base}/admin/ledger", timeout=10)
    response.raise_for_status()
    return dict(response.json())


def _summary(
    console: Console,
    final: list[ServerStatus],
    billed: dict[str, tuple[int, float]],
    ledgers: dict[str, dict[str, Any]],
    urls: DevStackUrls,
) -> bool:
    """The servers, then per provider our cost report's bill beside the emulator's ledger;
    true when every server TERMINATED and every bill matches."""
    table = Table(title="summary", title_justify="left", header_style="bold")
    columns = ("server", "provider", "state", "plan", "lived", "deleted", "billed", "cost")
    for column in columns:
        table.add_column(column, justify="right" if column in ("billed", "cost") else "left")
    for s in final:
        lived = deleted = "-"
        if s.billing_start and s.deleted_at:
            seconds = (s.deleted_at - s.billing_start).total_seconds()
            lived = f"{seconds:.1f} s"
            if s.billed_seconds is not None:
                deleted = "after its idle window"
            else:
                boundary = s.billed_hours * PERIOD
                deleted = f"{boundary - seconds:.1f} s before boundary {s.billed_hours}"
        table.add_row(
            s.name,
            s.provider,
            s.state.value,
            s.plan,
            lived,
            deleted,
            _billed(s),
            _money(s.cost, s.provider),
        )
    console.print(table)

    bills = Table(
        title="bill per provider: our cost report vs the emulator's ledger (GET /admin/ledger)",
        title_justify="left",
        header_style="bold",
    )
    for column in ("provider", "servers", "report units", "report cost", "ledger units"):
        bills.add_column(column, justify="left" if column == "provider" else "right")
    bills.add_column("ledger amount", justify="right")
    bills.add_column("verdict")
    all_match = True
    for provider, ledger in ledgers.items():
        names = [s.name for s in final if s.provider == provider]
        hours = sum(billed.get(n, (0, 0.0))[0] for n in names)
        cost = sum(billed.get(n, (0, 0.0))[1] for n in names)
        # Periods at an hourly provider, seconds at a per-second one.
        units = sum(int(row.get("units", row.get("seconds", 0))) for row in ledger["ledger"])
        total = float(ledger["total"])
        matches = (
            units == hours
            and abs(total - cost) < 1e-6
            and len(ledger["ledger"]) == len(names)
            and all(n in billed for n in names)
        )
        all_match = all_match and matches
        bills.add_row(
            provider,
            str(len(names)),
            str(hours),
            _money(cost, provider),
            str(units),
            _money(total, provider),
            "matches" if matches else Text("DOES NOT MATCH", style="red"),
        )
    console.print(bills)
    console.print(
        "every provider's bill matches its ledger"
        if all_match
        else "[red]a provider's bill does not match its ledger[/red]"
    )
    all_terminated = all(s.state == ServerState.TERMINATED for s in final)
    console.print(
        "every server TERMINATED" if all_terminated else "[red]not every server TERMINATED[/red]"
    )
    if urls.temporal_ui:
        query = 'ServerState="TERMINATED"'
        console.print(
            f"web UI: {urls.temporal_ui}/namespaces/{urls.temporal_namespace}/workflows"
            f"?query={quote(query)}  (list filter: {query}; the stack stops now unless "
            "--keep-stack)"
        )
    return all_match and all_terminated
