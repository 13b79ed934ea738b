"""Secret values by name, resolved at the last moment and never stored."""

from __future__ import annotations

from typing import Protocol


class SecretNotFound(KeyError):
    pass


class Secrets(Protocol):
    def get(self, name: str) -> str:
        """The secret's value; raises SecretNotFound naming the secret (never its value)."""
