"""/api/v1/secrets: each owner's own secrets. Values go in and are never shown again: reads give names
and timestamps only. Admin keys may act for another owner with ``?owner_id=``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

from fastapi import Path, Query, Response
from pydantic import BaseModel, Field, SecretStr, field_validator

from orchestrator.api.auth import CurrentPrincipal, Principal
from orchestrator.api.context import Context
from orchestrator.api.errors import ApiError, not_found
from orchestrator.api.pagination import PageParams, page_of_list
from orchestrator.api.routing import resource_router
from orchestrator.api.schemas import PageResponse, Request, error_responses
from orchestrator.domain.tenancy import SECRET_NAME_PATTERN, SecretNameNotAllowed, check_secret_name
from orchestrator.observability import logger
from orchestrator.ports.secrets import SecretInfo, SecretsBackendError

router = resource_router("/secrets", "secrets", not_found_on_every_route=False)

#: a secret is a token, a password, a key or a certificate, not a document
MAX_SECRET_BYTES = 64 * 1024

SecretName = Annotated[str, Path(description="letters, digits, '_', '-', '.'; not ORCHESTRATOR_* or AWS_*",
                                 pattern=SECRET_NAME_PATTERN, max_length=128)]
OwnerQuery = Annotated[str | None, Query(description="admin keys: another owner's secrets", min_length=1)]


class SecretWrite(Request):
    value: SecretStr = Field(description="the secret's value; write-only, never returned")

    @field_validator("value")
    @classmethod
    def _sized(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value()
        if not text:
            raise ValueError("a secret's value cannot be empty")
        if len(text.encode("utf-8")) > MAX_SECRET_BYTES:
            raise ValueError(f"a secret's value is at most {MAX_SECRET_BYTES} bytes")
        return value


class SecretResponse(BaseModel):
    name: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, info: SecretInfo) -> SecretResponse:
        return cls(name=info.name, created_at=info.created_at, updated_at=info.updated_at)


def _owner(principal: Principal, requested: str | None) -> str:
    if requested is None or requested == principal.owner_id:
        return principal.owner_id
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "only an admin key may act for another owner",
                       details={"location": "owner_id"})
    return requested


@contextmanager
def _vault_answers() -> Iterator[None]:
    # the backend could not answer (a key that does not decrypt, SSM throttling): nothing about values
    try:
        yield
    except SecretsBackendError as error:
        logger.error("secret vault failed", extra={"error": str(error)})
        raise ApiError(503, "secrets_unavailable", "the secret store cannot answer now; try again later") from None


def _checked(name: str) -> str:
    try:
        return check_secret_name(name)
    except SecretNameNotAllowed as error:
        raise ApiError(400, "invalid_secret_name", str(error), details={"location": "path.name"}) from None


@router.put("/{name}", response_model=SecretResponse, responses=error_responses(403, 422, 503))
def put_secret(name: SecretName, body: SecretWrite, principal: CurrentPrincipal, context: Context,
               owner_id: OwnerQuery = None) -> SecretResponse:
    """Creates or replaces the secret. Workflows of this owner read it as ``{{secrets.<name>}}``."""
    with _vault_answers():
        info = context.secret_vault.put_secret(_owner(principal, owner_id), _checked(name),
                                               body.value.get_secret_value())
    return SecretResponse.of(info)


@router.get("", response_model=PageResponse[SecretResponse], responses=error_responses(403, 503))
def list_secrets(principal: CurrentPrincipal, context: Context, page: PageParams,
                 owner_id: OwnerQuery = None) -> PageResponse[SecretResponse]:
    """The owner's secrets by name: names and timestamps, never values."""
    with _vault_answers():
        infos = context.secret_vault.list_secrets(_owner(principal, owner_id))
    found = page_of_list(infos, lambda info: info.name, page)
    return PageResponse(items=[SecretResponse.of(info) for info in found.items], next_cursor=found.next_cursor)


@router.delete("/{name}", status_code=204, response_class=Response, responses=error_responses(403, 404, 503))
def delete_secret(name: SecretName, principal: CurrentPrincipal, context: Context,
                  owner_id: OwnerQuery = None) -> Response:
    """Deletes the secret at once; executions that need it afterwards fail naming it."""
    with _vault_answers():
        deleted = context.secret_vault.delete_secret(_owner(principal, owner_id), _checked(name))
    if not deleted:
        raise not_found("secret", name)
    return Response(status_code=204)
