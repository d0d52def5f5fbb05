"""`ServerFleet`: the Python API over the server workflows, used by the CLI and by job
systems that embed it.

Writes go to the workflows (start, updates); live detail comes from the workflow's
query; listings and servers whose workflow has ended come from the MongoDB read
model the workflows keep. Every failure is one of the `client.errors` classes.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import NetworkTimeout, PyMongoError, ServerSelectionTimeoutError
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, FailureError, WorkflowAlreadyStartedError
from temporalio.exceptions import TimeoutError as TimeoutError_
from temporalio.service import RPCError, RPCStatusCode

from activities.fleet_store import SERVERS_COLLECTION, status_from_record
from activities.payloads import SpecInput
from client.connection import connect_temporal, mongo_client
from client.errors import (
    FleetError,
    FleetUnavailable,
    InvalidRequest,
    RequestRefused,
    ServerExists,
    ServerFailed,
    ServerFinished,
    ServerNotFound,
    WaitTimeout,
)
from core import billing
from core.lifecycle import FINAL_STATES, ServerState
from core.models import (
    ClaimRequest,
    ClaimResult,
    PolicyOverrides,
    ServerInput,
    ServerPolicy,
    ServerSpec,
    ServerStatus,
    TaskSignal,
    TerminationRequest,
    validate_server_name,
    workflow_id_for,
)
from core.settings import Settings
from core.validation import validation_problems
from providers import DEFAULT_PROVIDER
from workflows.server import ServerWorkflow
from workflows.server_start import describe_spec, server_start_options
from workflows.spec_check import SPEC_CHECK_TIMEOUT, SpecCheck, SpecCheckWorkflow

__all__ = [
    "ServerFleet",
    "billing_as_of",
    "build_overrides",
    "build_spec",
    "checked_request",
    "default_policy",
    "describe_spec",
    "server_start_operation",
    "start_server",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

_RUNNING = WorkflowExecutionStatus.RUNNING
# How long a command waits for MongoDB: to find the server, then for each reply.
MONGO_SELECT_SECONDS = 5
MONGO_REPLY_SECONDS = 10


def default_policy(settings: Settings) -> ServerPolicy:
    """The policy `settings` give a server started without overrides (what a worker
    with these settings resolves)."""
    return ServerPolicy.from_settings(settings)


def _start_options(inp: ServerInput, task_queue: str, summary: str | None) -> dict[str, Any]:
    """A client start: the options every server start shares, its queue, and no second
    workflow while one of that name runs."""
    return {
        **server_start_options(inp, summary),
        "task_queue": task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.FAIL,
    }


async def start_server(
    client: Client,
    inp: ServerInput,
    task_queue: str,
    *,
    summary: str | None = None,
    rpc_timeout: timedelta | None = None,
) -> WorkflowHandle[ServerWorkflow, ServerStatus]:
    """Start a server's workflow. Raises WorkflowAlreadyStartedError while a server of
    that name runs."""
    options = _start_options(inp, task_queue, summary)
    return await client.start_workflow(ServerWorkflow.run, inp, **options, rpc_timeout=rpc_timeout)


def server_start_operation(
    inp: ServerInput, task_queue: str, *, summary: str | None = None
) -> WithStartWorkflowOperation[ServerWorkflow, ServerStatus]:
    """The same start, for an update sent with it (`execute_update_with_start_workflow`):
    the server starts only if its first update is delivered, and the other way round."""
    return WithStartWorkflowOperation(
        ServerWorkflow.run, inp, **_start_options(inp, task_queue, summary)
    )


def _validation_text(exc: ValidationError) -> str:
    return "; ".join(validation_problems(exc))


def build_overrides(**overrides: Any) -> PolicyOverrides:
    """The policy fields set explicitly (None values are left to the worker); raises
    InvalidRequest naming each bad field."""
    try:
        return PolicyOverrides(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise InvalidRequest(f"invalid server policy: {_validation_text(exc)}") from None


def build_spec(
    region: str,
    plan: str,
    os_id: int | None,
    *,
    image: str | None = None,
    cloud_init: str | None = None,
    tags: Collection[str] = (),
    ssh_key_ids: Collection[str] = (),
    provider: str = DEFAULT_PROVIDER,
) -> ServerSpec:
    """A ServerSpec from plain values; raises InvalidRequest naming each bad field."""
    try:
        return ServerSpec(
            provider=provider,
            region=region,
            plan=plan,
            os_id=os_id,
            image=image,
            cloud_init=cloud_init,
            tags=list(tags),
            ssh_key_ids=list(ssh_key_ids),
        )
    except ValidationError as exc:
        raise InvalidRequest(f"invalid server spec: {_validation_text(exc)}") from None


def billing_as_of(status: ServerStatus, now: datetime) -> ServerStatus:
    """A live server's billing fields (next boundary, billed hours, cost) as of `now`.

    A query answers with the workflow's clock at its last workflow task, and the read
    model holds the last write. A busy server that crossed a boundary since then would
    show one period too few until its workflow next wakes, at its next deadline.
    """
    s = status
    if (
        s.state in FINAL_STATES
        or s.billing_start is None
        or s.next_boundary is None
        or s.billed_hours < 1
        or now < s.next_boundary
    ):
        return s
    # Below the monthly cap the boundary is `billed_hours` periods after the start.
    period = (s.next_boundary - s.billing_start) / s.billed_hours
    if period <= timedelta(0):
        return s
    units = billing.billed_units(s.billing_start, now, period, billing.month_cap(s.plan))
    return s.model_copy(
        update={
            "next_boundary": billing.next_boundary(s.billing_start, now, period),
            "billed_hours": units,
            "cost": s.cost / s.billed_hours * units,
        }
    )


def _checked_name(name: str) -> str:
    try:
        return validate_server_name(name)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


def checked_request(what: str, model: type[T], **fields: Any) -> T:
    """A request's argument, validated here so bad input never reaches a workflow;
    raises InvalidRequest naming `what` and each bad field."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise InvalidRequest(
            f"invalid request for {what}: {_validation_text(exc)}; nothing changed"
        ) from None


def _mongo_reason(exc: PyMongoError) -> str:
    """The driver's message without its topology dump and timeout settings."""
    text = str(exc).split(", Timeout:")[0]
    return re.sub(r" \(configured timeouts: [^)]*\)", "", text)


def _status_name(description: WorkflowExecutionDescription) -> str:
    return description.status.name if description.status is not None else "UNKNOWN"


def _failure_text(error: BaseException | None) -> str:
    if isinstance(error, ApplicationError | FailureError):
        return error.message
    return str(error) if error is not None else "no reason given"


class ServerFleet:
    """Provision, drive and inspect servers by name.

    `db` is the read-model database; without it `status` answers only from the
    workflow (its query, or the result of a completed one) and `list` is unavailable.
    `ServerFleet.connect(settings)` builds all of it from settings and closes what it
    opened on `aclose()` / `async with`.
    """

    def __init__(
        self,
        client: Client,
        settings: Settings,
        db: AsyncDatabase[Any] | None = None,
        *,
        check_catalog: bool = True,
        request_timeout_seconds: float = 30.0,
    ) -> None:
        self.client = client
        self.settings = settings
        self.db = db
        self._check_catalog = check_catalog
        self._specs_ok: set[str] = set()  # checked already: a batch asks the worker once
        self._timeout = request_timeout_seconds
        self._owned: list[Any] = []

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def connect(
        cls, settings: Settings, *, lazy_temporal: bool = False, **options: Any
    ) -> ServerFleet:
        """Connect to Temporal and open the read model; raises FleetUnavailable naming
        TEMPORAL_ADDRESS when Temporal does not answer within `request_timeout_seconds`
        (default CLI_TIMEOUT_SECONDS), which also bounds each request.

        `lazy_temporal` connects to Temporal on its first use only, so reads of the read
        model alone (`list`) work while Temporal is down.
        """
        timeout = options.setdefault("request_timeout_seconds", settings.cli_timeout_seconds)
        try:
            client = await connect_temporal(settings, timeout=timeout, lazy=lazy_temporal)
        except ConnectionError as exc:
            raise FleetUnavailable(str(exc)) from None
        mongo = mongo_client(
            settings,
            server_selection_timeout_ms=MONGO_SELECT_SECONDS * 1000,
            socketTimeoutMS=MONGO_REPLY_SECONDS * 1000,
        )
        fleet = cls(client, settings, mongo[settings.mongo_db], **options)
        fleet._owned.append(mongo)
        return fleet

    async def aclose(self) -> None:
        while self._owned:
            await self._owned.pop().close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ provisioning

    def build_input(
        self, name: str, spec: ServerSpec, policy: ServerPolicy | PolicyOverrides | None = None
    ) -> ServerInput:
        """The workflow input, validated; raises InvalidRequest.

        Pass overrides (or nothing) and the worker resolves the rest of the policy from
        its settings; a full ServerPolicy is used as given.
        """
        _checked_name(name)
        try:
            if isinstance(policy, ServerPolicy):
                return ServerInput(name=name, spec=spec, policy=policy)
            return ServerInput(name=name, spec=spec, overrides=policy or PolicyOverrides())
        except ValidationError as exc:
            raise InvalidRequest(f"invalid server request: {_validation_text(exc)}") from None

    async def check_spec(self, spec: ServerSpec) -> None:
        """Refuse a region/plan/OS the provider's catalog does not offer, listing the
        valid choices; raises InvalidRequest (nothing started) or FleetUnavailable.

        The check runs on the worker (SpecCheckWorkflow), which has the API key and the
        catalog. When it cannot load the catalog the check is skipped: the server's
        first activity checks again and fails before creating anything.
        """
        key = spec.model_dump_json()
        if key in self._specs_ok:
            return
        problems: list[str] = []
        if self._check_catalog:
            check = await self._worker_spec_check(spec)
            if not check.checked:
                log.warning("skipping the catalog check: %s", check.unchecked)
            problems = check.problems
        if problems:
            raise InvalidRequest(
                f"server spec refused, nothing started: {'; '.join(problems)}", problems
            )
        self._specs_ok.add(key)

    async def _worker_spec_check(self, spec: ServerSpec) -> SpecCheck:
        what = "the spec check (region, plan, OS)"
        wait = min(self._timeout, SPEC_CHECK_TIMEOUT.total_seconds() + 5)
        try:
            return await asyncio.wait_for(
                self.client.execute_workflow(
                    SpecCheckWorkflow.run,
                    SpecInput(spec=spec),
                    id=f"spec-check-{uuid.uuid4().hex[:12]}",
                    task_queue=self.settings.temporal_task_queue,
                    execution_timeout=SPEC_CHECK_TIMEOUT + timedelta(seconds=5),
                    rpc_timeout=timedelta(seconds=self._timeout),
                ),
                timeout=wait,
            )
        except TimeoutError:
            raise self._no_worker(what, wait) from None
        except WorkflowFailureError as exc:
            if isinstance(exc.cause, TimeoutError_):
                raise self._no_worker(what, wait) from None
            raise FleetError(f"{what} failed: {_failure_text(exc.cause)}") from None
        except RPCError as exc:
            raise self._rpc_failure(exc, f"run {what}") from None

    async def provision(
        self, name: str, spec: ServerSpec, policy: ServerPolicy | PolicyOverrides | None = None
    ) -> WorkflowHandle[ServerWorkflow, ServerStatus]:
        """Start the server's workflow; raises InvalidRequest, ServerExists, FleetUnavailable."""
        inp = self.build_input(name, spec, policy)
        await self.check_spec(spec)
        # A server that has just ended still closes its run for a moment: wait for
        # that once, so a name is free again as soon as its server is TERMINATED.
        for attempt in (1, 2):
            try:
                return await start_server(
                    self.client,
                    inp,
                    self.settings.temporal_task_queue,
                    rpc_timeout=timedelta(seconds=self._timeout),
                )
            except WorkflowAlreadyStartedError:
                state = await self._state_of_running(name)
                if attempt == 1 and state in FINAL_STATES and await self._closes(name):
                    continue
                raise ServerExists(name, state) from None
            except RPCError as exc:
                raise self._rpc_failure(exc, f"start server {name}") from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def _closes(self, name: str, within: float = 10.0) -> bool:
        """Whether the name's workflow run closes within `within` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not await self.is_running(name):
                return True
            await asyncio.sleep(0.2)
        return False

    async def is_running(self, name: str) -> bool:
        """Whether a workflow for this name runs now (the name is taken)."""
        description = await self._describe(_checked_name(name))
        return description is not None and description.status == _RUNNING

    async def _state_of_running(self, name: str) -> str:
        try:
            return (await self.status(name)).state.value
        except FleetError:
            return "running"

    # ------------------------------------------------------------------ requests

    async def busy(self, name: str, task_id: str) -> ServerStatus:
        """Mark `task_id` as running on the server (EXECUTING); idempotent per task."""
        return await self._update(
            name,
            ServerWorkflow.start_task,
            checked_request(f"server {name}", TaskSignal, task_id=task_id),
        )

    async def idle(self, name: str, task_id: str) -> ServerStatus:
        """Mark `task_id` finished; the server is IDLE once no task runs."""
        return await self._update(
            name,
            ServerWorkflow.finish_task,
            checked_request(f"server {name}", TaskSignal, task_id=task_id),
        )

    async def terminate(
        self, name: str, reason: str = "requested by operator", now: bool = False
    ) -> ServerStatus:
        """Terminate at the next deadline when idle, or at once with `now`."""
        request = checked_request(
            f"server {name}", TerminationRequest, reason=reason, immediately=now
        )
        return await self._update(name, ServerWorkflow.terminate, request)

    async def claim_server(self, name: str, task_id: str) -> ClaimResult:
        """Hand the server to `task_id` exclusively; `accepted` False says why not."""
        return await self._update(
            name,
            ServerWorkflow.claim,
            checked_request(f"server {name}", ClaimRequest, task_id=task_id),
        )

    async def _update(self, name: str, update: Any, arg: Any) -> Any:
        handle = self.client.get_workflow_handle(workflow_id_for(_checked_name(name)))
        what = f"{update.__name__} for server {name}"
        try:
            return await asyncio.wait_for(
                handle.execute_update(update, arg, rpc_timeout=timedelta(seconds=self._timeout)),
                timeout=self._timeout,
            )
        except WorkflowUpdateFailedError as exc:
            raise RequestRefused(name, _failure_text(exc.cause)) from None
        except RPCError as exc:
            # An update sent to a completed workflow fails as an RPCError (NOT_FOUND),
            # exactly like one sent to a workflow that never existed: tell them apart.
            if exc.status == RPCStatusCode.NOT_FOUND and not self._namespace_missing(exc):
                raise await self._gone(name) from None
            raise self._rpc_failure(exc, what) from None
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise self._no_worker(what) from None

    async def _gone(self, name: str) -> FleetError:
        """ServerNotFound, or ServerFinished with the final state when it ran once."""
        description = await self._describe(name)
        if description is None:
            return ServerNotFound(name)
        record = await self._latest_record(name)
        state = record.state.value if record is not None else _status_name(description)
        return ServerFinished(name, state)

    # ------------------------------------------------------------------ reading

    async def status(self, name: str) -> ServerStatus:
        """Live status from the workflow while it runs, else its last recorded status."""
        handle = self.client.get_workflow_handle_for(
            ServerWorkflow.run, workflow_id_for(_checked_name(name))
        )
        description = await self._describe(name)
        if description is not None and description.status == _RUNNING:
            try:
                live = await handle.query(
                    ServerWorkflow.status, rpc_timeout=timedelta(seconds=self._timeout)
                )
                return billing_as_of(live, datetime.now(UTC))
            except (WorkflowQueryFailedError, WorkflowQueryRejectedError, RPCError) as exc:
                if isinstance(exc, RPCError) and exc.status == RPCStatusCode.UNAVAILABLE:
                    raise self._rpc_failure(exc, f"query server {name}") from None
                record = await self._latest_record(name)
                if record is not None:
                    log.warning("query of %s failed (%s); showing its last record", name, exc)
                    return billing_as_of(record, datetime.now(UTC))
                raise self._no_worker(f"the status query for server {name}") from None
        record = await self._latest_record(name)
        if record is not None:
            return billing_as_of(record, datetime.now(UTC))
        if description is None:
            raise ServerNotFound(name)
        if description.status == WorkflowExecutionStatus.COMPLETED:
            return await handle.result()
        if description.status == WorkflowExecutionStatus.FAILED:
            try:
                await handle.result()
            except WorkflowFailureError as exc:
                raise FleetError(
                    f"server {name} failed: {_failure_text(exc.cause)} (it left no record)"
                ) from None
        raise FleetError(
            f"server {name}'s workflow ended {_status_name(description)} and left no record; "
            f"see workflow {handle.id} in the Temporal web UI"
        )

    async def list(
        self,
        state: ServerState | None = None,
        *,
        include_finished: bool = False,
        provider: str | None = None,
    ) -> builtins.list[ServerStatus]:
        """The latest generation of every server, by name, from the read model, of
        every provider or of `provider`.

        Finished servers (TERMINATED, ERROR) are left out unless `include_finished`, or
        unless `state` asks for one of them.
        """
        pipeline: list[dict[str, Any]] = [
            {"$sort": {"name": 1, "updated_at": -1}},
            {"$group": {"_id": "$name", "doc": {"$first": "$$ROOT"}}},
        ]
        docs = await self._read(
            "list servers",
            lambda db: db[SERVERS_COLLECTION].aggregate(pipeline),
            many=True,
        )
        now = datetime.now(UTC)
        found = [billing_as_of(status_from_record(row["doc"]), now) for row in docs]
        if state is not None:
            found = [s for s in found if s.state == state]
        elif not include_finished:
            found = [s for s in found if s.state not in FINAL_STATES]
        if provider is not None:
            found = [s for s in found if s.provider == provider]
        return sorted(found, key=lambda s: s.name)

    async def wait_for_state(
        self,
        name: str,
        states: Collection[ServerState],
        timeout: float,  # noqa: ASYNC109 - WaitTimeout reports the last state seen
        *,
        poll_seconds: float = 0.5,
    ) -> ServerStatus:
        """Poll until the server is in one of `states`.

        Raises ServerFailed when it goes to ERROR and ServerFinished when it reaches
        TERMINATED without either being wanted; WaitTimeout after `timeout` seconds.
        """
        wanted = frozenset(states)
        deadline = time.monotonic() + timeout
        while True:
            current = await self.status(name)
            if current.state in wanted:
                return current
            if current.state == ServerState.ERROR:
                raise ServerFailed(name, current.error)
            if current.state in FINAL_STATES:
                raise ServerFinished(name, current.state.value)
            if time.monotonic() >= deadline:
                raise WaitTimeout(name, wanted, current.state.value, timeout)
            await asyncio.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))

    # ------------------------------------------------------------------ plumbing

    async def _describe(self, name: str) -> WorkflowExecutionDescription | None:
        handle = self.client.get_workflow_handle(workflow_id_for(name))
        try:
            return await handle.describe(rpc_timeout=timedelta(seconds=self._timeout))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND and not self._namespace_missing(exc):
                return None
            raise self._rpc_failure(exc, f"describe server {name}") from None

    async def _latest_record(self, name: str) -> ServerStatus | None:
        if self.db is None:
            return None
        doc = await self._read(
            f"read the record of {name}",
            lambda db: db[SERVERS_COLLECTION].find_one({"name": name}, sort=[("updated_at", -1)]),
        )
        return status_from_record(doc) if doc else None

    async def _read(self, what: str, op: Any, *, many: bool = False) -> Any:
        if self.db is None:
            raise FleetError(
                f"cannot {what}: this ServerFleet has no read-model database (pass db=)"
            )
        try:
            result = op(self.db)
            if many:
                cursor = await result
                return await cursor.to_list()
            return await result
        except PyMongoError as exc:
            raise self.mongo_failure(what, exc) from None

    def mongo_failure(self, what: str, exc: PyMongoError) -> FleetUnavailable:
        """The one-line error for a read-model operation MongoDB did not answer."""
        waited = ""
        if isinstance(exc, ServerSelectionTimeoutError):
            waited = f" within {MONGO_SELECT_SECONDS} s"
        elif isinstance(exc, NetworkTimeout):
            waited = f" within {MONGO_REPLY_SECONDS} s"
        return FleetUnavailable(
            f"cannot {what}: MongoDB at MONGO_URI (database MONGO_DB="
            f"{self.settings.mongo_db}) did not answer{waited}: {_mongo_reason(exc)}"
        )

    @asynccontextmanager
    async def mongo(self, what: str) -> AsyncIterator[AsyncDatabase[Any]]:
        """The read-model database; a MongoDB that fails or does not answer within
        MONGO_SELECT_SECONDS / MONGO_REPLY_SECONDS ends as FleetUnavailable."""
        if self.db is None:
            raise FleetError(f"cannot {what}: it needs MongoDB (MONGO_URI)")
        try:
            yield self.db
        except PyMongoError as exc:
            raise self.mongo_failure(what, exc) from None

    def _namespace_missing(self, exc: RPCError) -> bool:
        return "namespace" in exc.message.lower()

    def _rpc_failure(self, exc: RPCError, what: str) -> FleetError:
        address = self.settings.temporal_address
        namespace = self.settings.temporal_namespace
        if exc.status == RPCStatusCode.UNAVAILABLE:
            return FleetUnavailable(
                f"cannot {what}: Temporal at TEMPORAL_ADDRESS={address} is unavailable "
                f"({exc.message}); start it with `python starter.py dev` or fix TEMPORAL_ADDRESS"
            )
        if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            return FleetUnavailable(
                f"cannot {what}: Temporal at TEMPORAL_ADDRESS={address} did not answer "
                f"within {self._timeout:g} s"
            )
        if exc.status == RPCStatusCode.NOT_FOUND and self._namespace_missing(exc):
            return FleetUnavailable(
                f"cannot {what}: namespace {namespace!r} does not exist at {address}; "
                "set TEMPORAL_NAMESPACE or create the namespace"
            )
        if exc.status in (RPCStatusCode.UNAUTHENTICATED, RPCStatusCode.PERMISSION_DENIED):
            return FleetUnavailable(
                f"cannot {what}: Temporal at {address} refused the credentials ({exc.message})"
            )
        if exc.status == RPCStatusCode.RESOURCE_EXHAUSTED:
            return FleetUnavailable(
                f"cannot {what}: Temporal at {address} is rate limiting ({exc.message}); "
                "try again shortly"
            )
        if exc.status == RPCStatusCode.INVALID_ARGUMENT and "search attribute" in exc.message:
            return FleetError(
                f"cannot {what}: {exc.message}; register the search attributes on namespace "
                f"{namespace!r} (`python starter.py dev` does it for a local server)"
            )
        return FleetError(f"cannot {what}: Temporal answered {exc.status.name}: {exc.message}")

    def _no_worker(self, what: str, waited: float | None = None) -> FleetUnavailable:
        return FleetUnavailable(
            f"no worker answered {what} within {waited or self._timeout:g} s: is a worker "
            f"(`python worker.py`) polling task queue {self.settings.temporal_task_queue!r} "
            f"at {self.settings.temporal_address}?"
        )
