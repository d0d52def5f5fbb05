"""The workers `worker.py` builds carry the settings that size them: the workflow
cache on the workflow queue, each provider's request rate on its queue."""

from __future__ import annotations

from typing import Any

from temporalio.testing import WorkflowEnvironment

from core.settings import load_settings
from leases import LeaseStore
from tests.support.emulator import TEST_API_KEY, RunningEmulator
from worker import WORKFLOW_RUNNER, build_workers, open_providers
from workflows.policies import provider_catalog_queue, provider_task_queue


async def test_the_workflow_cache_and_the_request_rates_come_from_the_settings(
    temporal_env: WorkflowEnvironment, mongo_db: Any, fast_emulator: RunningEmulator
) -> None:
    settings = load_settings(
        vultr_api_key=TEST_API_KEY,
        vultr_api_url=fast_emulator.api_url,
        temporal_task_queue="wiring",
        worker_max_cached_workflows=1234,
        vultr_requests_per_second=7,
    )
    async with open_providers(settings) as providers:
        main, *calls = build_workers(
            temporal_env.client,
            settings,
            providers=providers,
            db=mongo_db,
            store=LeaseStore(mongo_db),
        )

    assert main.task_queue == "wiring"
    assert main.config()["max_cached_workflows"] == 1234
    assert main.config()["workflow_runner"] is WORKFLOW_RUNNER
    vultr, vultr_catalog = calls
    assert vultr.task_queue == provider_task_queue("wiring", "vultr")
    assert vultr.config()["max_task_queue_activities_per_second"] == 7
    # Catalog checks make no request once the catalog is loaded: no place in the budget.
    assert vultr_catalog.task_queue == provider_catalog_queue("wiring", "vultr")
    assert vultr_catalog.config().get("max_task_queue_activities_per_second") is None
    assert {a.__name__ for a in vultr_catalog.config()["activities"]} == {
        "quote_plan",
        "spec_problems",
    }
