"""Large payloads (step outputs above the inline threshold) stored aside and passed on as references."""

from __future__ import annotations

from typing import Protocol


class Blobs(Protocol):
    def put(self, key: str, data: bytes) -> str:
        """Store data under key; returns the reference (a URI) to pass on."""

    def get(self, ref: str) -> bytes: ...
