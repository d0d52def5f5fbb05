"""The real thing, wired in-process: dev server, embedded MongoDB, the emulator over
HTTP, and the project's own workers on a fresh task queue per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from temporalio.testing import WorkflowEnvironment

from activities.fleet_store import ensure_read_model_indexes
from core.settings import load_settings
from leases import LeaseStore
from tests.integration.support import BOOT, MARGIN, PERIOD, Fleet
from tests.support.emulator import TEST_API_KEY, RunningEmulator, quick_face
from worker import build_workers, open_providers


@pytest.fixture(scope="session")
def fast_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with quick_face(
        tmp_path_factory.mktemp("fast-emulator"),
        billing_period_seconds=PERIOD,
        boot_seconds=BOOT,
        seed=11,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def fast_hetzner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """The Hetzner face with the same short billing "hour" as the Vultr one."""
    with quick_face(
        tmp_path_factory.mktemp("fast-hetzner"),
        "hetzner",
        billing_period_seconds=PERIOD,
        boot_seconds=BOOT,
        seed=11,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def fast_digitalocean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """The DigitalOcean face billing real seconds (its default 3600 s hour): per-second
    servers wait out idle windows in real seconds, so its ledger's seconds are the
    workflow's. Only the test token is accepted, so a wrong one is an auth error."""
    with quick_face(
        tmp_path_factory.mktemp("fast-digitalocean"),
        "digitalocean",
        api_key=TEST_API_KEY,
        boot_seconds=BOOT,
        seed=11,
    ) as running:
        yield running


@pytest.fixture
async def fleet_factory(
    temporal_env: WorkflowEnvironment, mongo_uri: str, fast_emulator: RunningEmulator
) -> AsyncIterator[Any]:
    """Builds a Fleet with its own task queue, database and settings overrides."""
    async with AsyncExitStack() as stack:

        async def make(**overrides: Any) -> Fleet:
            fast_emulator.reset()
            values: dict[str, Any] = {
                "vultr_api_key": TEST_API_KEY,
                "vultr_api_url": fast_emulator.api_url,
                "mongo_uri": mongo_uri,
                "mongo_db": f"it_{uuid.uuid4().hex[:10]}",
                "temporal_task_queue": f"servers-{uuid.uuid4().hex[:8]}",
                "billing_period_seconds": PERIOD,
                "terminate_before_seconds": MARGIN,
                "vultr_requests_per_second": 30,
                **overrides,
            }
            settings = load_settings(**values)
            mongo: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True)
            stack.push_async_callback(mongo.close)
            db = mongo[settings.mongo_db]
            stack.push_async_callback(mongo.drop_database, settings.mongo_db)
            store = LeaseStore(db)
            await store.ensure_indexes()
            await ensure_read_model_indexes(db)
            providers = await stack.enter_async_context(open_providers(settings))
            for w in build_workers(
                temporal_env.client, settings, providers=providers, db=db, store=store
            ):
                await stack.enter_async_context(w)
            return Fleet(temporal_env.client, settings, fast_emulator, db)

        yield make


@pytest.fixture
async def do_fleet(fleet_factory: Any, fast_digitalocean: RunningEmulator) -> Fleet:
    """A fleet whose workers also serve DigitalOcean, on the fast DigitalOcean face."""
    fast_digitalocean.reset()
    return await fleet_factory(
        digitalocean_token=TEST_API_KEY,
        digitalocean_api_url=fast_digitalocean.api_url,
        digitalocean_requests_per_second=4,
    )


@pytest.fixture
async def fleet(fleet_factory: Any) -> Fleet:
    return await fleet_factory()
