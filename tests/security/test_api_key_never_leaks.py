"""Provider credentials (the Vultr API key, the Hetzner and DigitalOcean tokens:
`SECRETS`) never leave their provider's client: not into Temporal histories, MongoDB, logs,
log files, or error messages.

Short lifecycles run at each provider against an emulator that accepts only a
distinctive token, so every completed workflow proves its token was in use. Two workers
serve them: the project's workers in this process (every log record captured at DEBUG)
and a real `worker.py` process (its log file scanned). Each scan first proves it would find
the key where it is planted, so a silent scanner cannot pass.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bson
import pytest
from google.protobuf import json_format
from pymongo import AsyncMongoClient
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.failures import provider_failure
from activities.fleet_store import ensure_read_model_indexes
from core.lifecycle import ServerState
from core.models import ServerInput, ServerPolicy, ServerSpec, ServerStatus
from core.settings import Settings, load_settings
from devstack.components import worker_process
from devstack.procs import free_port
from leases import LeaseStore
from providers.vultr import CreateInstanceRequest, VultrAuthError, VultrClient, VultrError
from tests.security.support import (
    API_KEY,
    DIGITALOCEAN_TOKEN,
    HCLOUD_TOKEN,
    MARGIN,
    PERIOD,
    SECRETS,
    LogCapture,
    Secret,
    rendered_records,
)
from tests.support.emulator import RunningEmulator
from worker import build_workers, open_providers
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration]

LIFECYCLE_TIMEOUT = 90


@dataclass
class LeakRun:
    client: Client
    results: list[ServerStatus]
    histories: list[WorkflowHistory]
    db: Any
    records: list[logging.LogRecord]
    emulators: list[RunningEmulator]
    worker_log: Path


Emulators = tuple[RunningEmulator, RunningEmulator, RunningEmulator]  # vultr, hetzner, DO


def found_any(blob: bytes | str) -> list[str]:
    """The secrets (by their first characters) that occur in `blob`."""
    return [secret.value[:12] for secret in SECRETS if secret.found_in(blob)]


def _settings(emulators: Emulators, mongo_uri: str, db: str, target: str) -> Settings:
    emulator, hetzner, digitalocean = emulators
    return load_settings(
        vultr_api_key=API_KEY.value,
        vultr_api_url=emulator.api_url,
        hcloud_token=HCLOUD_TOKEN.value,
        hcloud_api_url=hetzner.api_url,
        hetzner_requests_per_second=1,
        digitalocean_token=DIGITALOCEAN_TOKEN.value,
        digitalocean_api_url=digitalocean.api_url,
        mongo_uri=mongo_uri,
        mongo_db=db,
        temporal_address=target,
        temporal_task_queue=f"sec-{uuid.uuid4().hex[:8]}",
        billing_period_seconds=PERIOD,
        terminate_before_seconds=MARGIN,
        vultr_requests_per_second=30,
        payload_encryption_key="",  # plaintext histories: a key in them would show
    )


def _worker_env(settings: Settings, metrics_port: int) -> dict[str, str]:
    return {
        "VULTR_API_KEY": API_KEY.value,
        "VULTR_API_URL": settings.vultr_api_url,
        "VULTR_REQUESTS_PER_SECOND": "30",
        "HCLOUD_TOKEN": HCLOUD_TOKEN.value,
        "HCLOUD_API_URL": settings.hcloud_api_url,
        "HETZNER_REQUESTS_PER_SECOND": "1",
        "DIGITALOCEAN_TOKEN": DIGITALOCEAN_TOKEN.value,
        "DIGITALOCEAN_API_URL": settings.digitalocean_api_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "MONGO_URI": settings.mongo_uri,
        "MONGO_DB": settings.mongo_db,
        "BILLING_PERIOD_SECONDS": str(PERIOD),
        "TERMINATE_BEFORE_SECONDS": str(MARGIN),
        "METRICS_PORT": str(metrics_port),
        "PAYLOAD_ENCRYPTION_KEY": "",
    }


SPECS = {
    "vultr": ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284),
    "hetzner": ServerSpec(provider="hetzner", region="fsn1", plan="cx22", os_id=161547269),
    "digitalocean": ServerSpec(
        provider="digitalocean", region="nyc3", plan="s-1vcpu-1gb", image="ubuntu-24-04-x64"
    ),
}


async def _start(client: Client, name: str, task_queue: str, spec: ServerSpec) -> Any:
    inp = ServerInput(
        name=name,
        spec=spec,
        policy=ServerPolicy(
            billing_period_seconds=PERIOD,
            terminate_before_seconds=MARGIN,
            ready_poll_seconds=0.5,
            readiness_timeout_seconds=60,
            idle_window_seconds=2,  # per-second billing: the Droplet goes soon after READY
        ),
    )
    return await client.start_workflow(
        ServerWorkflow.run, inp, id=inp.workflow_id, task_queue=task_queue
    )


async def _histories(client: Client, workflow_ids: list[str]) -> list[WorkflowHistory]:
    """Every run of the given workflows, found through visibility as an operator would."""
    query = " OR ".join(f"WorkflowId = '{wid}'" for wid in workflow_ids)
    for _ in range(50):
        executions = [e async for e in client.list_workflows(query)]
        if {e.id for e in executions} == set(workflow_ids):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"visibility never listed all of {workflow_ids}")
    return [
        await client.get_workflow_handle(e.id, run_id=e.run_id).fetch_history() for e in executions
    ]


@pytest.fixture(scope="module")
async def leak_run(
    temporal_env: WorkflowEnvironment,
    mongo_uri: str,
    locked_emulator: RunningEmulator,
    locked_hetzner: RunningEmulator,
    locked_digitalocean: RunningEmulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LeakRun]:
    client = temporal_env.client
    target = client.service_client.config.target_host
    suffix = uuid.uuid4().hex[:6]
    emulators = (locked_emulator, locked_hetzner, locked_digitalocean)
    inproc = _settings(emulators, mongo_uri, f"sec_{suffix}", target)
    outproc = _settings(emulators, mongo_uri, inproc.mongo_db, target)
    metrics_port = free_port()
    worker = worker_process(
        tmp_path_factory.mktemp("worker-log") / "worker.log",
        _worker_env(outproc, metrics_port),
        metrics_port,
    )
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri, tz_aware=True)
    db = mongo[inproc.mongo_db]
    capture = LogCapture()
    try:
        with capture.everything():
            await asyncio.to_thread(worker.start, 60)
            async with AsyncExitStack() as stack:
                store = LeaseStore(db)
                await store.ensure_indexes()
                await ensure_read_model_indexes(db)
                providers = await stack.enter_async_context(open_providers(inproc))
                for w in build_workers(client, inproc, providers=providers, db=db, store=store):
                    await stack.enter_async_context(w)
                # A server per provider on each worker (in this process, worker.py).
                handles = [
                    await _start(client, f"leak-{where}-{p}-{suffix}", s.temporal_task_queue, spec)
                    for where, s in (("in", inproc), ("out", outproc))
                    for p, spec in SPECS.items()
                ]
                results = await asyncio.wait_for(
                    asyncio.gather(*(h.result() for h in handles)), LIFECYCLE_TIMEOUT
                )
            await asyncio.to_thread(worker.stop)
        histories = await _histories(client, [h.id for h in handles])
        yield LeakRun(
            client,
            results,
            histories,
            db,
            capture.records,
            list(emulators),
            worker.log_path,
        )
    finally:
        if worker.running():
            await asyncio.to_thread(worker.stop)
        await mongo.drop_database(inproc.mongo_db)
        await mongo.close()


@pytest.mark.slow
async def test_the_lifecycle_ran_with_the_key(leak_run: LeakRun) -> None:
    """The premise of the scans below: each emulator accepts only its token, and every
    server was created and deleted through it, on both workers."""
    assert [r.state for r in leak_run.results] == [ServerState.TERMINATED] * 2 * len(SPECS)
    assert all(r.instance_id for r in leak_run.results)
    assert sorted(r.provider for r in leak_run.results) == sorted([*SPECS, *SPECS])


def _history_bytes(histories: list[WorkflowHistory]) -> bytes:
    """Histories as stored (protobuf) and as exported (JSON, bytes fields base64)."""
    raw = b"".join(event.SerializeToString() for h in histories for event in h.events)
    return raw + "".join(h.to_json() for h in histories).encode()


@pytest.mark.slow
async def test_no_workflow_history_contains_the_key(leak_run: LeakRun) -> None:
    for secret in SECRETS:
        planted = pydantic_data_converter.payload_converter.to_payloads([{"auth": secret.value}])
        assert secret.found_in(planted[0].SerializeToString())
        assert secret.found_in(json_format.MessageToJson(planted[0]))  # base64 form

    blob = _history_bytes(leak_run.histories)
    assert len(leak_run.histories) >= len(leak_run.results)
    for result in leak_run.results:  # payloads are readable here, so a key would be too
        assert result.instance_id is not None
        assert result.instance_id.encode() in blob
    assert found_any(blob) == []


async def _database_dump(db: Any) -> bytes:
    parts: list[bytes] = []
    for name in await db.list_collection_names():
        collection = db[name]
        parts.append(repr(await collection.index_information()).encode())
        parts.extend(bson.encode(doc) for doc in await collection.find({}).to_list())
    return b"".join(parts)


@pytest.mark.slow
async def test_no_mongodb_document_contains_the_key(leak_run: LeakRun) -> None:
    dump = await _database_dump(leak_run.db)
    servers = await leak_run.db["servers"].count_documents({})
    assert servers == len(leak_run.results)  # both workers wrote the read model here
    assert found_any(dump) == []

    planted = leak_run.db["planted_secret"]
    try:
        for secret in SECRETS:
            await planted.insert_one({"headers": {"Authorization": f"Bearer {secret.value}"}})
        assert found_any(await _database_dump(leak_run.db)) == [
            secret.value[:12] for secret in SECRETS
        ]
    finally:
        await planted.drop()


@pytest.mark.slow
async def test_no_log_record_at_debug_contains_the_key(leak_run: LeakRun) -> None:
    records = leak_run.records
    loggers = {r.name.split(".")[0] for r in records}
    assert {"httpx", "httpcore", "providers", "pymongo"} <= loggers, loggers
    assert any("HTTP Request: POST" in r.getMessage() for r in records)

    for secret in SECRETS:
        planted = logging.LogRecord(
            "httpx", logging.DEBUG, __file__, 1, "sent %s", ({"authorization": secret.value},), None
        )
        assert secret.found_in(rendered_records([planted]))
    assert found_any(rendered_records(records)) == []


@pytest.mark.slow
async def test_the_emulator_log_files_do_not_contain_the_key(leak_run: LeakRun) -> None:
    for emulator in leak_run.emulators:
        text = emulator.process.log_path.read_text()
        assert '"POST /' in text and '"DELETE /' in text, emulator.provider
        for secret in SECRETS:
            assert secret.found_in(text + f"Authorization: Bearer {secret.value}")
        assert found_any(text) == [], emulator.provider


@pytest.mark.slow
async def test_the_worker_log_file_does_not_contain_the_key(leak_run: LeakRun) -> None:
    text = leak_run.worker_log.read_text()
    assert "worker ready" in text and leak_run.emulators[0].api_url in text
    assert "-hetzner (hetzner" in text  # the worker served Hetzner too
    assert "-digitalocean (digitalocean" in text  # and DigitalOcean
    for secret in SECRETS:
        assert secret.found_in(text + f"TOKEN={secret.value}")
    assert found_any(text) == []


@pytest.mark.slow
async def test_the_emulator_admin_api_does_not_show_the_key(leak_run: LeakRun) -> None:
    for emulator in leak_run.emulators:
        answers = [emulator.admin("GET", path).text for path in ("/config", "/requests")]
        assert "POST" in answers[1], emulator.provider
        assert found_any("\n".join(answers)) == [], emulator.provider


# ---- errors on a 401: the client holds a key the emulator does not accept ---------------

WRONG_KEY = Secret("WRONGKEY" + uuid.uuid4().hex.upper())

CALLS: dict[str, Callable[[VultrClient], Awaitable[object]]] = {
    "get_instance": lambda c: c.get_instance("i-1"),
    "list_instances": lambda c: c.list_instances(tag="t"),
    "create_instance": lambda c: c.create_instance(
        CreateInstanceRequest(region="ewr", plan="vc2-1c-1gb", os_id=2284)
    ),
    "delete_instance": lambda c: c.delete_instance("i-1"),
    "get_account": lambda c: c.get_account(),
}


def _rendered_error(error: BaseException) -> bytes:
    """The error as a log line, a repr, a traceback, its attributes, pickled, and as the
    Temporal failure an activity would record in the history."""
    texts = [str(error), repr(error), *traceback.format_exception(error)]
    seen: BaseException | None = error
    while seen is not None:
        texts += [repr(seen), repr(vars(seen))]
        seen = seen.__cause__ or seen.__context__
    blob = "\n".join(texts).encode() + pickle.dumps(error)
    if isinstance(error, VultrError):
        try:
            raise provider_failure(error, "calling Vultr")
        except Exception as failure:
            proto = Failure()
            pydantic_data_converter.failure_converter.to_failure(
                failure, pydantic_data_converter.payload_converter, proto
            )
            blob += proto.SerializeToString() + str(failure).encode()
    return blob


@pytest.mark.parametrize("call", list(CALLS))
async def test_a_401_error_never_shows_the_key(locked_emulator: RunningEmulator, call: str) -> None:
    async with VultrClient(WRONG_KEY.value, locked_emulator.api_url) as client:
        with pytest.raises(VultrAuthError) as caught:
            await CALLS[call](client)
    assert caught.value.status == 401
    assert "VULTR_API_KEY" in str(caught.value)
    assert not WRONG_KEY.found_in(_rendered_error(caught.value))


def test_the_error_scan_sees_a_key_even_in_a_suppressed_context() -> None:
    try:
        try:
            raise RuntimeError(f"sent Authorization: Bearer {WRONG_KEY.value}")
        except RuntimeError:
            raise VultrAuthError("401 from Vultr", status=401) from None
    except VultrAuthError as error:
        assert WRONG_KEY.found_in(_rendered_error(error))
