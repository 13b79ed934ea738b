"""Where server-sent event streams wait: threads of their own, never the API's.

An event stream's iterator blocks while it waits for the execution's next change. Run by Starlette in
the API's thread pool (``ORCHESTRATOR_API_THREADS``, 8), ten open streams starved every other request
of every owner. Here each ``next()`` runs under a limiter of its own (``MAX_OPEN_STREAMS`` threads), and
one owner may hold at most ``MAX_STREAMS_PER_OWNER`` of them, so no owner can take them all either.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import anyio
import anyio.to_thread

MAX_OPEN_STREAMS = 256
MAX_STREAMS_PER_OWNER = 16


class TooManyStreams(Exception):
    pass


class StreamSlots:
    def __init__(self, total: int = MAX_OPEN_STREAMS, per_owner: int = MAX_STREAMS_PER_OWNER) -> None:
        self.total = total
        self.per_owner = per_owner
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._limiter: anyio.CapacityLimiter | None = None  # made in the event loop, on first use

    def take(self, owner_id: str) -> None:
        """A slot for one more stream of ``owner_id``; TooManyStreams when it has its share open."""
        with self._lock:
            if self._open[owner_id] >= self.per_owner:
                raise TooManyStreams(f"this owner has {self._open[owner_id]} event streams open, the most allowed "
                                     f"({self.per_owner}); close one first")
            self._open[owner_id] += 1

    def give_back(self, owner_id: str) -> None:
        with self._lock:
            self._open[owner_id] -= 1
            if self._open[owner_id] <= 0:
                del self._open[owner_id]

    def open_count(self, owner_id: str) -> int:
        with self._lock:
            return self._open[owner_id]

    async def relay(self, owner_id: str, chunks: Iterator[str]) -> AsyncIterator[str]:
        """``chunks``, each fetched on a stream thread; the owner's slot is given back when it ends."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.total)
        try:
            while True:
                chunk = await anyio.to_thread.run_sync(next, chunks, None, limiter=self._limiter)
                if chunk is None:
                    return
                yield chunk
        finally:
            self.give_back(owner_id)
