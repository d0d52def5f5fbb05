"""ServerWorkflow: one rented server from provisioning to deletion, billing-aware."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutError

with workflow.unsafe.imports_passed_through():
    from activities.delete_plan import DeletePlanActivities
    from activities.fleet_store import FleetStoreActivities
    from activities.leases import LEASE_UNAVAILABLE, LeaseActivities
    from activities.payloads import (
        CheckReadyInput,
        CreateInstanceInput,
        FindInstanceInput,
        InstanceInfo,
        InstanceRef,
        KeepWarmInput,
        PlanQuote,
        RecordServerInput,
        ReserveDeleteInput,
        SlotInput,
        SpecInput,
    )
    from activities.policy import PolicyActivities
    from activities.pools import PoolActivities
    from activities.provider import ProviderActivities
    from core import billing
    from core.lifecycle import (
        FINAL_STATES,
        SERVING_STATES,
        TRANSITIONS,
        InvalidTransition,
        ServerState,
    )
    from core.models import (
        CarriedState,
        ClaimRequest,
        ClaimResult,
        DeleteSlot,
        ServerInput,
        ServerPolicy,
        ServerStatus,
        TaskSignal,
        TerminationRequest,
        TimelineEntry,
    )
    from leases.models import Lease, LeaseHoldersInput
    from workflows.policies import (
        CONFIRM_RETRY,
        DELETE_PRIORITY,
        DELETE_RETRY,
        LEASE_WAIT_RETRY,
        MONGO_RETRY,
        PROVIDER_HEARTBEAT_TIMEOUT,
        PROVIDER_RETRY,
        READY_POLL_PRIORITY,
        TERMINATION_SLOT_RETRY,
        deadline_mongo_wait,
        provider_catalog_queue,
        provider_task_queue,
        ready_poll_retry,
    )
    from workflows.search_attributes import (
        INSTANCE_KEY,
        NAME_KEY,
        PLAN_KEY,
        PROVIDER_KEY,
        REGION_KEY,
        STATE_KEY,
        TERMINATE_AT_KEY,
    )

__all__ = ["ServerWorkflow"]

S = ServerState
A = TypeVar("A")  # an activity's argument
R = TypeVar("R")  # and its result
FINISHED_TASKS_KEPT = 200
PROVIDER_CALL_TIMEOUT = timedelta(seconds=45)
MONGO_CALL_TIMEOUT = timedelta(seconds=15)
# The delete plan is an optimisation: a MongoDB that does not answer by then is skipped.
DELETE_PLAN_TIMEOUT = timedelta(seconds=30)


class _TerminatedWhileProvisioning(Exception):
    """Provisioning stopped on purpose (termination requested); no error to report."""


@workflow.defn(name="ServerWorkflow")
class ServerWorkflow:
    @workflow.init
    def __init__(self, input: ServerInput) -> None:
        self._input = input
        self._rt: CarriedState = input.runtime or CarriedState()
        # None until the worker resolves it (the first activity of a new server).
        self._policy: ServerPolicy | None = input.policy
        # Bumped by every signal and update: wakes the main loop to re-evaluate.
        self._wakeups = 0
        self._record_due = False  # a handler changed the state: the loop writes it
        # Servers started before `busy-state-in-handlers` replay the older answers: an
        # update waited until the loop had acted on its change (see _until_loop_acted).
        self._loop_acted_on = 0  # the last `_wakeups` value the loop acted on
        self._draining = False  # continuing as new: those updates stop waiting
        self._billed_recorded = 0
        self._unawaited: list[workflow.ActivityHandle[Any]] = []  # records left running
        # While serving (patched histories): the next deadline, which no read-model
        # write or other MongoDB call may delay.
        self._mongo_until: datetime | None = None
        # Why the delete went without a termination slot (None: it had one).
        self._slot_skipped: str | None = None

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, input: ServerInput) -> ServerStatus:
        rt = self._rt
        if rt.started_at is None:
            rt.started_at = workflow.now()
            rt.generation = workflow.info().first_execution_run_id
            rt.timeline.append(TimelineEntry(state=S.PROVISIONING, at=rt.started_at))
        self._publish()
        try:
            if self._policy is None:
                self._policy = await self._mongo(
                    PolicyActivities.resolve_policy,
                    input.overrides,
                    "the worker's billing policy with the requested overrides",
                )
            if rt.version == 0:
                await self._record()  # visible in `list` from the start
            if rt.state == S.PROVISIONING:
                await self._provision()
            await self._serve()
            await self._terminate()
        except _TerminatedWhileProvisioning:
            await self._terminate()
        except ActivityError as err:
            await self._fail(self._describe(err))
        except ApplicationError as err:
            await self._fail(str(err))
        await workflow.wait_condition(workflow.all_handlers_finished)
        await asyncio.gather(*self._unawaited, return_exceptions=True)
        if rt.state == S.ERROR:
            # Cleanup is done; failing (not completing) shows the run as Failed, with
            # the reason, in the web UI and in ExecutionStatus queries.
            raise ApplicationError(
                rt.error or "server failed", type="ServerError", non_retryable=True
            )
        return self._status()

    @property
    def _pol(self) -> ServerPolicy:
        assert self._policy is not None, "the policy is resolved first thing in run()"
        return self._policy

    # ---------------------------------------------------------- provisioning

    async def _provision(self) -> None:
        rt, spec, policy = self._rt, self._input.spec, self._pol
        if rt.monthly_cost is None:
            quote: PlanQuote = await self._call_provider(
                ProviderActivities.quote_plan,
                SpecInput(spec=spec),
                "check region, plan and OS",
                queue=provider_catalog_queue(workflow.info().task_queue, spec.provider),
            )
            rt.monthly_cost = quote.monthly_cost
            rt.hourly_cost, rt.billing_model = quote.hourly_cost, quote.billing
        # Histories from before per-provider quotas took (and renew) the shared slot.
        if rt.quota_provider is None and workflow.patched("quota-per-provider"):
            rt.quota_provider = spec.provider
        account = rt.quota_provider or "the"
        self._details(f"waiting for a slot of {account} account quota")
        await self._until_done_or_terminated(
            self._mongo(
                FleetStoreActivities.take_quota_slot,
                self._quota_slot(),
                f"take a slot of {account} account quota",
                retry=LEASE_WAIT_RETRY,
            )
        )
        if rt.instance_id is None:
            self._details("creating the instance")
            found = await self._call_provider(
                ProviderActivities.find_instance,
                FindInstanceInput(workflow_id=self._wf_id),
                "look for an instance this server already owns",
            )
            if found is None:
                found = await self._call_provider(
                    ProviderActivities.create_instance,
                    CreateInstanceInput(
                        workflow_id=self._wf_id, hostname=self._input.name, spec=spec
                    ),
                    f"create {spec.plan} in {spec.region}",
                )
            self._adopt(found)
            await self._record()
        self._details(f"waiting for instance {rt.instance_id} to boot")
        info = await self._until_done_or_terminated(
            workflow.start_activity_method(
                ProviderActivities.check_ready,
                CheckReadyInput(workflow_id=self._wf_id, instance_id=rt.instance_id or ""),
                task_queue=self._provider_queue,
                start_to_close_timeout=PROVIDER_CALL_TIMEOUT,
                heartbeat_timeout=PROVIDER_HEARTBEAT_TIMEOUT,
                schedule_to_close_timeout=timedelta(seconds=policy.readiness_timeout_seconds),
                retry_policy=ready_poll_retry(policy.ready_poll_seconds),
                priority=READY_POLL_PRIORITY,
                summary="wait until active/running/ok",
            )
        )
        self._adopt(info)
        assert rt.billing_start is not None
        now = workflow.now()
        if rt.idle_since is None and not rt.active_tasks:
            rt.idle_since = now  # a READY server with no task is idle from now
        self._plan_end(now, self._deadline(now))
        if workflow.patched("serve-bounded"):
            self._mongo_until = self._mongo_bound(now)  # READY's record may not delay it
        await self._transition(S.READY, "instance is active, running and ok")
        if rt.started_at is not None:
            workflow.metric_meter().create_histogram_timedelta(
                "server_provisioning_latency", "Workflow start to READY", "ms"
            ).record(workflow.now() - rt.started_at, {"region": spec.region, "plan": spec.plan})

    def _adopt(self, info: InstanceInfo) -> None:
        rt = self._rt
        if rt.instance_id != info.instance_id:
            rt.instance_id = info.instance_id
            workflow.upsert_search_attributes([INSTANCE_KEY.value_set(info.instance_id)])
        rt.main_ip = info.main_ip
        rt.billing_start = info.created

    async def _until_done_or_terminated(self, handle: workflow.ActivityHandle[Any]) -> Any:
        """Await an activity unless an immediate termination arrives first."""
        await workflow.wait_condition(lambda: handle.done() or self._terminate_now())
        if handle.done():
            return await handle
        handle.cancel()
        try:
            await handle
        except (ActivityError, asyncio.CancelledError):
            pass
        raise _TerminatedWhileProvisioning()

    # ------------------------------------------------------------- serving

    async def _serve(self) -> None:
        """READY/EXECUTING/IDLE until the billing deadline finds the server idle."""
        # Patched: older histories awaited every MongoDB call of the loop without bound.
        bounded = workflow.patched("serve-bounded")
        try:
            await self._serve_loop(bounded)
        finally:
            self._mongo_until = None

    async def _serve_loop(self, bounded: bool) -> None:
        rt, policy = self._rt, self._pol
        assert rt.billing_start is not None
        while True:
            if bounded:
                self._mongo_until = self._mongo_bound(workflow.now())
            # Taken before any await: a signal that lands while a transition is being
            # recorded must wake the wait below, not be slept through.
            seen = self._wakeups
            now = workflow.now()
            self._expire_stuck_tasks(now)
            if self._terminate_now():
                return
            if self._handlers_apply_state:
                # Tasks started while provisioning make a READY server EXECUTING here.
                self._record_due |= self._apply_busy_state()
                if self._record_due:
                    await self._record()
            elif self._apply_busy_state():
                await self._record()
            # From the loop's start: a deadline passed while settling is still due.
            deadline = await self._planned_deadline(now, self._deadline(now))
            # Before settling: an update answers with the end this change led to.
            planned_moved = self._plan_end(now, deadline)
            self._loop_acted_on = seen
            if workflow.info().is_continue_as_new_suggested():
                # Once every update has its answer; what one changed meanwhile travels
                # with the new run. A terminate-now waits for TERMINATING: it goes first.
                if self._handlers_apply_state:
                    await workflow.wait_condition(
                        lambda: workflow.all_handlers_finished() or self._terminate_now()
                    )
                    if self._terminate_now():
                        return
                else:
                    self._draining = True
                    await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    self._input.model_copy(update={"runtime": rt, "policy": self._policy})
                )
            if planned_moved:
                await self._record()
            await self._record_if_billing_moved()
            wake_at = min([deadline, *self._other_wakeups()])
            self._details(self._serving_details())
            try:
                await workflow.wait_condition(
                    lambda seen=seen: self._wakeups != seen,  # type: ignore[misc]
                    # From the current time: the awaits above may have taken a while.
                    timeout=max(wake_at - workflow.now(), timedelta(0)),
                    timeout_summary=f"until {wake_at:%H:%M:%S} (deadline {deadline:%H:%M:%S})",
                )
            except builtins.TimeoutError:
                pass  # the timer fired: re-evaluate below
            now = workflow.now()
            await self._check_claims(now)
            if self._terminate_now():
                return
            if self._max_idle_reached(now):
                rt.termination = TerminationRequest(reason="idle longer than max_idle_seconds")
                return
            if now >= deadline:
                if self._lifetime_exceeded(now):
                    rt.termination = TerminationRequest(reason="max lifetime reached")
                    return
                idle_at_deadline = billing.idle_at_deadline(
                    bool(rt.active_tasks), rt.idle_since, deadline
                )
                if idle_at_deadline:
                    keep = rt.termination is None and (
                        not policy.terminate_idle_at_deadline or await self._pool_keeps_me()
                    )
                    if keep:  # kept by policy, or a warm member the pool still needs
                        await self._renew_quota()
                        continue
                    if rt.termination is None:
                        reason = (
                            "idle for its idle window"
                            if self._idle_window_applies()
                            else "idle at billing deadline"
                        )
                        rt.termination = TerminationRequest(reason=reason)
                    return
                await self._renew_quota()

    def _mongo_bound(self, now: datetime) -> datetime:
        """Until when a MongoDB call may hold the serving loop: a little before the
        deadline, so that the loop still finds the deadline due rather than computing
        the next one from a later now."""
        slack = min(timedelta(seconds=5), self._pol.margin / 2)
        return self._deadline(now) - slack

    async def _pool_keeps_me(self) -> bool:
        """At its deadline, whether the pool keeps this member warm one more period. A
        MongoDB that does not answer within the termination slot's wait lets it go: a
        period nobody asked for is not bought on a guess (the pool refills on demand)."""
        pool = self._input.pool
        if pool is None:
            return False
        request = KeepWarmInput(
            pool=pool, owner=self._wf_id, ttl_seconds=float(self._pol.billing_period_seconds)
        )
        summary = f"does pool {pool} still need this server?"
        # Patched: older histories waited for the answer however long it took.
        if self._mongo_until is None or not workflow.patched("keep-warm-bounded"):
            return await self._mongo(PoolActivities.keep_warm, request, summary)
        wait = deadline_mongo_wait(self._pol.margin)
        try:
            return await self._mongo(PoolActivities.keep_warm, request, summary, within=wait)
        except ActivityError as err:
            self._rt.termination = TerminationRequest(
                reason=(
                    f"idle at billing deadline; pool {pool} did not answer whether to keep "
                    f"it warm within {wait.total_seconds():g} s: {self._describe(err)}"
                )
            )
            return False

    def _apply_busy_state(self) -> bool:
        """EXECUTING while a task runs, IDLE once none does; True when the state moved
        (the read model is then behind)."""
        rt = self._rt
        if rt.active_tasks and rt.state in (S.READY, S.IDLE):
            self._enter(S.EXECUTING, "task started: " + ", ".join(sorted(rt.active_tasks)))
            return True
        if not rt.active_tasks and rt.state == S.EXECUTING:
            self._enter(S.IDLE, "all tasks finished")
            return True
        return False

    def _other_wakeups(self) -> list[datetime]:
        rt, policy = self._rt, self._pol
        wakeups = []
        if policy.busy_timeout_seconds and rt.active_tasks:
            wakeups.append(
                min(rt.active_tasks.values()) + timedelta(seconds=policy.busy_timeout_seconds)
            )
        wakeups.extend(lease.expires_at for lease in rt.claims.values())
        if rt.active_tasks and rt.billing_start is not None:
            # Crossing a boundary while busy starts a billed hour: record it then.
            wakeups.append(billing.next_boundary(rt.billing_start, workflow.now(), policy.period))
        if policy.max_idle_seconds and not rt.active_tasks and rt.idle_since is not None:
            wakeups.append(rt.idle_since + timedelta(seconds=policy.max_idle_seconds))
        return wakeups

    async def _check_claims(self, now: datetime) -> None:
        """A claim whose lease time has come is looked up in MongoDB (its clock decides):
        renewed claims carry on, lapsed ones free the server."""
        due = [lease for lease in self._rt.claims.values() if lease.expires_at <= now]
        for lease in due:
            holders: list[Lease] = await self._mongo(
                LeaseActivities.lease_holders,
                LeaseHoldersInput(resource=lease.resource),
                f"is the claim of {lease.owner} still renewed?",
            )
            current = next((h for h in holders if h.token == lease.token), None)
            if lease.owner not in self._rt.claims:
                continue  # released while we looked
            if current is None:
                workflow.logger.warning("claim of %s lapsed; server is free again", lease.owner)
                self._finish_task(lease.owner, now)
            else:
                self._rt.claims[lease.owner] = current

    def _expire_stuck_tasks(self, now: datetime) -> None:
        limit = self._pol.busy_timeout_seconds
        if not limit:
            return
        for task_id, since in list(self._rt.active_tasks.items()):
            if now - since >= timedelta(seconds=limit):
                workflow.logger.warning("task %s busy for over %ss; presumed dead", task_id, limit)
                self._finish_task(task_id, now)

    def _max_idle_reached(self, now: datetime) -> bool:
        limit, rt = self._pol.max_idle_seconds, self._rt
        return bool(
            limit
            and not rt.active_tasks
            and rt.idle_since is not None
            and now - rt.idle_since >= timedelta(seconds=limit)
        )

    def _lifetime_exceeded(self, now: datetime) -> bool:
        limit, rt = self._pol.max_lifetime_seconds, self._rt
        return bool(
            limit and rt.billing_start and now - rt.billing_start >= timedelta(seconds=limit)
        )

    def _terminate_now(self) -> bool:
        return self._rt.termination is not None and self._rt.termination.immediately

    def _serving_details(self) -> str:
        rt = self._rt
        when = f"{rt.terminate_at:%Y-%m-%d %H:%M:%S} UTC" if rt.terminate_at else None
        pending = f"; termination requested ({rt.termination.reason})" if rt.termination else ""
        if rt.active_tasks:
            busy = ", ".join(sorted(rt.active_tasks))
            return f"busy with {busy}; next deadline {when or '?'}{pending}"
        if when is None:
            return f"idle; kept until terminated{pending}"
        return f"idle; terminates at {when} unless a task arrives{pending}"

    # ---------------------------------------------------------- termination

    async def _terminate(self) -> None:
        reason = self._rt.termination.reason if self._rt.termination else "terminated"
        # The delete must not wait for MongoDB: a slow write here would cost an hour.
        await self._transition(S.TERMINATING, reason, wait_record=False)
        began = workflow.now()
        await self._delete_instance()
        await self._transition(S.TERMINATED, self._with_slot_note(reason))
        workflow.metric_meter().create_histogram_timedelta(
            "server_termination_latency", "TERMINATING to TERMINATED (delete confirmed)", "ms"
        ).record(workflow.now() - began)

    async def _delete_instance(self) -> None:
        """Delete under a termination slot, confirm it is gone, release every lease."""
        rt = self._rt
        # Patched: older histories waited for the slot and the releases without bound.
        bounded = workflow.patched("termination-slot-bounded")
        if rt.instance_id is not None and rt.deleted_at is None:
            self._details("waiting for a termination slot")
            slot = await self._take_termination_slot(bounded)
            ref = InstanceRef(workflow_id=self._wf_id, instance_id=rt.instance_id)
            self._details(self._with_slot_note(f"deleting instance {rt.instance_id}"))
            while True:
                await workflow.execute_activity_method(
                    ProviderActivities.delete_instance,
                    ref,
                    task_queue=self._provider_queue,
                    start_to_close_timeout=PROVIDER_CALL_TIMEOUT,
                    heartbeat_timeout=PROVIDER_HEARTBEAT_TIMEOUT,
                    retry_policy=DELETE_RETRY,
                    priority=DELETE_PRIORITY,
                    summary=f"delete {rt.instance_id}",
                )
                deleted_at = workflow.now()
                if slot is not None:
                    # A repeated delete (rare: the instance survived) goes without one.
                    await self._release_termination_slot(slot, bounded)
                    slot = None
                try:
                    await workflow.execute_activity_method(
                        ProviderActivities.confirm_deleted,
                        ref,
                        task_queue=self._provider_queue,
                        start_to_close_timeout=PROVIDER_CALL_TIMEOUT,
                        heartbeat_timeout=PROVIDER_HEARTBEAT_TIMEOUT,
                        retry_policy=CONFIRM_RETRY,
                        summary=f"confirm {rt.instance_id} is gone",
                    )
                    break
                except ActivityError:
                    workflow.logger.warning(
                        "instance %s survived a delete; deleting again", rt.instance_id
                    )
            rt.deleted_at = deleted_at
        release = self._mongo(
            FleetStoreActivities.release_server_leases,
            SlotInput(owner=self._wf_id, ttl_seconds=0),
            "release quota and termination slots",
        )
        if bounded:
            # The instance is gone: the final state need not wait for MongoDB. The run
            # still ends only once the leases are released (run() awaits it).
            self._unawaited.append(release)
        else:
            await release

    async def _take_termination_slot(self, bounded: bool) -> Lease | None:
        """The slot, or (patched histories) None when it did not come within its bound:
        the delete then goes without one. A slot granted after the bound (the answer
        lost) is freed by release_server_leases, or by its TTL at the latest."""
        wait = deadline_mongo_wait(self._pol.margin)
        try:
            return await self._mongo(
                FleetStoreActivities.take_termination_slot,
                SlotInput(owner=self._wf_id, ttl_seconds=300),
                "take a termination slot",
                within=wait if bounded else None,
                retry=TERMINATION_SLOT_RETRY,
            )
        except ActivityError as err:
            if not bounded:
                raise
            self._slot_skipped = self._slot_skipped_reason(err, wait)
            workflow.logger.warning(
                "%s deletes without a termination slot: %s", self._input.name, self._slot_skipped
            )
            return None

    @staticmethod
    def _slot_skipped_reason(err: ActivityError, wait: timedelta) -> str:
        seconds = f"{wait.total_seconds():g} s"
        cause: BaseException | None = err
        while cause is not None:  # the timeout carries the last attempt's failure
            if isinstance(cause, ApplicationError) and cause.type == LEASE_UNAVAILABLE:
                return f"every termination slot stayed taken for {seconds}"
            cause = cause.__cause__
        return f"MongoDB did not answer within {seconds}"

    def _with_slot_note(self, text: str) -> str:
        if self._slot_skipped is None:
            return text
        return f"{text}; deleting without a termination slot: {self._slot_skipped}"

    async def _release_termination_slot(self, slot: Lease, bounded: bool) -> None:
        """Give the slot back once the DELETE is accepted; bounded in patched histories,
        since release_server_leases frees it too and it expires by its TTL anyway."""
        try:
            await self._mongo(
                FleetStoreActivities.release_termination_slot,
                slot,
                "release the termination slot",
                within=deadline_mongo_wait(self._pol.margin) if bounded else None,
            )
        except ActivityError as err:
            if not bounded:
                raise
            workflow.logger.warning("release the termination slot failed: %s", self._describe(err))

    async def _fail(self, message: str) -> None:
        """ERROR only after whatever was created is gone: no path leaks an instance."""
        rt = self._rt
        workflow.logger.error("server %s failed: %s", self._input.name, message)
        rt.error = message
        if rt.state not in FINAL_STATES:
            self._details(f"failed: {message}; cleaning up")
            await self._delete_instance()
            await self._transition(S.ERROR, self._with_slot_note(message))

    @staticmethod
    def _describe(err: ActivityError) -> str:
        cause = err.cause
        last = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        if err.retry_state == RetryState.TIMEOUT or isinstance(cause, TimeoutError):
            return f"{err.activity_type} timed out (last: {last})"
        return last

    # ---------------------------------------------------- signals & updates

    @workflow.signal
    def mark_busy(self, task: TaskSignal) -> None:
        problem = self._start_problem(task.task_id)
        if problem:
            self._reject(f"mark_busy({task.task_id}) ignored: {problem}")
            return
        self._start_task(task.task_id)

    @workflow.signal
    def mark_idle(self, task: TaskSignal) -> None:
        problem = self._finish_problem(task.task_id)
        if problem:
            self._reject(f"mark_idle({task.task_id}) ignored: {problem}")
            return
        self._finish_task(task.task_id, workflow.now())

    @workflow.signal
    def request_termination(self, request: TerminationRequest) -> None:
        if self._rt.state in (S.TERMINATING, *FINAL_STATES):
            self._reject(f"request_termination ignored: already {self._rt.state}")
            return
        self._request_termination(request)

    @workflow.signal
    def instance_gone(self, instance_id: str) -> None:
        """Reconciliation found the instance deleted outside this workflow."""
        if instance_id != self._rt.instance_id or self._rt.state in FINAL_STATES:
            return
        self._rt.termination = TerminationRequest(reason="gone at provider", immediately=True)
        self._after_change()

    @workflow.update
    async def start_task(self, task: TaskSignal) -> ServerStatus:
        self._start_task(task.task_id)
        await self._until_loop_acted()
        return self._status()

    @start_task.validator
    def _validate_start_task(self, task: TaskSignal) -> None:
        problem = self._start_problem(task.task_id)
        if problem:
            raise ValueError(problem)

    @workflow.update
    async def finish_task(self, task: TaskSignal) -> ServerStatus:
        self._finish_task(task.task_id, workflow.now())
        await self._until_loop_acted()
        return self._status()

    @finish_task.validator
    def _validate_finish_task(self, task: TaskSignal) -> None:
        problem = self._finish_problem(task.task_id)
        if problem:
            raise ValueError(problem)

    @workflow.update
    def claim(self, request: ClaimRequest) -> ClaimResult:
        """Hand the server to one job exclusively; refused with the reason otherwise."""
        rt = self._rt
        problem = self._claim_problem(request.task_id)
        if problem:
            return ClaimResult(accepted=False, state=rt.state, reason=problem)
        self._start_task(request.task_id)
        if request.lease is not None:
            rt.claims[request.task_id] = request.lease
            self._after_change()
        return ClaimResult(accepted=True, state=rt.state)

    @workflow.update
    async def terminate(self, request: TerminationRequest) -> ServerStatus:
        """Answers with what the request led to: TERMINATING (or later) with `--now`,
        else the pending termination and when it will happen."""
        self._request_termination(request)
        if request.immediately:
            await workflow.wait_condition(
                lambda: self._rt.state in (S.TERMINATING, *FINAL_STATES) or self._draining
            )
        else:
            await self._until_loop_acted()
        return self._status()

    @terminate.validator
    def _validate_terminate(self, request: TerminationRequest) -> None:
        rt = self._rt
        if rt.state in (S.TERMINATING, *FINAL_STATES):
            raise ValueError(f"server {self._input.name} is already {rt.state}")
        if rt.termination is not None and not request.immediately:
            raise ValueError(
                f"termination already requested ({rt.termination.reason}); "
                "use --now to delete it at once"
            )

    @property
    def _handlers_apply_state(self) -> bool:
        """Whether the handler that changes the tasks applies EXECUTING/IDLE and the
        planned end itself, so that an update answers at once with the state it led to.
        Servers started before (no marker in their history) replay the older protocol,
        in which the main loop applied them and updates waited for it."""
        return workflow.patched("busy-state-in-handlers")

    def _after_change(self) -> None:
        """The tasks, claims or termination changed: wake the main loop. While serving
        the state and the planned end follow here; the loop writes the read model."""
        self._wakeups += 1
        rt = self._rt
        if rt.state not in SERVING_STATES or not self._handlers_apply_state:
            return
        moved = self._apply_busy_state()
        now = workflow.now()
        self._record_due |= self._plan_end(now, self._known_deadline(now)) or moved

    async def _until_loop_acted(self) -> None:
        """Servers started before `busy-state-in-handlers` only: the update answers once
        the main loop has acted on its change (at once while provisioning or
        terminating), as their histories recorded."""
        if self._handlers_apply_state:
            return
        target = self._wakeups
        await workflow.wait_condition(
            lambda: (
                self._loop_acted_on >= target
                or self._draining
                or self._rt.state in (S.PROVISIONING, S.TERMINATING, *FINAL_STATES)
            )
        )

    @workflow.query
    def status(self) -> ServerStatus:
        return self._status()

    # The rules, shared by the signal handlers (which can only log a refusal) and
    # the update validators (which return it to the caller).

    def _start_problem(self, task_id: str) -> str | None:
        rt = self._rt
        if rt.state in (S.TERMINATING, *FINAL_STATES):
            return f"server {self._input.name} is {rt.state}"
        if rt.termination is not None:
            return f"server {self._input.name} is draining ({rt.termination.reason})"
        if task_id in rt.active_tasks:
            return None
        if task_id in rt.finished_tasks:
            return f"task {task_id} already finished on {self._input.name}"
        return None

    def _finish_problem(self, task_id: str) -> str | None:
        rt = self._rt
        if task_id in rt.active_tasks or task_id in rt.finished_tasks:
            return None
        running = ", ".join(sorted(rt.active_tasks)) or "none"
        return f"task {task_id} is not running on {self._input.name} (running: {running})"

    def _claim_problem(self, task_id: str) -> str | None:
        rt = self._rt
        if task_id in rt.active_tasks:
            return None
        problem = self._start_problem(task_id)
        if problem:
            return problem
        if rt.active_tasks:
            return f"busy with {', '.join(sorted(rt.active_tasks))}"
        return None

    def _start_task(self, task_id: str) -> None:
        rt = self._rt
        if task_id in rt.active_tasks:
            return
        now = workflow.now()
        if not rt.active_tasks:
            rt.busy_since = now
        rt.active_tasks[task_id] = now
        rt.idle_since = None
        self._after_change()

    def _finish_task(self, task_id: str, now: datetime) -> None:
        rt = self._rt
        rt.claims.pop(task_id, None)
        if rt.active_tasks.pop(task_id, None) is None:
            return
        rt.finished_tasks = [*rt.finished_tasks, task_id][-FINISHED_TASKS_KEPT:]
        if not rt.active_tasks:
            if rt.busy_since is not None:
                rt.busy_seconds += max(0.0, (now - rt.busy_since).total_seconds())
            rt.busy_since = None
            rt.idle_since = now
        self._after_change()

    def _request_termination(self, request: TerminationRequest) -> None:
        current = self._rt.termination
        if current is None or (request.immediately and not current.immediately):
            self._rt.termination = request
            self._after_change()

    def _reject(self, message: str) -> None:
        workflow.logger.warning(message)
        self._rt.rejected = [*self._rt.rejected, message][-20:]

    # ------------------------------------------------------------- plumbing

    @property
    def _wf_id(self) -> str:
        return workflow.info().workflow_id

    @property
    def _provider_queue(self) -> str:
        return provider_task_queue(workflow.info().task_queue, self._input.spec.provider)

    def _quota_ttl(self) -> float:
        # Held for the server's life; renewed at each deadline the server survives.
        policy = self._pol
        return float(policy.readiness_timeout_seconds + 3 * policy.billing_period_seconds)

    def _quota_slot(self) -> SlotInput:
        return SlotInput(
            owner=self._wf_id, ttl_seconds=self._quota_ttl(), provider=self._rt.quota_provider
        )

    async def _renew_quota(self) -> None:
        # At a deadline the server survives: the slot's TTL spans several periods, so a
        # renew MongoDB does not answer in time is left to the next deadline.
        bounded = self._mongo_until is not None
        try:
            await self._mongo(
                FleetStoreActivities.take_quota_slot,
                self._quota_slot(),
                "renew the quota slot",
                within=deadline_mongo_wait(self._pol.margin) if bounded else None,
                retry=LEASE_WAIT_RETRY,
            )
        except ActivityError as err:
            if not bounded:
                raise
            workflow.logger.warning("renewing the quota slot failed: %s", self._describe(err))

    def _mongo(
        self,
        activity: Callable[[Any, A], Awaitable[R]],
        arg: A,
        summary: str,
        *,
        within: timedelta | None = None,
        retry: RetryPolicy = MONGO_RETRY,
    ) -> workflow.ActivityHandle[R]:
        """A MongoDB activity (leases, read model): its call timeout and retries, with
        `within` bounding all its attempts when given. Await the handle for its result."""
        return workflow.start_activity_method(
            activity,
            arg,
            start_to_close_timeout=MONGO_CALL_TIMEOUT,
            schedule_to_close_timeout=within,
            retry_policy=retry,
            summary=summary,
        )

    async def _call_provider(
        self,
        activity: Callable[[Any, A], Awaitable[R]],
        arg: A,
        summary: str,
        *,
        queue: str | None = None,
    ) -> R:
        return await workflow.execute_activity_method(
            activity,
            arg,
            task_queue=queue or self._provider_queue,
            start_to_close_timeout=PROVIDER_CALL_TIMEOUT,
            heartbeat_timeout=PROVIDER_HEARTBEAT_TIMEOUT,
            retry_policy=PROVIDER_RETRY,
            summary=summary,
        )

    async def _transition(
        self, target: ServerState, reason: str = "", *, wait_record: bool = True
    ) -> None:
        if target != self._rt.state:
            self._enter(target, reason)
            await self._record(wait=wait_record)

    def _enter(self, target: ServerState, reason: str) -> None:
        """The state, its timeline entry and search attributes; the read model follows."""
        rt = self._rt
        if target not in TRANSITIONS[rt.state]:
            raise InvalidTransition(rt.state, target)
        now = workflow.now()
        if target in (S.READY, S.IDLE) and rt.idle_since is None:
            rt.idle_since = now  # a READY server with no task is idle too
        rt.state = target
        rt.timeline.append(TimelineEntry(state=target, at=now, reason=reason))
        self._publish()
        workflow.metric_meter().create_counter(
            "server_transitions", "Server state transitions", "1"
        ).add(1, {"state": target.value})

    async def _record_if_billing_moved(self) -> None:
        billed = self._status().billed_hours
        if billed != self._billed_recorded:
            await self._record()

    def _deadline(self, now: datetime) -> datetime:
        """The next billing deadline: the last moment to delete before a new period, or
        for a per-second server the end of its idle window."""
        rt, policy = self._rt, self._pol
        assert rt.billing_start is not None
        if self._idle_window_applies():
            busy = bool(rt.active_tasks)
            return billing.idle_window_deadline(busy, rt.idle_since, now, policy.idle_window)
        return billing.terminate_deadline(rt.billing_start, now, policy.period, policy.margin)

    async def _planned_deadline(self, now: datetime, deadline: datetime) -> datetime:
        """An idle server's boundary deadline moved to its delete-plan slot (earlier or
        equal), so clustered deadlines stay within the provider's rate; going busy gives
        the slot back."""
        rt, policy = self._rt, self._pol
        goes_at_deadline = rt.termination is not None or (
            policy.terminate_idle_at_deadline and self._input.pool is None
        )
        if rt.active_tasks or not goes_at_deadline or self._idle_window_applies():
            if rt.delete_slot is not None:  # only ever set by patched histories
                rt.delete_slot = None
                await self._best_effort(
                    DeletePlanActivities.release_delete_slot, self._wf_id, "release the delete slot"
                )
            return deadline
        if not workflow.patched("delete-plan"):
            return deadline
        slot = rt.delete_slot
        # Held for an older deadline, or from before a task that ended after its time.
        if slot is None or slot.deadline != deadline or (rt.idle_since or now) > slot.at:
            request = ReserveDeleteInput(
                owner=self._wf_id,
                provider=self._input.spec.provider,
                deadline=deadline,
                not_before=now,
            )
            reserved = await self._best_effort(
                DeletePlanActivities.reserve_delete_slot, request, "reserve a delete slot"
            )
            slot = rt.delete_slot = reserved or DeleteSlot(at=deadline, deadline=deadline)
        return min(slot.at, deadline)

    def _known_deadline(self, now: datetime) -> datetime:
        """The deadline as far as a handler can tell without MongoDB: the delete-plan
        slot already held for it, else the deadline itself (the loop then plans it and
        may move it earlier, never later)."""
        deadline, slot = self._deadline(now), self._rt.delete_slot
        if slot is not None and slot.deadline == deadline and not self._rt.active_tasks:
            return min(slot.at, deadline)
        return deadline

    async def _best_effort(
        self, activity: Callable[[Any, A], Awaitable[R]], arg: A, summary: str
    ) -> R | None:
        """A delete-plan call; None when MongoDB does not answer in time (by the next
        deadline, while serving)."""
        within = DELETE_PLAN_TIMEOUT
        if self._mongo_until is not None:
            left = self._mongo_until - workflow.now()
            within = min(within, max(left, timedelta(seconds=1)))
        try:
            return await self._mongo(activity, arg, summary, within=within)
        except ActivityError as err:
            workflow.logger.warning("%s failed: %s", summary, self._describe(err))
            return None

    def _idle_window_applies(self) -> bool:
        model = self._rt.billing_model
        # Patched: a per-second server started before idle windows keeps replaying its
        # boundary deadlines.
        return model is not None and model.per_second and workflow.patched("idle-window")

    def _planned_end(self, now: datetime, deadline: datetime) -> datetime | None:
        """When the server goes if no task starts or ends: what `terminate_at` shows.
        A busy server shows its next deadline (it goes then once idle); None means it
        stays until terminated."""
        rt, policy = self._rt, self._pol
        if self._terminate_now():
            return now
        if rt.active_tasks:
            # Per second, a busy server has no deadline: its window starts when it idles.
            return None if self._idle_window_applies() else deadline
        ends = []
        if policy.terminate_idle_at_deadline or rt.termination is not None:
            ends.append(deadline)
        if policy.max_idle_seconds:
            ends.append((rt.idle_since or now) + timedelta(seconds=policy.max_idle_seconds))
        if policy.max_lifetime_seconds and rt.billing_start is not None:
            # Lifetime is checked at deadlines: the first one past it (or the next one
            # when it has passed already).
            past = rt.billing_start + timedelta(seconds=policy.max_lifetime_seconds)
            ends.append(max(deadline, self._deadline(past)))
        return min(ends) if ends else None

    def _plan_end(self, now: datetime, deadline: datetime) -> bool:
        """Set `terminate_at` (and its search attribute); True when it moved."""
        end = self._planned_end(now, deadline)
        if self._rt.terminate_at == end:
            return False
        self._rt.terminate_at = end
        workflow.upsert_search_attributes(
            [TERMINATE_AT_KEY.value_set(end) if end else TERMINATE_AT_KEY.value_unset()]
        )
        return True

    def _publish(self) -> None:
        """Search attributes and current details for the web UI."""
        rt, spec = self._rt, self._input.spec
        updates = [
            STATE_KEY.value_set(rt.state.value),
            NAME_KEY.value_set(self._input.name),
            PROVIDER_KEY.value_set(spec.provider),
            REGION_KEY.value_set(spec.region),
            PLAN_KEY.value_set(spec.plan),
        ]
        if rt.instance_id:
            updates.append(INSTANCE_KEY.value_set(rt.instance_id))
        workflow.upsert_search_attributes(updates)
        self._details(rt.state.value)

    def _details(self, text: str) -> None:
        rt = self._rt
        lines = [f"**{rt.state}** — {text}"]
        if rt.instance_id:
            lines.append(f"instance `{rt.instance_id}` {rt.main_ip or ''}")
        if rt.terminate_at and rt.state not in FINAL_STATES:
            lines.append(f"terminate at {rt.terminate_at:%Y-%m-%d %H:%M:%S} UTC")
        workflow.set_current_details("\n\n".join(lines))

    async def _record(self, *, wait: bool = True) -> None:
        """Write the read model; the version fences out stale attempts, so a write left
        running (`wait=False`) can never overwrite a later one."""
        self._rt.version += 1
        self._record_due = False
        status = self._status()
        self._billed_recorded = status.billed_hours
        handle = self._mongo(
            FleetStoreActivities.record_server,
            RecordServerInput(status=status, fence=self._rt.version),
            f"record {self._rt.state}",
        )
        if not wait:
            self._unawaited.append(handle)
            return
        until = self._mongo_until
        if until is None:
            await handle
            return
        # Serving: wait for the write only until the deadline; one still running then
        # finishes on its own (the version fences it).
        left = until - workflow.now()
        if left > timedelta(0):
            try:
                await workflow.wait_condition(handle.done, timeout=left)
            except builtins.TimeoutError:
                pass
        if handle.done():
            await handle
        else:
            self._unawaited.append(handle)

    def _status(self) -> ServerStatus:
        inp = self._input
        return ServerStatus.from_runtime(
            inp.name, inp.spec, self._policy, self._rt, workflow.now(), inp.pool
        )
