"""Triggers: /api/v1/workflows/{workflow_id}/triggers and /api/v1/triggers/{id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response

from orchestrator.api.access import visible_trigger, visible_workflow
from orchestrator.api.auth import CurrentPrincipal
from orchestrator.api.context import Context
from orchestrator.api.pagination import PageParams, page_of_list
from orchestrator.api.routing import resource_router
from orchestrator.api.schemas import (
    SECRET_MASK,
    PageResponse,
    TriggerCreate,
    TriggerResponse,
    TriggerUpdate,
    error_responses,
)
from orchestrator.domain.records import TriggerRecord, format_timestamp

router = resource_router("", "triggers")

WorkflowId = Annotated[str, Path(description="the workflow's id")]
TriggerId = Annotated[str, Path(description="the trigger's id")]


def _oldest_first(trigger: TriggerRecord) -> tuple[str, str]:
    return format_timestamp(trigger.created_at), trigger.id


@router.post("/workflows/{workflow_id}/triggers", status_code=201, response_model=TriggerResponse,
             responses=error_responses(422))
def create_trigger(workflow_id: WorkflowId, body: TriggerCreate, principal: CurrentPrincipal, context: Context,
                   response: Response) -> TriggerResponse:
    """The config is checked like a workflow file's triggers (cron, time zone, event pattern, path)."""
    workflow = visible_workflow(context, principal, workflow_id)
    trigger = context.triggers.create(
        workflow, trigger_type=body.type, config=body.config, name=body.name, is_enabled=body.is_enabled
    )
    response.headers["Location"] = f"{router.prefix}/triggers/{trigger.id}"
    return TriggerResponse.of(trigger)


@router.get("/workflows/{workflow_id}/triggers", response_model=PageResponse[TriggerResponse])
def list_triggers(workflow_id: WorkflowId, principal: CurrentPrincipal, context: Context, page: PageParams,
                  ) -> PageResponse[TriggerResponse]:
    workflow = visible_workflow(context, principal, workflow_id)
    found = page_of_list(context.store.list_triggers(workflow.id), _oldest_first, page)
    return PageResponse(items=[TriggerResponse.of(t) for t in found.items], next_cursor=found.next_cursor)


@router.get("/triggers/{trigger_id}", response_model=TriggerResponse)
def get_trigger(trigger_id: TriggerId, principal: CurrentPrincipal, context: Context) -> TriggerResponse:
    return TriggerResponse.of(visible_trigger(context, principal, trigger_id))


@router.put("/triggers/{trigger_id}", response_model=TriggerResponse, responses=error_responses(422))
def update_trigger(trigger_id: TriggerId, body: TriggerUpdate, principal: CurrentPrincipal, context: Context,
                   ) -> TriggerResponse:
    """``config`` is merged into the stored one (seed 002: ``{"config": {"cron": "0 3 * * *"}}`` keeps the
    time zone); ``null`` removes a key. The type cannot change: make a new trigger."""
    trigger = visible_trigger(context, principal, trigger_id)
    patch = body.config
    if patch is not None and patch.get("secret") == SECRET_MASK:  # a config read back: keep the stored secret
        patch = {name: value for name, value in patch.items() if name != "secret"}
    updated = context.triggers.update(trigger, name=body.name, config_patch=patch, is_enabled=body.is_enabled)
    return TriggerResponse.of(updated)


@router.delete("/triggers/{trigger_id}", status_code=204, response_class=Response)
def delete_trigger(trigger_id: TriggerId, principal: CurrentPrincipal, context: Context) -> Response:
    context.triggers.delete(visible_trigger(context, principal, trigger_id))
    return Response(status_code=204)
