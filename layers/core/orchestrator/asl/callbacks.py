"""Task tokens of ``.waitForTaskToken`` tasks: SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat from
any thread reach the waiting task on the interpreter's event loop."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any


class TaskDoesNotExist(LookupError):
    """The token is unknown, or its task has already finished (as AWS's TaskDoesNotExist / TaskTimedOut)."""


class InvalidOutput(ValueError):
    """SendTaskSuccess output that is not JSON (AWS's InvalidOutput)."""


@dataclass
class CallbackOutcome:
    output: Any = None
    error: str | None = None
    cause: str | None = None
    failed: bool = False


@dataclass
class Waiter:
    loop: asyncio.AbstractEventLoop
    outcome: asyncio.Future[CallbackOutcome]
    heartbeat: asyncio.Event = field(default_factory=asyncio.Event)
    claimed: bool = False  # an outcome was sent (a second SendTask* must fail, as on AWS)


class TaskTokenRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, Waiter] = {}

    def register(self, token: str) -> Waiter:
        """Called on the event loop before the function is invoked (it may call back at once)."""
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop=loop, outcome=loop.create_future())
        with self._lock:
            self._waiters[token] = waiter
        return waiter

    def unregister(self, token: str) -> None:
        with self._lock:
            self._waiters.pop(token, None)

    def _waiter(self, token: str, claim: bool = False) -> Waiter:
        with self._lock:
            waiter = self._waiters.get(token)
            if waiter is None or waiter.claimed or waiter.outcome.done():
                raise TaskDoesNotExist(f"no task is waiting for token {token!r}")
            if claim:
                waiter.claimed = True
        return waiter

    def send_success(self, token: str, output: Any) -> None:
        if isinstance(output, str | bytes):
            try:
                value = json.loads(output)
            except ValueError as invalid:
                raise InvalidOutput(f"output is not JSON: {invalid}") from None
        else:
            # A copy, so the sender cannot change the execution's data afterwards.
            value = json.loads(json.dumps(output))
        self._resolve(token, CallbackOutcome(output=value))

    def send_failure(self, token: str, error: str | None, cause: str | None) -> None:
        self._resolve(token, CallbackOutcome(error=error, cause=cause, failed=True))

    def send_heartbeat(self, token: str) -> None:
        waiter = self._waiter(token)
        waiter.loop.call_soon_threadsafe(waiter.heartbeat.set)

    def _resolve(self, token: str, outcome: CallbackOutcome) -> None:
        waiter = self._waiter(token, claim=True)

        def resolve() -> None:
            if not waiter.outcome.done():
                waiter.outcome.set_result(outcome)

        waiter.loop.call_soon_threadsafe(resolve)
