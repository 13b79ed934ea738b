"""Webhook deliveries already accepted: what makes a replayed signed request start nothing.

A signed webhook request stays valid for its timestamp's tolerance (5 minutes): sent twice, by a retrying
sender or by someone who recorded it, it would start two executions. The first delivery claims its key
(a digest of the trigger and the signature) until the window closes; a second claim of a live key loses,
in every process sharing the store, and learns the execution the first one started.

Keys expire: a claim of an expired key wins as if it were new, and expired keys may be purged at any
time (adapters do it as they go).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class WebhookDelivery:
    key: str
    expires_at: datetime
    #: the execution the delivery started; None while it is being started
    execution_id: str | None = None


class WebhookDeliveries(Protocol):
    def claim(self, key: str, expires_at: datetime, *, now: datetime | None = None) -> WebhookDelivery | None:
        """Claim ``key`` until ``expires_at``: None when this caller has it (start the execution, then
        ``complete``); else the earlier, unexpired delivery of the same key. Atomic across processes."""

    def complete(self, key: str, execution_id: str) -> None:
        """Record the execution the claimed delivery started."""

    def release(self, key: str) -> None:
        """Give the claim up (nothing was started), so that the sender's retry can be accepted."""
