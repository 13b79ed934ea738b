"""API keys: how they are made, stored, presented and checked, and what each one may see.

A key is ``ork_`` and 32 random bytes (URL-safe base64). The store keeps its SHA-256 and its first
characters only, so a leaked database leaks no key. A key is bound to one owner and sees only that
owner's workflows, triggers and executions: others' answer 404, exactly like ids that do not exist, so
a key cannot learn what exists outside its owner. Admin keys see everything.

Keys are sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. ``/health``, ``/metrics``,
``/docs`` and ``/openapi.json`` need none (operators' probes and scrapers; no owner's data in them beyond
workflow ids in metric labels).

Bootstrap: ``ORCHESTRATOR_ADMIN_KEY`` (``Settings.admin_api_key``) is accepted as an admin key, and so,
in the deployed stack, is the value of the secret ``ORCHESTRATOR_ADMIN_KEY_SECRET_ID`` names (the
composition root reads it; the authenticator gets a function that returns its current value). Without
either, ``ensure_admin_key`` creates one in the store on first start and returns it once for printing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from orchestrator.api.errors import ApiError
from orchestrator.domain.records import ApiKeyRecord
from orchestrator.domain.tenancy import ADMIN_OWNER_ID
from orchestrator.ports.store import Store
from orchestrator.settings import Settings

#: the configured admin key: none, the key, or a function that returns its current value (a rotating secret)
AdminKeySource = str | Callable[[], str | None] | None

KEY_PREFIX = "ork_"
#: how many leading characters of a key are stored, to tell keys apart in listings ("ork_" + 8)
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 8


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue_api_key(store: Store, owner_id: str, *, is_admin: bool = False) -> tuple[ApiKeyRecord, str]:
    """A new key for the owner: its stored record and the key itself (which nothing keeps)."""
    key = generate_api_key()
    record = store.create_api_key(
        ApiKeyRecord(owner_id=owner_id, key_hash=hash_api_key(key), prefix=key[:SHOWN_PREFIX_LENGTH], is_admin=is_admin)
    )
    return record, key


def ensure_admin_key(store: Store, settings: Settings) -> str | None:
    """Creates the first admin key when none is configured and the store has none; returns it (to print
    once, as ``orchestrator serve`` does on first start), else None."""
    if settings.admin_api_key or settings.admin_key_secret_id:
        return None
    if any(key.is_admin and not key.revoked for key in store.list_api_keys(ADMIN_OWNER_ID)):
        return None
    _, key = issue_api_key(store, ADMIN_OWNER_ID, is_admin=True)
    return key


@dataclass(frozen=True)
class Principal:
    """Who is calling: the owner the key is bound to, and whether it is an admin key."""

    owner_id: str
    is_admin: bool = False
    #: None for the configured admin key, which has no record
    key_id: str | None = None

    def can_see(self, owner_id: str) -> bool:
        return self.is_admin or owner_id == self.owner_id


class ApiKeyAuthenticator:
    def __init__(self, store: Store, admin_api_key: AdminKeySource = None) -> None:
        self._store = store
        self._admin_key: Callable[[], str | None] | None = None
        self._admin_key_hash: str | None = None
        if callable(admin_api_key):
            self._admin_key = admin_api_key
        elif admin_api_key:
            self._admin_key_hash = hash_api_key(admin_api_key)

    def _configured_admin_hash(self) -> str | None:
        if self._admin_key is None:
            return self._admin_key_hash
        # The source caches the value (config_secret_max_age_seconds); once per that it reads the secret
        # again, a blocking call here, where one request at a time runs (a Lambda container).
        key = self._admin_key()
        return hash_api_key(key) if key else None

    def configured_admin(self, presented_hash: str) -> Principal | None:
        """The principal of the configured admin key, if that is the key presented (no store read)."""
        admin_key_hash = self._configured_admin_hash()
        if admin_key_hash is not None and hmac.compare_digest(presented_hash, admin_key_hash):
            return Principal(ADMIN_OWNER_ID, is_admin=True)
        return None

    def stored_key(self, presented_hash: str) -> Principal | None:
        """The principal of a key in the store (a blocking read)."""
        record = self._store.find_api_key_by_hash(presented_hash)
        if record is None:
            return None
        return Principal(record.owner_id, is_admin=record.is_admin, key_id=record.id)


# --- FastAPI dependencies ---------------------------------------------------------------------------------

# auto_error=False: a missing key is answered by `authenticate`, in the API's error shape
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


# The dependencies are coroutines: a plain function dependency costs a trip through the thread pool on
# every request; only the store read of a stored key goes there.
async def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
) -> Principal:
    presented = bearer.credentials if bearer is not None else api_key
    if not presented:
        raise _unauthorized("an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    authenticator: ApiKeyAuthenticator = request.app.state.authenticator
    presented_hash = hash_api_key(presented.strip())
    principal = (authenticator.configured_admin(presented_hash)
                 or await run_in_threadpool(authenticator.stored_key, presented_hash))
    if principal is None:
        raise _unauthorized("the API key is not valid (unknown or revoked)")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


async def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "this needs an admin key")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]


async def event_scope(principal: CurrentPrincipal) -> str | None:
    """Whose event triggers the caller's events may fire (``POST /api/v1/events``): its owner's; an admin's
    fire every owner's (None)."""
    return None if principal.is_admin else principal.owner_id
