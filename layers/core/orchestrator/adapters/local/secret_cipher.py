"""Encryption at rest for owners' secrets kept in the store (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ``ORCHESTRATOR_SECRETS_KEY`` or, when that is unset, from ``<home>/secrets.key``,
created on first use with mode 0600 (never readable by other users, and outside every script's sandbox).
Several keys, comma- or line-separated, rotate: the first encrypts, all decrypt.

Each ciphertext seals its owner and name with the value, so a row copied to another owner or name does
not decrypt there: whoever can write the database still cannot move a secret between owners.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from orchestrator.ports.secrets import SecretsBackendError

KEY_FILE_NAME = "secrets.key"


class SecretCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        try:
            self._fernet = MultiFernet([Fernet(key.encode("ascii")) for key in keys])
        except (ValueError, UnicodeEncodeError):
            raise ValueError("ORCHESTRATOR_SECRETS_KEY: each key must be 32 url-safe base64-encoded bytes "
                             "(make one with: python -c 'from cryptography.fernet import Fernet; "
                             "print(Fernet.generate_key().decode())')") from None

    @classmethod
    def from_text(cls, text: str) -> SecretCipher:
        return cls([part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()])

    def seal(self, owner_id: str, name: str, value: str) -> bytes:
        return self._fernet.encrypt(json.dumps([owner_id, name, value]).encode("utf-8"))

    def open(self, owner_id: str, name: str, token: bytes) -> str:
        try:
            sealed_owner, sealed_name, value = json.loads(self._fernet.decrypt(token))
        except (InvalidToken, ValueError, TypeError):
            raise SecretsBackendError(f"secret {name!r} cannot be decrypted with the configured key") from None
        if (sealed_owner, sealed_name) != (owner_id, name):
            raise SecretsBackendError(f"secret {name!r} was not sealed for this owner and name")
        return str(value)


def load_or_create_key(home: Path) -> str:
    """The key text of ``<home>/secrets.key``; creates the file (0600) with a new key if there is none."""
    path = home.expanduser() / KEY_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii")
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(Fernet.generate_key().decode("ascii") + "\n")
    return path.read_text(encoding="ascii")
