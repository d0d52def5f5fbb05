"""Bad input, one case per test: each is refused with a specific message and changes
nothing (no workflow started, no instance at the emulator, the server's state as it was).

Runs against the session dev server, embedded MongoDB and the fast emulator (20 s
billing period, 2 s boot); a local stub in front of the emulator supplies the
provider answers the emulator cannot (403, 422, bodies that are not JSON). About 25 s.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from client.errors import InvalidRequest
from client.fleet import ServerFleet
from core.lifecycle import ServerState
from core.models import (
    MAX_CLOUD_INIT_BYTES,
    ServerInput,
    ServerSpec,
    TaskSignal,
    TerminationRequest,
)
from core.settings import SettingsError, load_settings
from devstack.components import PROJECT_ROOT
from tests.faults.stub import Canned, ProviderStub
from tests.faults.support import ledger
from tests.integration.support import Fleet, wait_for_state
from tests.support.emulator import RunningEmulator
from tests.support.outcome import final_status
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration]


@pytest.fixture
def stub(fast_emulator: RunningEmulator) -> Iterator[ProviderStub]:
    with ProviderStub(fast_emulator.base) as running:
        yield running


async def start(fleet: Fleet, name: str, **spec: Any) -> WorkflowHandle[Any, Any]:
    inp = ServerInput(name=name, spec=fleet.spec(**spec), policy=fleet.policy())
    return await fleet.client.start_workflow(
        ServerWorkflow.run, inp, id=inp.workflow_id, task_queue=fleet.settings.temporal_task_queue
    )


async def workflow_exists(fleet: Fleet, workflow_id: str) -> bool:
    try:
        await fleet.client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def end_now(handle: WorkflowHandle[Any, Any]) -> None:
    await handle.signal(
        ServerWorkflow.request_termination, TerminationRequest(reason="test done", immediately=True)
    )
    await handle.result()


# -- the catalog: region, plan, OS ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("region", "mars", "unknown region 'mars'"),
        ("plan", "vc2-999c-1tb", "unknown plan 'vc2-999c-1tb'"),
        ("os_id", 999999, "unknown os_id 999999"),
    ],
)
async def test_a_spec_outside_the_catalog_ends_in_error_without_an_instance(
    fleet: Fleet, field: str, value: Any, message: str
) -> None:
    handle = await start(fleet, f"bad-{field.replace('_', '')}", **{field: value})

    result = await final_status(handle)

    assert result.state == ServerState.ERROR
    assert result.error is not None and message in result.error
    assert "server spec refused" in result.error
    assert result.instance_id is None
    assert fleet.ledger() == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("region", "mars", "unknown region 'mars'"),
        ("plan", "vc2-999c-1tb", "unknown plan 'vc2-999c-1tb'"),
        ("os_id", 999999, "unknown os_id 999999"),
    ],
)
async def test_the_fleet_client_refuses_a_spec_outside_the_catalog_before_starting(
    fleet: Fleet, field: str, value: Any, message: str
) -> None:
    client = ServerFleet(fleet.client, fleet.settings, fleet.db)
    name = f"refused-{field.replace('_', '')}"

    with pytest.raises(InvalidRequest, match="nothing started") as refused:
        await client.provision(name, fleet.spec(**{field: value}))

    assert message in str(refused.value)
    assert not await workflow_exists(fleet, f"server-{name}")
    assert fleet.ledger() == []


# -- the spec and the name --------------------------------------------------------------------


def test_an_empty_cloud_init_is_refused_by_the_spec() -> None:
    with pytest.raises(ValidationError, match="cloud-init is empty; omit it"):
        ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284, cloud_init="  \n")


def test_an_oversized_cloud_init_is_refused_by_the_spec_naming_the_limit() -> None:
    script = "#!/bin/sh\n" + "x" * MAX_CLOUD_INIT_BYTES
    with pytest.raises(ValidationError, match=f"Vultr accepts at most {MAX_CLOUD_INIT_BYTES}"):
        ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284, cloud_init=script)


@pytest.mark.parametrize("name", ["", "Upper", "-leading", "trailing-", "under_score", "x" * 49])
def test_an_invalid_name_is_refused_by_the_workflow_input(name: str) -> None:
    spec = ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284)
    with pytest.raises(ValidationError, match="invalid server name"):
        ServerInput(name=name, spec=spec)


async def test_the_fleet_client_refuses_an_invalid_name_before_starting(fleet: Fleet) -> None:
    client = ServerFleet(fleet.client, fleet.settings, fleet.db)

    with pytest.raises(InvalidRequest, match="invalid server name 'Bad_Name'"):
        await client.provision("Bad_Name", fleet.spec())

    assert not await workflow_exists(fleet, "server-Bad_Name")
    assert fleet.ledger() == []


# -- transitions the state machine does not allow ---------------------------------------------


async def test_a_signal_finishing_an_unknown_task_is_rejected_and_changes_nothing(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    handle = await start(fleet, "signal-ghost")
    await wait_for_state(handle, ServerState.READY)
    before = await handle.query(ServerWorkflow.status)
    caplog.set_level(logging.WARNING, logger="temporalio.workflow")

    await handle.signal(ServerWorkflow.mark_idle, TaskSignal(task_id="ghost"))

    expected = "mark_idle(ghost) ignored: task ghost is not running on signal-ghost"
    for _ in range(40):
        if any(expected in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.25)
    else:
        raise AssertionError(f"no rejection logged; saw {[r.getMessage() for r in caplog.records]}")
    after = await handle.query(ServerWorkflow.status)
    assert (after.state, after.active_tasks, after.timeline) == (
        before.state,
        before.active_tasks,
        before.timeline,
    )
    await end_now(handle)


async def test_an_update_finishing_an_unknown_task_fails_with_the_validator_message(
    fleet: Fleet,
) -> None:
    handle = await start(fleet, "update-ghost")
    await wait_for_state(handle, ServerState.READY)
    before = await handle.query(ServerWorkflow.status)

    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(ServerWorkflow.finish_task, TaskSignal(task_id="ghost"))

    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.message == "task ghost is not running on update-ghost (running: none)"
    after = await handle.query(ServerWorkflow.status)
    assert (after.state, after.timeline) == (before.state, before.timeline)
    await end_now(handle)


async def test_an_update_starting_a_task_on_a_draining_server_fails_naming_the_reason(
    fleet: Fleet,
) -> None:
    handle = await start(fleet, "update-draining")
    await wait_for_state(handle, ServerState.READY)
    await handle.execute_update(ServerWorkflow.terminate, TerminationRequest(reason="scale down"))

    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(ServerWorkflow.start_task, TaskSignal(task_id="late-job"))

    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.message == "server update-draining is draining (scale down)"
    assert (await handle.query(ServerWorkflow.status)).active_tasks == []
    await end_now(handle)


# -- settings -----------------------------------------------------------------------------------


def test_a_margin_not_below_the_period_is_a_settings_error_naming_both_variables() -> None:
    with pytest.raises(
        SettingsError, match="TERMINATE_BEFORE_SECONDS must be smaller than BILLING_PERIOD_SECONDS"
    ):
        load_settings(billing_period_seconds=20, terminate_before_seconds=20)


def test_the_worker_refuses_to_start_with_a_bad_setting_naming_the_variable() -> None:
    env = {
        **os.environ,
        "MONGO_URI": "localhost:27017",
        "VULTR_API_KEY": "any",
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
    }
    done = subprocess.run(
        [sys.executable, "worker.py"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "MONGO_URI: must start with mongodb:// or mongodb+srv://" in done.stderr


# -- what the provider answers ------------------------------------------------------------------


async def test_a_wrong_api_key_ends_in_error_asking_to_check_it_and_creates_nothing(
    fleet_factory: Any, one_key_emulator: RunningEmulator
) -> None:
    one_key_emulator.reset()
    fleet: Fleet = await fleet_factory(
        vultr_api_url=one_key_emulator.api_url, vultr_api_key="not-the-accepted-key"
    )
    handle = await start(fleet, "wrong-key")

    result = await final_status(handle)

    assert result.state == ServerState.ERROR
    assert result.error is not None and "401 from Vultr: check VULTR_API_KEY" in result.error
    assert "not-the-accepted-key" not in result.error
    assert ledger(one_key_emulator).rows == []


@pytest.mark.parametrize(
    ("route", "status", "body", "message"),
    [
        (
            ("GET", "/v2/instances"),
            403,
            b'{"error": "Unauthorized IP address: 127.0.0.1", "status": 403}',
            "403 from Vultr: check VULTR_API_KEY (Unauthorized IP address",
        ),
        (
            ("POST", "/v2/instances"),
            422,
            b'{"error": "Plan is temporarily sold out in this region", "status": 422}',
            "422 from Vultr on POST /instances: Plan is temporarily sold out",
        ),
    ],
    ids=["403-on-lookup", "422-on-create"],
)
async def test_a_refusal_by_the_provider_ends_in_error_with_its_message_and_creates_nothing(
    fleet_factory: Any,
    stub: ProviderStub,
    route: tuple[str, str],
    status: int,
    body: bytes,
    message: str,
) -> None:
    fleet: Fleet = await fleet_factory(vultr_api_url=stub.api_url)
    stub.answer(*route, Canned(status, body))
    handle = await start(fleet, f"refused-{status}")

    result = await final_status(handle)

    assert result.state == ServerState.ERROR
    assert result.error is not None and message in result.error
    assert (route[0], route[1], status) in stub.seen
    assert fleet.ledger() == []


async def test_a_listing_that_is_not_json_ends_in_error_without_an_instance(
    fleet_factory: Any, stub: ProviderStub
) -> None:
    fleet: Fleet = await fleet_factory(vultr_api_url=stub.api_url)
    stub.answer("GET", "/v2/instances", Canned(200, b"<html>maintenance</html>", "text/html"))
    handle = await start(fleet, "garbled-list")

    result = await final_status(handle)

    assert result.state == ServerState.ERROR
    assert result.error is not None
    assert "GET /instances answered 200 with a body that is not JSON" in result.error
    assert "check that VULTR_API_URL" in result.error
    assert fleet.ledger() == []


async def test_a_create_answer_that_is_not_json_leaves_no_instance_behind(
    fleet_factory: Any, stub: ProviderStub
) -> None:
    """The create reached Vultr (the instance exists and bills) but its answer is
    garbage: the workflow may fail, but not before deleting what it created."""
    fleet: Fleet = await fleet_factory(vultr_api_url=stub.api_url)
    stub.answer("POST", "/v2/instances", Canned(202, b'{"instance": ', forward_first=True))
    handle = await start(fleet, "garbled-create")

    result = await final_status(handle)

    verdict = ledger(fleet.emulator)
    assert result.state in (ServerState.ERROR, ServerState.TERMINATED)
    assert len(verdict.rows) == 1, verdict.summary()
    assert verdict.leftovers == [], (
        f"{result.state}: {result.error}; instance {verdict.leftovers} left running"
    )
