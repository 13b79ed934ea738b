"""The routers of the resources under /api/v1: each operation needs an API key and may answer the
common errors."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from orchestrator.api.auth import authenticate
from orchestrator.api.schemas import COMMON_ERRORS, error_responses

API_PREFIX = "/api/v1"


def resource_router(path: str, tag: str, *, not_found_on_every_route: bool = True) -> APIRouter:
    """``path``: below /api/v1. Routers whose every operation names one record declare their 404 once
    here; the others declare it on the operations that do."""
    responses = {**COMMON_ERRORS, **error_responses(404)} if not_found_on_every_route else COMMON_ERRORS
    return APIRouter(
        prefix=f"{API_PREFIX}{path}", tags=[tag], dependencies=[Depends(authenticate)], responses=responses
    )
