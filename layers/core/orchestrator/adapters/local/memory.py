"""In-memory adapters: the fakes of the tests and the store of one-shot `orchestrator run`."""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from typing import Any


class MemoryStepResultStore:
    def __init__(self) -> None:
        self._results: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self._lock = threading.Lock()

    def put(self, execution_id: str, step_key: str, record: dict[str, Any]) -> None:
        with self._lock:
            self._results[execution_id][step_key] = copy.deepcopy(record)

    def get(self, execution_id: str, step_key: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._results.get(execution_id, {}).get(step_key)
            return copy.deepcopy(record) if record is not None else None

    def all(self, execution_id: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._results.get(execution_id, {}))


class MemoryBlobs:
    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> str:
        self._data[key] = data
        return f"memory://{key}"

    def get(self, ref: str) -> bytes:
        return self._data[ref.removeprefix("memory://")]
