"""A real Prometheus (own port, 1 s scrape and evaluation) scrapes a real `python worker.py`
while a server passes its deadline with the emulator refusing its deletes (429): the
overdue alert goes pending, then firing, then resolves once deletes succeed. Afterwards
every query of the Grafana dashboard is run against that Prometheus and must return data.

The rules are deploy/prometheus/alerts.yml with ServerPastDeadline's `for:` shortened to
the test's margin. About 30 s.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from core.models import ServerInput, ServerPolicy, ServerSpec
from devstack.components import worker_process
from devstack.procs import ManagedProcess, free_port, tcp_ready
from tests.integration.support import BOOT, PERIOD
from tests.support.emulator import TEST_API_KEY, RunningEmulator
from tests.support.prometheus import prometheus_tool
from workflows.reconcile import ReconcileFleetWorkflow, ReconcileInput
from workflows.server import ServerWorkflow

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "fleet.json"
JOB = "vultr-lifecycle-worker"
ALERT = "ServerPastDeadline"
MARGIN = 5
FOR_SECONDS = 3
REFUSE_DELETES = {
    "rules": [{"route": "DELETE /v2/instances/{instance-id}", "status": 429, "retry_after": 1}]
}


def test_rules(path: Path) -> Path:
    """alerts.yml with the overdue alert's `for:` cut to seconds."""
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == ALERT:
                rule["for"] = f"{FOR_SECONDS}s"
    path.write_text(yaml.safe_dump(rules))
    return path


test_rules.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def start_prometheus(tmp: Path, metrics_port: int) -> tuple[ManagedProcess, str]:
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(test_rules(tmp / "alerts.yml"))],
        "scrape_configs": [
            {"job_name": JOB, "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    process = ManagedProcess(
        "prometheus",
        [
            prometheus_tool("prometheus"),
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp / "prometheus.log",
        tcp_ready("127.0.0.1", port),
    )
    process.start(timeout=30)
    return process, f"http://127.0.0.1:{port}"


@dataclass
class Run:
    prometheus: str
    # Seconds since the server started at which the alert was first seen in each state.
    seen: dict[str, float] = field(default_factory=dict)
    deletes_allowed_at: float = 0.0


async def alert_state(prometheus: str) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        alerts = (await http.get(f"{prometheus}/api/v1/alerts")).json()["data"]["alerts"]
    states = [a["state"] for a in alerts if a["labels"]["alertname"] == ALERT]
    return states[0] if states else "inactive"


async def wait_for_state(run: Run, want: str, started: float, limit: float) -> None:
    deadline = time.monotonic() + limit
    while (state := await alert_state(run.prometheus)) != want:
        assert time.monotonic() < deadline, f"{ALERT} still {state}, never {want}"
        await asyncio.sleep(0.25)
    run.seen[want] = round(time.monotonic() - started, 1)


async def wait_for_samples(prometheus: str, series: str, n: int, limit: float) -> None:
    query = f"count_over_time({series}[1m]) >= {n}"
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient(timeout=5) as http:
        while not (await http.get(f"{prometheus}/api/v1/query", params={"query": query})).json()[
            "data"
        ]["result"]:
            assert time.monotonic() < deadline, f"fewer than {n} scrapes of {series}"
            await asyncio.sleep(0.25)


@pytest.fixture(scope="module")
async def overdue_run(
    temporal_env: WorkflowEnvironment,
    mongo_uri: str,
    fast_emulator: RunningEmulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Run]:
    tmp = tmp_path_factory.mktemp("monitoring")
    metrics_port = free_port()
    queue = f"monitoring-{uuid.uuid4().hex[:8]}"
    env = {
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": temporal_env.client.namespace,
        "TEMPORAL_TASK_QUEUE": queue,
        "MONGO_URI": mongo_uri,
        "MONGO_DB": queue.replace("-", "_"),
        "VULTR_API_URL": fast_emulator.api_url,
        "VULTR_API_KEY": TEST_API_KEY,
        "BILLING_PERIOD_SECONDS": str(PERIOD),
        "TERMINATE_BEFORE_SECONDS": str(MARGIN),
        "METRICS_PORT": str(metrics_port),
        "METRICS_INTERVAL_SECONDS": "0.5",
        "RECONCILE_INTERVAL_SECONDS": "0",
        "PAYLOAD_ENCRYPTION_KEY": "",
    }
    worker = worker_process(tmp / "worker.log", env, metrics_port)
    prometheus, url = start_prometheus(tmp, metrics_port)
    try:
        worker.start(timeout=60)
        run = Run(url)
        policy = ServerPolicy(
            billing_period_seconds=PERIOD,
            terminate_before_seconds=MARGIN,
            ready_poll_seconds=0.5,
            readiness_timeout_seconds=60,
        )
        inp = ServerInput(
            name=f"mon-{uuid.uuid4().hex[:6]}",
            spec=ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284),
            policy=policy,
        )
        fast_emulator.admin("POST", "/faults", json=REFUSE_DELETES)
        started = time.monotonic()
        handle = await temporal_env.client.start_workflow(
            ServerWorkflow.run, inp, id=inp.workflow_id, task_queue=queue
        )
        # Deadline: PERIOD - MARGIN after the instance's billing start (boot included).
        limit = PERIOD + BOOT + 15
        await wait_for_state(run, "pending", started, limit)
        await wait_for_state(run, "firing", started, FOR_SECONDS + 10)
        fast_emulator.admin("DELETE", "/faults")
        run.deletes_allowed_at = round(time.monotonic() - started, 1)
        await wait_for_state(run, "inactive", started, 20)
        await asyncio.wait_for(handle.result(), timeout=20)
        # One reconciliation, so its findings and its time are on the dashboard too.
        reconcile = await temporal_env.client.start_workflow(
            ReconcileFleetWorkflow.run,
            ReconcileInput(grace_seconds=600, orphan_action="adopt", default_os_id=2284),
            id=f"reconcile-{queue}",
            task_queue=queue,
        )
        await asyncio.wait_for(reconcile.result(), timeout=30)
        # Rates need two scrapes of the series the delete created.
        await wait_for_samples(url, "fleet_delete_lag_seconds_count", 2, limit=10)
        await wait_for_samples(url, "fleet_reconcile_last_run_timestamp_seconds", 1, limit=10)
        yield run
    finally:
        fast_emulator.admin("DELETE", "/faults")
        worker.stop()
        prometheus.stop()


async def test_overdue_alert_goes_pending_then_firing_and_resolves_after_the_delete(
    overdue_run: Run,
) -> None:
    seen = overdue_run.seen
    print(f"{ALERT}: {seen}, deletes allowed at {overdue_run.deletes_allowed_at}s")
    assert seen["pending"] <= seen["firing"] - FOR_SECONDS + 1.5
    assert seen["firing"] <= overdue_run.deletes_allowed_at < seen["inactive"]


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


async def test_every_dashboard_query_returns_data(overdue_run: Run) -> None:
    empty: list[str] = []
    async with httpx.AsyncClient(timeout=5) as http:
        for expr in dashboard_queries():
            body = (
                await http.get(f"{overdue_run.prometheus}/api/v1/query", params={"query": expr})
            ).json()
            assert body["status"] == "success", (expr, body)
            result = body["data"]["result"]
            if not result:
                empty.append(expr)
            # With -s: what each panel would show, for the record.
            print(expr, "->", [(r["metric"], r["value"][1]) for r in result[:4]])
    assert empty == []
