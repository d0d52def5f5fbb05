"""The Python API (`ServerFleet`) where it promises more than the CLI shows."""

from __future__ import annotations

import pytest

from client.errors import RequestRefused, WaitTimeout
from client.fleet import ServerFleet, build_spec
from core.lifecycle import ServerState
from core.models import ServerSpec, workflow_id_for
from tests.cli.support import Fleet, unique
from workflows.search_attributes import NAME_KEY, PLAN_KEY, REGION_KEY, STATE_KEY

pytestmark = [pytest.mark.integration]

TERMINATED_STATE = ServerState.TERMINATED
TERMINATED = {TERMINATED_STATE}


def spec() -> ServerSpec:
    return build_spec("ewr", "vc2-1c-1gb", 2284)


async def test_provision_sets_search_attributes_and_a_summary_at_start(
    server_fleet: ServerFleet,
):
    name = unique("sa")

    handle = await server_fleet.provision(name, spec())
    description = await handle.describe()

    attributes = description.typed_search_attributes
    assert attributes.get(NAME_KEY) == name
    assert attributes.get(REGION_KEY) == "ewr"
    assert attributes.get(PLAN_KEY) == "vc2-1c-1gb"
    assert attributes.get(STATE_KEY) in {s.value for s in ServerState}
    assert await description.static_summary() == f"ewr vc2-1c-1gb: {name}"
    assert "image `2284`" in (await description.static_details() or "")
    await server_fleet.terminate(name, "test over", now=True)


async def test_a_name_is_free_again_once_its_server_has_ended(server_fleet: ServerFleet):
    name = unique("again")
    first = await server_fleet.provision(name, spec())
    await server_fleet.terminate(name, "make room", now=True)
    await server_fleet.wait_for_state(name, TERMINATED, timeout=30)

    second = await server_fleet.provision(name, spec())
    await server_fleet.wait_for_state(name, {ServerState.READY}, timeout=30)

    assert second.result_run_id != first.result_run_id
    (listed,) = [s for s in await server_fleet.list(include_finished=True) if s.name == name]
    assert listed.generation == second.result_run_id
    await server_fleet.terminate(name, "test over", now=True)


async def test_a_refused_update_carries_the_validators_message_verbatim(
    server_fleet: ServerFleet,
):
    name = unique("verbatim")
    await server_fleet.provision(name, spec())
    await server_fleet.wait_for_state(name, {ServerState.READY}, timeout=30)

    with pytest.raises(RequestRefused) as refused:
        await server_fleet.idle(name, "job-x")

    assert refused.value.reason == f"task job-x is not running on {name} (running: none)"
    await server_fleet.terminate(name, "test over", now=True)


async def test_busy_answers_with_the_state_the_task_put_the_server_in(
    server_fleet: ServerFleet,
):
    name = unique("settled")
    await server_fleet.provision(name, spec())
    await server_fleet.wait_for_state(name, {ServerState.READY}, timeout=30)

    busy = await server_fleet.busy(name, "job-1")
    idle = await server_fleet.idle(name, "job-1")

    assert (busy.state, busy.active_tasks) == (ServerState.EXECUTING, ["job-1"])
    assert (idle.state, idle.active_tasks) == (ServerState.IDLE, [])
    await server_fleet.terminate(name, "test over", now=True)


async def test_status_of_a_finished_server_without_a_read_model_comes_from_its_result(
    fleet: Fleet, server_fleet: ServerFleet
):
    name = unique("noread")
    await server_fleet.provision(name, spec())
    await server_fleet.terminate(name, "done", now=True)
    await server_fleet.wait_for_state(name, TERMINATED, timeout=30)
    without_db = ServerFleet(fleet.client, fleet.settings, db=None)

    status = await without_db.status(name)

    assert status.state == ServerState.TERMINATED
    assert status.workflow_id == workflow_id_for(name)
    assert (status.timeline[-1].state, status.timeline[-1].reason) == (TERMINATED_STATE, "done")


async def test_wait_for_state_gives_up_after_its_timeout_naming_the_state(
    server_fleet: ServerFleet,
):
    name = unique("wait")
    await server_fleet.provision(name, spec())
    await server_fleet.wait_for_state(name, {ServerState.READY}, timeout=30)

    with pytest.raises(WaitTimeout) as timed_out:
        await server_fleet.wait_for_state(name, {ServerState.EXECUTING}, timeout=0.5)

    assert timed_out.value.state == "READY"
    await server_fleet.terminate(name, "test over", now=True)


async def test_claim_server_hands_a_server_to_one_task_and_says_why_not_to_others(
    server_fleet: ServerFleet,
):
    name = unique("claim")
    await server_fleet.provision(name, spec())
    await server_fleet.wait_for_state(name, {ServerState.READY}, timeout=30)

    first = await server_fleet.claim_server(name, "job-a")
    second = await server_fleet.claim_server(name, "job-b")

    assert first.accepted
    assert not second.accepted
    assert second.reason == "busy with job-a"
    await server_fleet.terminate(name, "test over", now=True)
