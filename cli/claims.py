"""Claim commands for jobs: `claim` a server, renew it with `heartbeat`, `release` it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer

from cli.options import (
    ImageOption,
    JsonFlag,
    PlanOption,
    ProviderOption,
    RegionOption,
    TtlOption,
    server_kind,
)
from cli.render import dump_json, format_time
from cli.runtime import fail, load_cli_settings, run_with_fleet
from client.claims import Claim, ClaimBroker, ClaimError
from client.connection import write_concern
from client.errors import FleetError
from client.fleet import ServerFleet
from core.lifecycle import FINAL_STATES
from leases import LeaseStore
from providers import DEFAULT_PROVIDER

__all__ = ["register"]

NameArg = Annotated[str, typer.Argument(metavar="NAME")]
TaskOption = Annotated[str, typer.Option("--task", help="The job's id, as given to `claim`.")]


def claim(
    task: Annotated[str, typer.Option("--task", help="The job's id; it owns the claim.")],
    provider: ProviderOption = DEFAULT_PROVIDER,
    region: RegionOption = None,
    plan: PlanOption = None,
    image: ImageOption = None,
    ttl: TtlOption = 300,
    as_json: JsonFlag = False,
) -> None:
    """Hand a job a server of that provider, region and plan: an available one already
    paid for (most paid time left first), else a new one within the quota, waited
    for. Renew with `heartbeat`; a claim not renewed within --ttl lapses and the
    server goes back to IDLE."""
    settings = load_cli_settings()
    try:
        region, plan, _, image = server_kind(settings, provider, region, plan, image, None)
    except FleetError as exc:
        fail(str(exc), exc.exit_code)

    async def act(fleet: ServerFleet) -> Claim:
        try:
            async with fleet.mongo("claim a server"):
                return await _broker(fleet).claim(
                    task,
                    region=region,
                    plan=plan,
                    ttl=timedelta(seconds=ttl),
                    provider=provider,
                    image=image,
                )
        except ClaimError as exc:
            fail(str(exc))

    got = run_with_fleet(settings, act)
    if as_json:
        typer.echo(dump_json(_claim_json(got)))
    else:
        how = "reused (already paid for)" if got.reused else "newly provisioned"
        typer.echo(
            f"{got.task_id} claimed {got.server} ({how}); renew before "
            f"{format_time(got.lease.expires_at, date=True)}"
        )


def heartbeat(name: NameArg, task: TaskOption, ttl: TtlOption = 300) -> None:
    """Renew a job's claim on a server for another --ttl seconds."""
    settings = load_cli_settings()

    async def act(fleet: ServerFleet) -> Claim:
        broker = _broker(fleet)
        held = await _held_claim(fleet, broker, name, task)
        try:
            async with fleet.mongo(f"renew the claim on {name}"):
                return await broker.heartbeat(held, timedelta(seconds=ttl))
        except ClaimError as exc:
            fail(str(exc))

    renewed = run_with_fleet(settings, act)
    typer.echo(f"claim renewed until {format_time(renewed.lease.expires_at, date=True)}")


def release(name: NameArg, task: TaskOption) -> None:
    """End a job's claim: the server goes IDLE (and is deleted at its deadline)."""
    settings = load_cli_settings()

    async def act(fleet: ServerFleet) -> None:
        broker = _broker(fleet)
        held = await _held_claim(fleet, broker, name, task)
        async with fleet.mongo(f"release the claim on {name}"):
            await broker.release(held)

    run_with_fleet(settings, act)
    typer.echo(f"{task} released {name}")


def register(app: typer.Typer) -> None:
    for command in (claim, heartbeat, release):
        app.command()(command)


def _broker(fleet: ServerFleet) -> ClaimBroker:
    if fleet.db is None:
        fail("claims need MongoDB (MONGO_URI)")
    store = LeaseStore(fleet.db, write_concern=write_concern(fleet.settings))
    return ClaimBroker(fleet.client, fleet.settings, fleet.db, store, check_spec=fleet.check_spec)


async def _held_claim(fleet: ServerFleet, broker: ClaimBroker, name: str, task_id: str) -> Claim:
    async with fleet.mongo(f"look up the claims on {name}"):
        held = await broker.held(name, task_id)
    if held is not None:
        return held
    # Say why: an unknown or finished server is not a lapsed claim.
    found = await fleet.status(name)
    if found.state in FINAL_STATES:
        fail(f"server {name} has finished ({found.state}); task {task_id} holds no claim on it")
    fail(f"task {task_id} holds no live claim on {name} (it lapsed or was released)")


def _claim_json(claim: Claim) -> dict[str, Any]:
    return {
        "server": claim.server,
        "workflow_id": claim.workflow_id,
        "task_id": claim.task_id,
        "token": claim.lease.token,
        "expires_at": claim.lease.expires_at.isoformat(),
        "reused": claim.reused,
    }
