"""Owner isolation: the records a key may reach. Anything else is "not found", never "forbidden"."""

from __future__ import annotations

from orchestrator.api.auth import ADMIN_OWNER_ID, Principal
from orchestrator.api.context import ApiContext
from orchestrator.api.errors import ApiError, not_found
from orchestrator.domain.records import ExecutionRecord, StepExecutionRecord, TriggerRecord, WorkflowRecord


def visible_workflow(context: ApiContext, principal: Principal, workflow_id: str, *,
                     with_summary: bool = True) -> WorkflowRecord:
    """``with_summary=False``: without its execution counts (see Store.get_workflow), for access checks."""
    workflow = context.store.get_workflow(workflow_id, with_summary=with_summary)
    if workflow is None or not principal.can_see(workflow.owner_id):
        raise not_found("workflow", workflow_id)
    return workflow


def visible_trigger(context: ApiContext, principal: Principal, trigger_id: str) -> TriggerRecord:
    trigger = context.store.get_trigger(trigger_id)
    # a deleted workflow's triggers stay in the store (disabled) but are gone for the API, like it
    if (
        trigger is None
        or not principal.can_see(trigger.owner_id)
        or context.store.get_workflow(trigger.workflow_id, with_summary=False) is None
    ):
        raise not_found("trigger", trigger_id)
    return trigger


def visible_execution(context: ApiContext, principal: Principal, execution_id: str) -> ExecutionRecord:
    execution = context.store.get_execution(execution_id)
    if execution is None or not principal.can_see(execution.owner_id):
        raise not_found("execution", execution_id)
    return execution


def visible_step_execution(context: ApiContext, principal: Principal, step_execution_id: str) -> StepExecutionRecord:
    step = context.store.get_step_execution(step_execution_id)
    if step is None:
        raise not_found("step execution", step_execution_id)
    execution = context.store.get_execution(step.execution_id)
    if execution is None or not principal.can_see(execution.owner_id):
        raise not_found("step execution", step_execution_id)
    return step


def owner_of_new_record(principal: Principal, requested_owner: str | None) -> str:
    """Admins create for whom they name (themselves by default); other keys for their own owner only."""
    if principal.is_admin:
        return requested_owner or ADMIN_OWNER_ID
    if requested_owner is not None and requested_owner != principal.owner_id:
        raise ApiError(403, "forbidden", "only an admin key may act for another owner",
                       details={"location": "owner_id"})
    return principal.owner_id


def listing_owner(principal: Principal, requested_owner: str | None) -> str | None:
    """The owner filter of a listing: admins filter as they ask (None: everyone's); other keys always
    list their own owner's records. ``sees_listing`` says whether the filter they asked for finds any."""
    return requested_owner if principal.is_admin else principal.owner_id


def sees_listing(principal: Principal, requested_owner: str | None) -> bool:
    return requested_owner is None or principal.can_see(requested_owner)
