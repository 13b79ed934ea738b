"""Owners' secrets kept in the store, sealed with ``SecretCipher`` before they are written.

The key is loaded on first use (``key_text`` is called once), so a process that never touches a secret
never creates a key file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from orchestrator.adapters.local.secret_cipher import SecretCipher
from orchestrator.ports.secrets import SealedSecretRows, SecretInfo


class StoreVault:
    def __init__(self, rows: SealedSecretRows, key_text: Callable[[], str]) -> None:
        self._rows = rows
        self._key_text = key_text
        self._cipher: SecretCipher | None = None
        self._lock = threading.Lock()

    def _sealer(self) -> SecretCipher:
        with self._lock:
            if self._cipher is None:
                self._cipher = SecretCipher.from_text(self._key_text())
            return self._cipher

    def put_secret(self, owner_id: str, name: str, value: str) -> SecretInfo:
        return self._rows.put_sealed(owner_id, name, self._sealer().seal(owner_id, name, value))

    def get_secret(self, owner_id: str, name: str) -> str | None:
        sealed = self._rows.get_sealed(owner_id, name)
        return None if sealed is None else self._sealer().open(owner_id, name, sealed)

    def list_secrets(self, owner_id: str) -> list[SecretInfo]:
        return self._rows.list_sealed(owner_id)

    def delete_secret(self, owner_id: str, name: str) -> bool:
        return self._rows.delete_sealed(owner_id, name)
