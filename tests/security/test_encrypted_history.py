"""With PAYLOAD_ENCRYPTION_KEY set, a whole lifecycle runs on encrypted payloads: Temporal
stores ciphertext only, and the workers still read everything they need."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.fleet_store import ensure_read_model_indexes
from client.codec import ENCODING, EncryptionCodec, PayloadKeyMismatch
from client.connection import data_converter
from core.lifecycle import ServerState
from core.models import ServerInput, ServerPolicy, ServerSpec, ServerStatus
from core.settings import Settings, load_settings
from devstack.procs import venv_bin
from leases import LeaseStore
from tests.security.support import (
    API_KEY,
    MARGIN,
    PERIOD,
    Secret,
    iter_payloads,
    start_codec_server,
)
from tests.support.emulator import RunningEmulator
from worker import build_workers, open_providers
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration]

KEY = bytes.fromhex("c0ffee00" * 8)
MARKER = Secret(f"cloud-init-marker-{uuid.uuid4().hex}")
CLOUD_INIT = f"#cloud-config\nruncmd:\n  - echo {MARKER.value} > /etc/motd\n"
LIFECYCLE_TIMEOUT = 90


@dataclass
class EncryptedRun:
    client: Client
    settings: Settings
    workflow_id: str
    result: ServerStatus
    history: WorkflowHistory


@pytest.fixture(scope="module")
async def encrypted_run(
    temporal_env: WorkflowEnvironment, mongo_uri: str, locked_emulator: RunningEmulator
) -> AsyncIterator[EncryptedRun]:
    plain_client = temporal_env.client
    settings = load_settings(
        vultr_api_key=API_KEY.value,
        vultr_api_url=locked_emulator.api_url,
        mongo_uri=mongo_uri,
        mongo_db=f"enc_{uuid.uuid4().hex[:10]}",
        temporal_address=plain_client.service_client.config.target_host,
        temporal_namespace=plain_client.namespace,
        temporal_task_queue=f"enc-{uuid.uuid4().hex[:8]}",
        billing_period_seconds=PERIOD,
        terminate_before_seconds=MARGIN,
        vultr_requests_per_second=30,
        payload_encryption_key=KEY.hex(),
    )
    client = await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
    )
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri, tz_aware=True)
    db = mongo[settings.mongo_db]
    try:
        async with AsyncExitStack() as stack:
            store = LeaseStore(db)
            await store.ensure_indexes()
            await ensure_read_model_indexes(db)
            providers = await stack.enter_async_context(open_providers(settings))
            for w in build_workers(client, settings, providers=providers, db=db, store=store):
                await stack.enter_async_context(w)
            inp = ServerInput(
                name=f"enc-{uuid.uuid4().hex[:6]}",
                spec=ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284, cloud_init=CLOUD_INIT),
                policy=ServerPolicy(
                    billing_period_seconds=PERIOD,
                    terminate_before_seconds=MARGIN,
                    ready_poll_seconds=0.5,
                    readiness_timeout_seconds=60,
                ),
            )
            handle = await client.start_workflow(
                ServerWorkflow.run,
                inp,
                id=inp.workflow_id,
                task_queue=settings.temporal_task_queue,
            )
            result = await asyncio.wait_for(handle.result(), LIFECYCLE_TIMEOUT)
        history = await handle.fetch_history()
        yield EncryptedRun(client, settings, inp.workflow_id, result, history)
    finally:
        await mongo.drop_database(settings.mongo_db)
        await mongo.close()


def _payloads(events: Sequence[HistoryEvent]) -> list[Payload]:
    return [p for event in events for p in iter_payloads(event)]


def _search_attribute_payloads(events: Sequence[HistoryEvent]) -> list[Payload]:
    """Search attributes stay plain on purpose: the server indexes them."""
    found: list[Payload] = []
    for event in events:
        for attrs in (
            event.workflow_execution_started_event_attributes.search_attributes,
            event.upsert_workflow_search_attributes_event_attributes.search_attributes,
        ):
            found.extend(attrs.indexed_fields.values())
    return found


def _patch_marker_payloads(events: Sequence[HistoryEvent]) -> list[Payload]:
    """`workflow.patched` markers are written by the SDK's core, outside the payload
    codec: their details hold only the patch id (a name in our code, never data)."""
    found: list[Payload] = []
    for event in events:
        marker = event.marker_recorded_event_attributes
        if marker.marker_name == "core_patch":
            for details in marker.details.values():
                found.extend(details.payloads)
    return found


@pytest.mark.slow
async def test_the_lifecycle_completes_with_encrypted_payloads(encrypted_run: EncryptedRun) -> None:
    assert encrypted_run.result.state == ServerState.TERMINATED
    assert encrypted_run.result.billed_hours == 1


@pytest.mark.slow
async def test_the_cloud_init_is_not_in_the_history_in_plain_text(
    encrypted_run: EncryptedRun,
) -> None:
    events = encrypted_run.history.events
    stored = b"".join(e.SerializeToString() for e in events)
    exported = encrypted_run.history.to_json()
    assert not MARKER.found_in(stored)
    assert not MARKER.found_in(exported)
    # It is there, sealed: decrypting the same history's payloads reveals it.
    codec = EncryptionCodec(KEY)
    opened = b"".join(p.SerializeToString() for p in await codec.decode(_payloads(events)))
    assert MARKER.found_in(opened)


@pytest.mark.slow
async def test_every_payload_but_search_attributes_is_encrypted(
    encrypted_run: EncryptedRun,
) -> None:
    events = encrypted_run.history.events
    indexed = {p.SerializeToString() for p in _search_attribute_payloads(events)}
    patches = {p.SerializeToString() for p in _patch_marker_payloads(events)}
    for payload in patches:  # a patch id is all a marker may hold in the clear
        assert b'"id":' in payload and b"cloud-init" not in payload
    others = [p for p in _payloads(events) if p.SerializeToString() not in indexed | patches]
    assert len(others) > 10  # inputs, results, activity arguments...
    plain = [p for p in others if p.metadata.get("encoding") != ENCODING]
    assert plain == []


@pytest.mark.slow
async def test_a_client_with_another_key_is_told_which_key_it_needs(
    encrypted_run: EncryptedRun,
) -> None:
    other = load_settings(payload_encryption_key="ab" * 32)
    stranger = await Client.connect(
        encrypted_run.settings.temporal_address,
        namespace=encrypted_run.settings.temporal_namespace,
        data_converter=data_converter(other),
    )
    with pytest.raises(PayloadKeyMismatch) as caught:
        await stranger.get_workflow_handle(encrypted_run.workflow_id).result()
    assert caught.value.payload_key_id == EncryptionCodec(KEY).key_id
    assert caught.value.own_key_id == EncryptionCodec(bytes.fromhex("ab" * 32)).key_id


async def _cli_show(run: EncryptedRun, *extra: str) -> str:
    process = await asyncio.create_subprocess_exec(
        venv_bin("temporal"),
        "workflow",
        "show",
        "--workflow-id",
        run.workflow_id,
        "--address",
        run.settings.temporal_address,
        "--namespace",
        run.settings.temporal_namespace,
        "--output",
        "json",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


@pytest.mark.slow
async def test_the_cli_reads_the_history_through_the_codec_server(
    encrypted_run: EncryptedRun, tmp_path: Path
) -> None:
    assert not MARKER.found_in(await _cli_show(encrypted_run))
    server = await asyncio.to_thread(start_codec_server, tmp_path, KEY.hex())
    try:
        shown = await _cli_show(encrypted_run, "--codec-endpoint", server.base)
    finally:
        await asyncio.to_thread(server.process.stop)
    assert MARKER.found_in(shown)  # decoded JSON payloads, base64 in the CLI's JSON
