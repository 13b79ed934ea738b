"""GET /executions/{id}/events: every change, in order, live; resuming with Last-Event-ID; the end."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from api_harness import Api, make_api

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.domain.records import LogLine, StepExecutionRecord, StepStatus
from orchestrator.services.execution_events import EVENT_ID_STRIDE, EventStreamOptions


@dataclass
class Event:
    id: str | None
    kind: str
    data: dict[str, Any]

    @property
    def summary(self) -> tuple[Any, ...]:
        if self.kind == "step":
            return ("step", self.data["step_id"], self.data["status"], self.data["attempt"])
        if self.kind == "log":
            return ("log", self.data["message"])
        return (self.kind, self.data["status"])


def parse_stream(lines: Iterable[str], comments: list[str] | None = None) -> Iterator[Event]:
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if "data" in fields:
                yield Event(fields.get("id"), fields.get("event", "message"), json.loads(fields["data"]))
            fields = {}
        elif line.startswith(":"):
            if comments is not None:
                comments.append(line)
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


class Seen:
    """Events the client has read, for the thread that drives the execution to wait on."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()

    def add(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def count(self) -> int:
        with self._changed:
            return len(self.events)

    def wait_for(self, summary: tuple[Any, ...], after: int = 0, timeout: float = 5.0) -> None:
        """Until an event with this summary came after the first ``after`` events."""
        with self._changed:
            self._changed.wait_for(lambda: any(e.summary == summary for e in self.events[after:]), timeout)


def _step(execution_id: str, step_id: str, status: StepStatus, attempt: int = 1) -> StepExecutionRecord:
    return StepExecutionRecord(execution_id=execution_id, step_id=step_id, status=status, attempt=attempt)


def test_the_stream_delivers_every_change_in_order_and_ends(api: Api) -> None:
    # Given a queued execution
    workflow = api.create_workflow()
    execution_id = api.execute(workflow["id"])["id"]
    store, notifier = api.store, api.notifier
    seen = Seen()

    def changed(action: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            action()
            notifier.notify(execution_id)  # as the engine's writers do; the stream also polls
        return run

    # the engine's moves, each made once the client has seen the one before
    script: list[tuple[Callable[[], object], tuple[Any, ...]]] = [
        (changed(lambda: store.transition(execution_id, "queued", "running")), ("execution", "running")),
        (changed(lambda: store.upsert_step_execution(_step(execution_id, "fetch", StepStatus.RUNNING))),
         ("step", "fetch", "running", 1)),
        (changed(lambda: store.append_logs(execution_id, [LogLine(step_id="fetch", message="GET /data")])),
         ("log", "GET /data")),
        (changed(lambda: store.upsert_step_execution(_step(execution_id, "fetch", StepStatus.RUNNING, attempt=2))),
         ("step", "fetch", "running", 2)),
        (changed(lambda: store.upsert_step_execution(_step(execution_id, "fetch", StepStatus.SUCCEEDED, 2))),
         ("step", "fetch", "succeeded", 2)),
        (lambda: api.executions.pause(execution_id), ("execution", "paused")),
        (lambda: api.executions.resume(execution_id), ("execution", "running")),
    ]

    def finish() -> None:
        store.upsert_step_execution(_step(execution_id, "report", StepStatus.SUCCEEDED))
        store.append_logs(execution_id, [LogLine(step_id="report", message="sent")])
        api.executions.finish(execution_id, "SUCCEEDED")

    def drive() -> None:
        seen.wait_for(("execution", "queued"))
        for action, expected in script:
            before = seen.count()
            action()
            seen.wait_for(expected, after=before)
        finish()

    driver = threading.Thread(target=drive, daemon=True)
    # When the client follows the stream while another thread moves the execution
    with api.client.stream("GET", f"/api/v1/executions/{execution_id}/events", headers=api.as_owner("alice")) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        driver.start()
        for event in parse_stream(response.iter_lines()):
            seen.add(event)
    driver.join(5)

    # Then every change arrived once, in order, and the stream ended after the terminal status
    assert [event.summary for event in seen.events] == [
        ("execution", "queued"),
        ("execution", "running"),
        ("step", "fetch", "running", 1),
        ("log", "GET /data"),
        ("step", "fetch", "running", 2),
        ("step", "fetch", "succeeded", 2),
        ("execution", "paused"),
        ("execution", "running"),
        ("step", "report", "succeeded", 1),
        ("log", "sent"),
        ("execution", "completed"),
        ("end", "completed"),
    ]
    ids = [int(event.id) for event in seen.events if event.id is not None]
    assert len(ids) == len(seen.events) and ids == sorted(set(ids))


def test_a_reconnecting_client_resumes_after_its_last_event(api: Api) -> None:
    # Given a finished execution with three log lines
    workflow = api.create_workflow()
    execution_id = api.execute(workflow["id"])["id"]
    api.store.transition(execution_id, "queued", "running")
    api.store.upsert_step_execution(_step(execution_id, "fetch", StepStatus.SUCCEEDED))
    api.store.append_logs(execution_id, [LogLine(message=f"line {n}") for n in (1, 2, 3)])
    api.store.transition(execution_id, "running", "completed")
    url = f"/api/v1/executions/{execution_id}/events"
    headers = api.as_owner("alice")
    first = list(parse_stream(api.client.get(url, headers=headers).text.splitlines()))
    assert [e.summary for e in first] == [
        ("step", "fetch", "succeeded", 1), ("log", "line 1"), ("log", "line 2"), ("log", "line 3"),
        ("execution", "completed"), ("end", "completed"),
    ]
    # When the client reconnects after "line 1"
    line_1 = next(e for e in first if e.summary == ("log", "line 1"))
    resumed = list(parse_stream(api.client.get(url, headers={**headers, "Last-Event-ID": line_1.id}).text.splitlines()))
    # Then it gets the current states again, only the log lines it missed, and the end; ids keep growing
    assert [e.summary for e in resumed] == [
        ("step", "fetch", "succeeded", 1), ("log", "line 2"), ("log", "line 3"),
        ("execution", "completed"), ("end", "completed"),
    ]
    assert int(resumed[0].id) > int(line_1.id)
    # And a client that already saw the end is told there is nothing more (204 stops EventSource)
    after_end = api.client.get(url, headers={**headers, "Last-Event-ID": first[-1].id})
    assert after_end.status_code == 204
    # And an id the stream never issued starts afresh
    fresh = list(parse_stream(api.client.get(url, headers={**headers, "Last-Event-ID": "garbage"}).text.splitlines()))
    assert fresh[1].summary == ("log", "line 1")
    assert int(first[-1].id) % EVENT_ID_STRIDE == EVENT_ID_STRIDE - 1


def test_a_quiet_stream_sends_heartbeats_and_can_be_bounded(store: SqliteStore) -> None:
    # Given streams that beat every 0.1 s and close after 0.35 s (as behind API Gateway)
    api = make_api(store, event_stream=EventStreamOptions(poll_seconds=0.05, heartbeat_seconds=0.1, max_seconds=0.35))
    workflow = api.create_workflow()
    execution_id = api.execute(workflow["id"])["id"]
    comments: list[str] = []
    started = time.monotonic()
    # When nothing happens to the execution
    response = api.client.get(f"/api/v1/executions/{execution_id}/events", headers=api.as_owner("alice"))
    events = list(parse_stream(response.text.splitlines(), comments))
    # Then the stream sends its state, keep-alive comments, and closes without an end (the client reconnects)
    assert time.monotonic() - started < 3
    assert [e.summary for e in events] == [("execution", "queued")]
    assert comments.count(": keep-alive") >= 2
    assert response.text.startswith("retry: ")
