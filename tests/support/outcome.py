"""A server workflow's final status, whether it completed or failed in ERROR."""

from __future__ import annotations

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from core.lifecycle import ServerState
from core.models import ServerStatus
from workflows.server import ServerWorkflow


async def final_status(handle: WorkflowHandle) -> ServerStatus:
    """The run's result; for a run that failed, its status from the query, checked to be
    ERROR with the failure's message as its error (a failure is never anything else)."""
    try:
        status: ServerStatus = await handle.result()
    except WorkflowFailureError as exc:
        status = await handle.query(ServerWorkflow.status)
        assert status.state == ServerState.ERROR, status.state
        assert isinstance(exc.cause, ApplicationError) and exc.cause.non_retryable
        assert exc.cause.message == status.error
        return status
    assert status.state != ServerState.ERROR, "a run that ends in ERROR must fail, not complete"
    return status
