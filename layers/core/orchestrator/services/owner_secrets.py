"""The secrets an execution may read: its owner's own, then the operator's shared ones.

Resolution for ``{{secrets.api_token}}`` in an execution of owner ``alice``:

1. alice's secret ``api_token`` in the vault (``PUT /api/v1/secrets/api_token``);
2. the operator's shared secret from the environment, ``ORCHESTRATOR_SECRET_api_token`` (or
   ``..._API_TOKEN``; the prefix is ``Settings.secrets_env_prefix`` and cannot be empty).

Nothing else: no other environment variable, no other owner's vault. Names that spell a server setting
(``ORCHESTRATOR_*``, ``AWS_*``) are refused before any lookup, and a missing secret's message names the
secret only, so it tells nothing about which server variables exist. Every value handed out is
registered with the process masker, so it is masked in every log line.
"""

from __future__ import annotations

from orchestrator.domain.tenancy import ADMIN_OWNER_ID, SecretNameNotAllowed, check_secret_name
from orchestrator.masking import Masker
from orchestrator.ports.secrets import SecretNotFound, Secrets, SecretVault


class OwnerSecrets:
    """One owner's view (``Secrets``)."""

    def __init__(self, owner_id: str, vault: SecretVault | None, shared: Secrets | None, masker: Masker) -> None:
        self.owner_id = owner_id
        self._vault = vault
        self._shared = shared
        self._masker = masker

    def get(self, name: str) -> str:
        try:
            check_secret_name(name)
        except SecretNameNotAllowed as error:
            raise SecretNotFound(str(error)) from None
        value = self._vault.get_secret(self.owner_id, name) if self._vault is not None else None
        if value is None and self._shared is not None:
            try:
                value = self._shared.get(name)
            except SecretNotFound:
                value = None
        if value is None:
            raise SecretNotFound(f"secret {name!r} not found: set it with `orchestrator secrets set {name}` "
                                 f"or PUT /api/v1/secrets/{name}")
        self._masker.add(value)
        return value


class VaultSecretResolver:
    """``SecretResolver``: each owner's ``OwnerSecrets``. The single-user run (no owner) is the operator."""

    def __init__(self, vault: SecretVault | None, shared: Secrets | None, masker: Masker) -> None:
        self.vault = vault
        self.shared = shared
        self.masker = masker

    def for_owner(self, owner_id: str | None) -> Secrets:
        return OwnerSecrets(owner_id or ADMIN_OWNER_ID, self.vault, self.shared, self.masker)
