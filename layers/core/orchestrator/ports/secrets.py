"""Secrets: values by name, resolved at the last moment and never stored in a record.

- ``Secrets``: the values one execution may read (one owner's view); what templates resolve through.
- ``SecretVault``: where owners keep their own secrets (write-only from the API's side: values go in,
  only names and timestamps come out). Locally encrypted in the store; in the cloud SSM Parameter Store
  or Secrets Manager under an owner-scoped path.
- ``SecretResolver``: gives each execution the ``Secrets`` of its owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class SecretNotFound(KeyError):
    pass


class SecretsBackendError(RuntimeError):
    """The backend could not answer (permissions, throttling, network): the secret may well exist."""


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown of a secret: never its value."""

    name: str
    created_at: datetime
    updated_at: datetime


class Secrets(Protocol):
    def get(self, name: str) -> str:
        """The secret's value; raises SecretNotFound naming the secret (never its value)."""


class SecretVault(Protocol):
    def put_secret(self, owner_id: str, name: str, value: str) -> SecretInfo:
        """Creates or replaces the owner's secret ``name``."""

    def get_secret(self, owner_id: str, name: str) -> str | None:
        """The value, or None when the owner has no secret of that name."""

    def list_secrets(self, owner_id: str) -> list[SecretInfo]:
        """The owner's secrets, by name."""

    def delete_secret(self, owner_id: str, name: str) -> bool:
        """False when there was none."""


class SecretResolver(Protocol):
    def for_owner(self, owner_id: str | None) -> Secrets:
        """The secrets an execution of ``owner_id`` may read (None: the single-user ``orchestrator run``)."""


class SealedSecretRows(Protocol):
    """The store's side of a local vault: opaque (already encrypted) values per owner and name."""

    def put_sealed(self, owner_id: str, name: str, sealed: bytes) -> SecretInfo: ...

    def get_sealed(self, owner_id: str, name: str) -> bytes | None: ...

    def list_sealed(self, owner_id: str) -> list[SecretInfo]: ...

    def delete_sealed(self, owner_id: str, name: str) -> bool: ...
