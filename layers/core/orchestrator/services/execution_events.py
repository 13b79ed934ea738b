"""The live feed of one execution (server-sent events): status changes, step changes, new log lines.

The store is the source of truth, whatever process changed it: the feed polls it, and wakes at once when
the in-process ``ExecutionNotifier`` says something changed (in a Lambda nobody notifies, so a change
costs at most one poll interval). Polling sees states, not transitions: a change undone within one
interval is not seen, which is why every event carries the whole current record.

Event ids and resuming. Log lines are the only history the store numbers (``seq``), so event ids are
built on it: ``id = log_seq * EVENT_ID_STRIDE + n``, where ``log_seq`` is the last log line sent and
``n`` counts the state events sent since it. Ids therefore only grow, and a client that reconnects with
``Last-Event-ID`` gets the log lines after ``log_seq`` (none twice, none lost) and the current state of the
execution and of every step again (states are absolute, so seeing one twice is harmless). The ``end``
event's ``n`` is ``EVENT_ID_STRIDE - 1``: a client reconnecting after it has nothing more to get.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from orchestrator.domain.lifecycle import is_terminal
from orchestrator.domain.records import ExecutionRecord, LogEntry, StepExecutionRecord
from orchestrator.ports.store import Store
from orchestrator.services.notifier import ExecutionNotifier

#: room for state events between two log lines; a poll-observed change per slot never comes near it
EVENT_ID_STRIDE = 1_000_000
_END_MARK = EVENT_ID_STRIDE - 1
_LOG_BATCH = 500

EventKind = Literal["execution", "step", "log", "end"]


@dataclass(frozen=True)
class EventStreamOptions:
    #: how often the store is read when no notification comes (across processes there are none)
    poll_seconds: float = 1.0
    #: a comment line after this long without events keeps proxies from closing an idle stream
    heartbeat_seconds: float = 15.0
    #: after the terminal status is seen, how long late step and log writes of the ending get to land
    settle_seconds: float = 0.2
    #: close the stream after this long (a Lambda behind API Gateway cannot stream: the client reconnects
    #: with Last-Event-ID and continues); None streams until the execution ends
    max_seconds: float | None = None


@dataclass(frozen=True)
class EventPosition:
    log_seq: int = 0
    changes: int = 0
    ended: bool = False

    @classmethod
    def parse(cls, last_event_id: str | None) -> EventPosition:
        """The position a reconnecting client reached; an id this feed never issued starts afresh."""
        try:
            value = int(last_event_id or "")
        except ValueError:
            return cls()
        if value < 0:
            return cls()
        log_seq, changes = divmod(value, EVENT_ID_STRIDE)
        if changes == _END_MARK:
            return cls(log_seq, 0, ended=True)
        return cls(log_seq, changes)

    @property
    def event_id(self) -> str:
        return str(self.log_seq * EVENT_ID_STRIDE + (_END_MARK if self.ended else self.changes))


@dataclass(frozen=True)
class StreamEvent:
    id: str
    kind: EventKind
    record: ExecutionRecord | StepExecutionRecord | LogEntry


#: what the stream yields between events when it has been quiet for ``heartbeat_seconds``
HEARTBEAT = None


def _execution_state(record: ExecutionRecord) -> tuple[object, ...]:
    return (record.status, record.started_at, record.ended_at, record.error, record.cause)


def _step_state(record: StepExecutionRecord) -> tuple[object, ...]:
    return (record.status, record.attempt, record.started_at, record.ended_at, record.error, record.cause)


@dataclass
class ExecutionEventStream:
    store: Store
    notifier: ExecutionNotifier
    execution_id: str
    last_event_id: str | None = None
    options: EventStreamOptions = field(default_factory=EventStreamOptions)
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._position = EventPosition.parse(self.last_event_id)
        self._execution_seen: tuple[object, ...] | None = None
        self._steps_seen: dict[str, tuple[object, ...]] = {}

    @property
    def client_saw_the_end(self) -> bool:
        """The client reconnected after this feed's ``end`` event: nothing is left to send."""
        return self._position.ended

    def __iter__(self) -> Iterator[StreamEvent | None]:
        options = self.options
        started = last_sent = self.clock()
        settled = False
        while True:
            seen_version = self.notifier.version(self.execution_id)
            execution = self.store.get_execution(self.execution_id)
            if execution is None:
                return
            terminal = is_terminal(execution.status)
            if terminal and not settled:
                # the ending writes steps (cancelled ones) and logs after the status: give them a moment
                settled = True
                self.notifier.wait(self.execution_id, self.notifier.version(self.execution_id), options.settle_seconds)
                continue
            events = self._changes(execution, terminal)
            yield from events
            now = self.clock()
            if events:
                last_sent = now
            if terminal:
                yield self._end(execution)
                return
            if options.max_seconds is not None and now - started >= options.max_seconds:
                return
            if now - last_sent >= options.heartbeat_seconds:
                yield HEARTBEAT
                last_sent = now
            timeout = min(options.poll_seconds, max(0.0, options.heartbeat_seconds - (now - last_sent)))
            if options.max_seconds is not None:
                timeout = min(timeout, max(0.0, options.max_seconds - (now - started)))
            self.notifier.wait(self.execution_id, seen_version, timeout)

    def _changes(self, execution: ExecutionRecord, terminal: bool) -> list[StreamEvent]:
        status_change: list[tuple[EventKind, ExecutionRecord]] = []
        if _execution_state(execution) != self._execution_seen:
            self._execution_seen = _execution_state(execution)
            status_change.append(("execution", execution))
        step_changes: list[tuple[EventKind, StepExecutionRecord]] = []
        for step in self.store.list_step_executions(execution.id):
            state = _step_state(step)
            if self._steps_seen.get(step.step_id) != state:
                self._steps_seen[step.step_id] = state
                step_changes.append(("step", step))
        new_lines = [("log", entry) for entry in self._new_log_lines()]
        # the execution's start comes before its steps' news, its end after them
        ordered = [*step_changes, *new_lines, *status_change] if terminal else [*status_change, *step_changes, *new_lines]
        return [self._numbered(kind, record) for kind, record in ordered]

    def _new_log_lines(self) -> Iterator[LogEntry]:
        after = self._position.log_seq
        while True:
            batch = self.store.list_logs(self.execution_id, after_seq=after, limit=_LOG_BATCH)
            yield from batch
            if len(batch) < _LOG_BATCH:
                return
            after = batch[-1].seq

    def _numbered(self, kind: EventKind, record: ExecutionRecord | StepExecutionRecord | LogEntry) -> StreamEvent:
        if isinstance(record, LogEntry):
            self._position = EventPosition(record.seq, 0)
        else:
            self._position = EventPosition(self._position.log_seq, self._position.changes + 1)
        return StreamEvent(self._position.event_id, kind, record)

    def _end(self, execution: ExecutionRecord) -> StreamEvent:
        self._position = EventPosition(self._position.log_seq, ended=True)
        return StreamEvent(self._position.event_id, "end", execution)
