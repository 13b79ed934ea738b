"""The checkpoint log of an execution and its deterministic replay.

Every record is a JSON object (so any CheckpointStore can persist it):

* ``start``   — execution id, name, state machine ARN and definition hash, input (JSON text), start time;
* ``event``   — one history event with its replay key (``<branch path>~<sequence>``);
* ``outcome`` — the result (JSON text) or error/cause of one Task attempt, keyed by branch, state, visit
  and attempt;
* ``timer``   — the deadline of a Wait or Retry interval, so a resumed wait ends when it would have;
* ``token``   — the task token handed out for a ``.waitForTaskToken`` attempt (still valid after resume);
* ``end``     — the terminal record (written through ``CheckpointStore.finish``).

Resuming replays the execution from its input: Pass/Choice/... are pure, Tasks whose outcome is in the
log are not invoked again, Waits end at their recorded deadline, and history events already in the log
are neither re-appended nor re-sent to the listener. Records are buffered and flushed before every side
effect (Lambda invoke, callback wait, sleep) and at the end, so whatever an external party saw is durable.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orchestrator.ports.checkpoints import CheckpointStore

START = "start"
EVENT = "event"
OUTCOME = "outcome"
TIMER = "timer"
TOKEN = "token"
END = "end"


def definition_hash(definition: dict[str, Any]) -> str:
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def event_record(key: str, event: dict[str, Any], details_key: str | None, details: Any) -> dict[str, Any]:
    """A history event as a checkpoint record (flat, JSON-only; the timestamp as epoch seconds).

    Built field by field rather than by copying the event: this runs for every event.
    """
    return {
        "kind": EVENT,
        "key": key,
        "ts": event["timestamp"].timestamp(),
        "type": event["type"],
        "id": event["id"],
        "previousEventId": event["previousEventId"],
        "detailsKey": details_key,
        "details": details,
    }


def event_from_record(record: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {
        "timestamp": datetime.fromtimestamp(record["ts"], UTC),
        "type": record["type"],
        "id": record["id"],
        "previousEventId": record["previousEventId"],
    }
    if record["detailsKey"] is not None:
        event[record["detailsKey"]] = record["details"]
    return event


class CheckpointWriter:
    """Buffers an execution's records and appends them to the store in order."""

    __slots__ = ("store", "execution_id", "_buffer", "closed")

    def __init__(self, store: CheckpointStore, execution_id: str) -> None:
        self.store = store
        self.execution_id = execution_id
        self._buffer: list[dict[str, Any]] = []
        self.closed = False

    def add(self, record: dict[str, Any]) -> None:
        if not self.closed:
            self._buffer.append(record)

    def flush(self) -> None:
        if self._buffer and not self.closed:
            records, self._buffer = self._buffer, []
            self.store.append(self.execution_id, records)

    def finish(self, record: dict[str, Any]) -> None:
        if self.closed:
            return
        self.flush()
        self.store.finish(self.execution_id, {"kind": END, **record})

    def close(self) -> None:
        """Write nothing more: the execution is abandoned (process stopping) and stays resumable as logged."""
        self.closed = True
        self._buffer = []


@dataclass
class Outcome:
    """A Task attempt's recorded result, or its failure."""

    result: Any = None
    result_json: str | None = None
    error: str | None = None
    cause: str | None = None
    failed: bool = False
    from_task: bool = True


@dataclass
class ReplayLog:
    start: dict[str, Any]
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> event (timestamp: datetime)
    ordered_events: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    timers: dict[str, datetime] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def last_event_id(self) -> int:
        return max((event["id"] for event in self.ordered_events), default=0)

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> ReplayLog:
        if not records or records[0].get("kind") != START:
            raise ValueError("checkpoint log does not begin with a start record")
        log = cls(start=records[0])
        for record in records[1:]:
            kind = record.get("kind")
            if kind == EVENT:
                event = event_from_record(record)
                log.events[record["key"]] = event
                log.ordered_events.append(event)
            elif kind == OUTCOME:
                if "error" in record or "cause" in record:
                    log.outcomes[record["key"]] = Outcome(
                        error=record.get("error"),
                        cause=record.get("cause"),
                        failed=True,
                        from_task=record.get("fromTask", True),
                    )
                else:
                    log.outcomes[record["key"]] = Outcome(
                        result=json.loads(record["result"]), result_json=record["result"]
                    )
            elif kind == TIMER:
                log.timers[record["key"]] = datetime.fromisoformat(record["deadline"])
            elif kind == TOKEN:
                log.tokens[record["key"]] = record["token"]
        return log


class MemoryCheckpointStore:
    """The log of an interpreter run that nothing needs to outlive the process (the default)."""

    def __init__(self) -> None:
        self._logs: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._finished: set[str] = set()
        self._lock = threading.Lock()

    def append(self, execution_id: str, records: list[dict[str, Any]]) -> None:
        with self._lock:
            self._logs[execution_id].extend(records)

    def load(self, execution_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._logs.get(execution_id, ()))

    def unfinished(self) -> list[str]:
        with self._lock:
            return [eid for eid in self._logs if eid not in self._finished]

    def finish(self, execution_id: str, record: dict[str, Any]) -> None:
        with self._lock:
            self._logs[execution_id].append(record)
            self._finished.add(execution_id)
