"""Executions: start one, list and read them, pause / resume / cancel / retry, read their logs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query, Response

from orchestrator.api.access import listing_owner, sees_listing, visible_execution, visible_workflow
from orchestrator.api.auth import CurrentPrincipal
from orchestrator.api.context import Context
from orchestrator.api.pagination import PageParams
from orchestrator.api.routing import resource_router
from orchestrator.api.schemas import (
    ExecuteRequest,
    ExecutionDetail,
    ExecutionResponse,
    LogResponse,
    PageResponse,
    error_responses,
)
from orchestrator.domain.records import ExecutionStatus
from orchestrator.ports.store import InvalidCursor

router = resource_router("", "executions")

ExecutionId = Annotated[str, Path(description="the execution's id")]


def _located(response: Response, execution_id: str) -> None:
    response.headers["Location"] = f"{router.prefix}/executions/{execution_id}"


@router.post("/workflows/{workflow_id}/execute", status_code=202, response_model=ExecutionResponse,
             responses=error_responses(409, 422))
def execute_workflow(
    workflow_id: Annotated[str, Path(description="the workflow's id")],
    body: ExecuteRequest,
    principal: CurrentPrincipal,
    context: Context,
    response: Response,
) -> ExecutionResponse:
    """Queues an execution (202: it starts when a worker takes it). 409 when the workflow is paused."""
    workflow = visible_workflow(context, principal, workflow_id, with_summary=False)
    execution = context.executions.submit(workflow.id, input=body.input, priority=body.priority, version=body.version)
    _located(response, execution.id)
    return ExecutionResponse.from_record(execution)


@router.get("/executions", response_model=PageResponse[ExecutionResponse])
def list_executions(
    principal: CurrentPrincipal,
    context: Context,
    page: PageParams,
    workflow_id: str | None = None,
    status: ExecutionStatus | None = None,
    owner_id: Annotated[str | None, Query(description="admin keys: one owner's executions")] = None,
) -> PageResponse[ExecutionResponse]:
    """Newest first."""
    if not sees_listing(principal, owner_id):
        return PageResponse(items=[])
    found = context.store.list_executions(
        workflow_id=workflow_id, status=status, owner_id=listing_owner(principal, owner_id),
        limit=page.limit, cursor=page.cursor,
    )
    return PageResponse(items=[ExecutionResponse.from_record(e) for e in found.items], next_cursor=found.next_cursor)


@router.get("/executions/{execution_id}", response_model=ExecutionDetail)
def get_execution(execution_id: ExecutionId, principal: CurrentPrincipal, context: Context) -> ExecutionDetail:
    """The execution with the latest attempt of each of its steps."""
    execution = visible_execution(context, principal, execution_id)
    return ExecutionDetail.of(execution, context.store.list_step_executions(execution.id))


@router.post("/executions/{execution_id}/pause", response_model=ExecutionResponse, responses=error_responses(409))
def pause_execution(execution_id: ExecutionId, principal: CurrentPrincipal, context: Context) -> ExecutionResponse:
    """running -> paused: running steps finish, no new step starts."""
    execution = visible_execution(context, principal, execution_id)
    return ExecutionResponse.from_record(context.executions.pause(execution.id))


@router.post("/executions/{execution_id}/resume", response_model=ExecutionResponse, responses=error_responses(409))
def resume_execution(execution_id: ExecutionId, principal: CurrentPrincipal, context: Context) -> ExecutionResponse:
    """paused -> running."""
    execution = visible_execution(context, principal, execution_id)
    return ExecutionResponse.from_record(context.executions.resume(execution.id))


@router.post("/executions/{execution_id}/cancel", response_model=ExecutionResponse, responses=error_responses(409))
def cancel_execution(execution_id: ExecutionId, principal: CurrentPrincipal, context: Context) -> ExecutionResponse:
    """queued, running or paused -> cancelled."""
    execution = visible_execution(context, principal, execution_id)
    return ExecutionResponse.from_record(context.executions.cancel(execution.id))


@router.post("/executions/{execution_id}/retry", status_code=202, response_model=ExecutionResponse,
             responses=error_responses(409))
def retry_execution(
    execution_id: ExecutionId,
    principal: CurrentPrincipal,
    context: Context,
    response: Response,
    version: Annotated[
        Literal["same", "latest"], Query(description="run the execution's version again, or the workflow's latest")
    ] = "same",
) -> ExecutionResponse:
    """A new execution of a finished one (``retry_of`` points back); steps that succeeded and did not
    change are not run again."""
    execution = visible_execution(context, principal, execution_id)
    retried = context.executions.retry(execution.id, version=version)
    _located(response, retried.id)
    return ExecutionResponse.from_record(retried)


@router.get("/executions/{execution_id}/logs", response_model=PageResponse[LogResponse])
def execution_logs(
    execution_id: ExecutionId,
    principal: CurrentPrincipal,
    context: Context,
    page: PageParams,
    step_id: str | None = None,
) -> PageResponse[LogResponse]:
    """Log lines in order (``seq``); for a live tail, follow ``/events``."""
    execution = visible_execution(context, principal, execution_id)
    after_seq = _log_cursor(page.cursor)
    lines = context.store.list_logs(execution.id, step_id=step_id, after_seq=after_seq, limit=page.limit + 1)
    shown = lines[: page.limit]
    more = len(lines) > page.limit
    return PageResponse(items=[LogResponse.of(line) for line in shown],
                        next_cursor=str(shown[-1].seq) if more else None)


def _log_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 18:  # a sequence number fits SQLite's 64-bit integers
        raise InvalidCursor(f"invalid page cursor: {cursor[:40]!r}")
    return int(cursor)
