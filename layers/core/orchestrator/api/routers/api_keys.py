"""/api/v1/api-keys: admins issue keys for owners (each key shown once); keys list and revoke their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response

from orchestrator.api.auth import AdminPrincipal, CurrentPrincipal, issue_api_key
from orchestrator.api.context import Context
from orchestrator.api.errors import not_found
from orchestrator.api.pagination import PageParams, page_of_list
from orchestrator.api.routing import resource_router
from orchestrator.api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyResponse,
    PageResponse,
    error_responses,
)
from orchestrator.domain.records import ApiKeyRecord, format_timestamp

router = resource_router("/api-keys", "api keys", not_found_on_every_route=False)


def _oldest_first(key: ApiKeyRecord) -> tuple[str, str]:
    return format_timestamp(key.created_at), key.id


@router.post("", status_code=201, response_model=ApiKeyCreated, responses=error_responses(403, 422))
def create_api_key(body: ApiKeyCreate, _: AdminPrincipal, context: Context) -> ApiKeyCreated:
    """Admin only. The response holds the key: it is not stored and cannot be shown again."""
    record, key = issue_api_key(context.store, body.owner_id, is_admin=body.is_admin)
    return ApiKeyCreated.from_record(record, key=key)


@router.get("", response_model=PageResponse[ApiKeyResponse])
def list_api_keys(
    principal: CurrentPrincipal,
    context: Context,
    page: PageParams,
    owner_id: Annotated[str | None, Query(description="admin keys: another owner's keys")] = None,
) -> PageResponse[ApiKeyResponse]:
    """The owner's keys, revoked ones included, oldest first."""
    owner = owner_id if principal.is_admin and owner_id else principal.owner_id
    if owner_id is not None and not principal.can_see(owner_id):
        return PageResponse(items=[])
    found = page_of_list(context.store.list_api_keys(owner), _oldest_first, page)
    return PageResponse(items=[ApiKeyResponse.of(key) for key in found.items], next_cursor=found.next_cursor)


@router.delete("/{key_id}", status_code=204, response_class=Response, responses=error_responses(404))
def revoke_api_key(
    key_id: Annotated[str, Path(description="the key's id (not the key)")], principal: CurrentPrincipal, context: Context
) -> Response:
    """Revokes the key at once. Admins revoke any key; other keys their owner's."""
    owns_it = principal.is_admin or any(key.id == key_id for key in context.store.list_api_keys(principal.owner_id))
    if not owns_it or not context.store.revoke_api_key(key_id):
        raise not_found("API key", key_id)
    return Response(status_code=204)
