"""Step result records in the StepResultStore, with large outputs moved aside to Blobs.

A record is {"status", "attempt", "output" | "output_ref", "error", "cause", "logs", "started_at",
"finished_at"}. Outputs above the inline threshold go to Blobs and come back transparently on read, so
Step Functions only ever carries step ids and outcomes and its 256 KB payload limit is never reached.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.ports.blobs import Blobs
from orchestrator.ports.execution_control import StepObserver
from orchestrator.ports.step_results import StepResultStore

EXECUTION_CONTEXT_KEY = "$execution"
DONE_STATUSES = frozenset({"succeeded", "skipped"})


def is_top_level(key: str) -> bool:
    """A step of the workflow itself, not one nested in a loop or parallel step (``fan[3].score``,
    ``par.branches[0].a``): nested keys always hold a ``.``, and step ids never do."""
    return "." not in key


@dataclass
class StepRecords:
    results: StepResultStore
    blobs: Blobs
    execution_id: str
    inline_limit: int = 200 * 1024
    observer: StepObserver | None = None

    def get(self, step_key: str) -> dict[str, Any] | None:
        record = self.results.get(self.execution_id, step_key)
        if record is not None and "output_ref" in record:
            record["output"] = json.loads(self.blobs.get(record["output_ref"]))
        return record

    def put(self, step_key: str, record: dict[str, Any]) -> None:
        record = dict(record)
        output = record.pop("output", None)
        encoded = json.dumps(output, separators=(",", ":"), default=str, ensure_ascii=False).encode()
        if len(encoded) > self.inline_limit:
            record["output_ref"] = self.blobs.put(f"{self.execution_id}/{step_key}.json", encoded)
            record["output_bytes"] = len(encoded)
        else:
            record["output"] = output
        self.results.put(self.execution_id, step_key, record)
        if self.observer is not None:
            self.observer.step_recorded(self.execution_id, step_key, record)

    def report_again(self, step_key: str) -> None:
        """Tells the observer a stored record once more. A process killed between writing a step's result
        and reporting it leaves the control plane's step record behind; reports are idempotent."""
        record = self.results.get(self.execution_id, step_key)
        if self.observer is not None and record is not None:
            self.observer.step_recorded(self.execution_id, step_key, record)


class StepsView(Mapping[str, Any]):
    """``scope["steps"]``: each step's {"status", "output", "error"}, read from the store when first named.

    Siblings inside a loop item or parallel branch shadow top-level steps of the same id.
    """

    def __init__(self, records: StepRecords, local: Mapping[str, dict[str, Any]] | None = None) -> None:
        self._records = records
        self._local = local if local is not None else {}
        self._cache: dict[str, dict[str, Any]] = {}

    def __getitem__(self, step_id: str) -> dict[str, Any]:
        if step_id in self._local:
            return _visible(self._local[step_id])
        if step_id not in self._cache:
            record = self._records.get(step_id)
            if record is None or step_id.startswith("$"):
                raise KeyError(step_id)
            self._cache[step_id] = _visible(record)
        return self._cache[step_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._local)

    def __len__(self) -> int:
        return len(self._local)


def _visible(record: Mapping[str, Any]) -> dict[str, Any]:
    # a skipped or failed-and-continued step has a null output, so downstream templates still render
    return {"status": record.get("status"), "output": record.get("output"), "error": record.get("error")}
