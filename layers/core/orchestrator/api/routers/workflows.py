"""/api/v1/workflows: CRUD, immutable versions, lifecycle, templates, diagnostics and statistics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Path, Query, Response

from orchestrator.api.access import listing_owner, owner_of_new_record, sees_listing, visible_workflow
from orchestrator.api.auth import CurrentPrincipal
from orchestrator.api.context import Context
from orchestrator.api.errors import ApiError, not_found
from orchestrator.api.pagination import PageParams, filtered_page, page_of_list
from orchestrator.api.routing import resource_router
from orchestrator.api.schemas import (
    MAX_VERSION,
    ExecutionCounts,
    ExecutionSummary,
    PageResponse,
    TriggerResponse,
    WorkflowCreate,
    WorkflowDetail,
    WorkflowInstantiate,
    WorkflowResponse,
    WorkflowStatistics,
    WorkflowStatusResponse,
    WorkflowUpdate,
    WorkflowVersionResponse,
    WorkflowVersionSummary,
    error_responses,
    restore_masked_secrets,
)
from orchestrator.domain.records import ExecutionStatus, WorkflowRecord, WorkflowStatus

router = resource_router("/workflows", "workflows", not_found_on_every_route=False)

WorkflowId = Annotated[str, Path(description="the workflow's id")]


def _detail(context: Context, workflow: WorkflowRecord, response: Response) -> WorkflowDetail:
    # the version is the entity tag: send it back as If-Match to update only what you read
    response.headers["ETag"] = f'"{workflow.current_version}"'
    return WorkflowDetail.of(workflow, context.workflows.current_definition(workflow))


def _tag_list(values: list[str]) -> list[str]:
    """``?tags=a,b&tags=c`` -> a, b, c."""
    return [tag.strip() for value in values for tag in value.split(",") if tag.strip()]


def _unmasked(definition: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """A definition read back (literal webhook secrets masked as "***") with the stored secrets restored;
    422 for a mask that stands for no stored secret (it would become the secret "***")."""
    restored, unmatched = restore_masked_secrets(definition, current)
    if unmatched:
        message = ('"***" stands for a hidden secret, and no stored trigger of this type, path and method has '
                   "one: send the secret itself or a {{secrets.<name>}} reference")
        raise ApiError(422, "validation_error", "the request is not valid",
                       details={"problems": [{"location": location, "message": message} for location in unmatched]})
    return restored


def _expected_version(body: WorkflowUpdate, if_match: str | None) -> int | None:
    if body.expected_version is not None:
        return body.expected_version
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise ApiError(400, "bad_request", "If-Match must be the workflow's ETag, e.g. \"3\"",
                       details={"location": "header.if-match"})
    return int(tag)


@router.post("", status_code=201, response_model=WorkflowDetail, responses=error_responses(403, 422))
def create_workflow(body: WorkflowCreate, principal: CurrentPrincipal, context: Context, response: Response) -> WorkflowDetail:
    workflow = context.workflows.create(
        owner_id=owner_of_new_record(principal, body.owner_id),
        definition=_unmasked(body.definition, {}),
        name=body.name,
        description=body.description,
        tags=body.tags,
        is_template=body.is_template,
    )
    response.headers["Location"] = f"{router.prefix}/{workflow.id}"
    return _detail(context, workflow, response)


@router.get("", response_model=PageResponse[WorkflowResponse])
def list_workflows(
    principal: CurrentPrincipal,
    context: Context,
    page: PageParams,
    owner_id: str | None = None,
    status: WorkflowStatus | None = None,
    tags: Annotated[list[str], Query(description="has all of these; comma-separated or repeated")] = [],  # noqa: B006
    is_template: Annotated[bool | None, Query(description="true: templates only; false: no templates")] = None,
) -> PageResponse[WorkflowResponse]:
    if not sees_listing(principal, owner_id):
        return PageResponse(items=[])
    wanted_tags = _tag_list(tags)
    found = filtered_page(
        lambda limit, cursor: context.store.list_workflows(
            owner_id=listing_owner(principal, owner_id), status=status, tags=wanted_tags, limit=limit, cursor=cursor
        ),
        None if is_template is None else (lambda workflow: workflow.is_template == is_template),
        page,
    )
    return PageResponse(items=[WorkflowResponse.from_record(w) for w in found.items], next_cursor=found.next_cursor)


@router.get("/{workflow_id}", response_model=WorkflowDetail, responses=error_responses(404))
def get_workflow(workflow_id: WorkflowId, principal: CurrentPrincipal, context: Context, response: Response) -> WorkflowDetail:
    return _detail(context, visible_workflow(context, principal, workflow_id), response)


@router.put("/{workflow_id}", response_model=WorkflowDetail, responses=error_responses(404, 409, 422))
def update_workflow(
    workflow_id: WorkflowId,
    body: WorkflowUpdate,
    principal: CurrentPrincipal,
    context: Context,
    response: Response,
    if_match: Annotated[str | None, Header(description="the ETag read: update only if unchanged since")] = None,
) -> WorkflowDetail:
    workflow = visible_workflow(context, principal, workflow_id)
    changes = body.model_dump(exclude_none=True, exclude={"definition", "expected_version"})
    definition = body.definition
    if definition is not None:  # a definition read back: its masked secrets are the stored ones
        definition = _unmasked(definition, context.workflows.current_definition(workflow))
    updated = context.workflows.update(
        workflow, definition=definition, expected_version=_expected_version(body, if_match), **changes
    )
    return _detail(context, updated, response)


@router.delete("/{workflow_id}", status_code=204, response_class=Response, responses=error_responses(404))
def delete_workflow(workflow_id: WorkflowId, principal: CurrentPrincipal, context: Context) -> Response:
    context.workflows.delete(visible_workflow(context, principal, workflow_id))
    return Response(status_code=204)


def _lifecycle(action: str, workflow_id: str, principal: CurrentPrincipal, context: Context) -> WorkflowResponse:
    workflow = visible_workflow(context, principal, workflow_id)
    return WorkflowResponse.from_record(context.workflows.change_status(workflow, action))


@router.post("/{workflow_id}/activate", response_model=WorkflowResponse, responses=error_responses(404, 409))
def activate_workflow(workflow_id: WorkflowId, principal: CurrentPrincipal, context: Context) -> WorkflowResponse:
    """draft or paused -> active: triggers may start it."""
    return _lifecycle("activate", workflow_id, principal, context)


@router.post("/{workflow_id}/pause", response_model=WorkflowResponse, responses=error_responses(404, 409))
def pause_workflow(workflow_id: WorkflowId, principal: CurrentPrincipal, context: Context) -> WorkflowResponse:
    """active -> paused: nothing starts it; running executions go on."""
    return _lifecycle("pause", workflow_id, principal, context)


@router.post("/{workflow_id}/resume", response_model=WorkflowResponse, responses=error_responses(404, 409))
def resume_workflow(workflow_id: WorkflowId, principal: CurrentPrincipal, context: Context) -> WorkflowResponse:
    """paused -> active."""
    return _lifecycle("resume", workflow_id, principal, context)


@router.get("/{workflow_id}/versions", response_model=PageResponse[WorkflowVersionSummary],
            responses=error_responses(404))
def list_versions(workflow_id: WorkflowId, principal: CurrentPrincipal, context: Context, page: PageParams,
                  ) -> PageResponse[WorkflowVersionSummary]:
    workflow = visible_workflow(context, principal, workflow_id)
    found = page_of_list(context.store.list_workflow_versions(workflow.id), lambda version: version.version, page)
    return PageResponse(items=[WorkflowVersionSummary.from_record(v) for v in found.items],
                        next_cursor=found.next_cursor)


@router.get("/{workflow_id}/versions/{version}", response_model=WorkflowVersionResponse,
            responses=error_responses(404))
def get_version(workflow_id: WorkflowId, version: Annotated[int, Path(ge=1, le=MAX_VERSION)], principal: CurrentPrincipal, context: Context,
                ) -> WorkflowVersionResponse:
    workflow = visible_workflow(context, principal, workflow_id)
    stored = context.store.get_workflow_version(workflow.id, version)
    if stored is None:
        raise not_found("workflow version", f"{workflow.id}@{version}")
    return WorkflowVersionResponse.of(stored)


@router.post("/{workflow_id}/instantiate", status_code=201, response_model=WorkflowDetail,
             responses=error_responses(403, 404, 409, 422))
def instantiate_template(
    workflow_id: WorkflowId, body: WorkflowInstantiate, principal: CurrentPrincipal, context: Context,
    response: Response,
) -> WorkflowDetail:
    """A new draft workflow from a template (``is_template: true``), with its own name and variables."""
    template = visible_workflow(context, principal, workflow_id)
    if not template.is_template:
        raise ApiError(409, "not_a_template", "only a template can be instantiated", details={"is_template": False})
    workflow = context.workflows.instantiate(
        template,
        owner_id=owner_of_new_record(principal, body.owner_id),
        name=body.name,
        description=body.description,
        variables=body.variables,
        tags=body.tags,
    )
    response.headers["Location"] = f"{router.prefix}/{workflow.id}"
    return _detail(context, workflow, response)


@router.get("/{workflow_id}/status", response_model=WorkflowStatusResponse, responses=error_responses(404))
def workflow_status(workflow_id: WorkflowId, principal: CurrentPrincipal, context: Context) -> WorkflowStatusResponse:
    diagnostics = context.workflows.diagnostics(visible_workflow(context, principal, workflow_id))
    counts = diagnostics.executions_by_status
    last = diagnostics.last_execution
    return WorkflowStatusResponse(
        workflow_id=diagnostics.workflow.id,
        status=diagnostics.workflow.status,
        current_version=diagnostics.workflow.current_version,
        active_executions=ExecutionCounts(
            queued=counts.get(ExecutionStatus.QUEUED, 0),
            running=counts.get(ExecutionStatus.RUNNING, 0),
            paused=counts.get(ExecutionStatus.PAUSED, 0),
        ),
        last_execution=ExecutionSummary.from_record(last) if last is not None else None,
        triggers=[TriggerResponse.of(trigger) for trigger in diagnostics.triggers],
    )


@router.get("/{workflow_id}/statistics", response_model=WorkflowStatistics, responses=error_responses(404))
def workflow_statistics(workflow_id: WorkflowId, principal: CurrentPrincipal, context: Context) -> WorkflowStatistics:
    """Executions by status, success rate, average and p95 duration (seconds), failures by step."""
    workflow = visible_workflow(context, principal, workflow_id)
    return context.store.workflow_stats(workflow.id)
