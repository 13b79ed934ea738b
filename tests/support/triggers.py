"""A TriggerService on a real SQLite store and the real ExecutionService, with recording fakes at the edges.

Triggers only submit executions (saved as queued, then announced on the queue); nothing dispatches
them here, so the queue records what it is sent and the state machines refuse to be used at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orchestrator.domain.records import TriggerRecord, TriggerType, WorkflowRecord, WorkflowStatus
from orchestrator.ports.secrets import SecretNotFound
from orchestrator.ports.store import Store
from orchestrator.services.executions import ExecutionService
from orchestrator.services.notifier import ExecutionNotifier
from orchestrator.services.triggers import TriggerService
from orchestrator.steps.egress import EgressPolicy
from support.recording_ports import RecordingQueue

#: where every trigger test's clock starts
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


class UnusedStateMachines:
    """Triggers never start state machines: any use is a test failure."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a trigger must not call StateMachines.{name}")


@dataclass
class RecordingSchedules:
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)

    def put_schedule(self, trigger_id: str, cron: str, timezone: str, target_payload: dict[str, Any], *,
                     enabled: bool = True) -> None:
        self.schedules[trigger_id] = {"cron": cron, "timezone": timezone, "payload": target_payload, "enabled": enabled}

    def delete_schedule(self, trigger_id: str) -> None:
        self.schedules.pop(trigger_id, None)


@dataclass
class RecordingEventRules:
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)

    def put_rule(self, trigger_id: str, pattern: dict[str, Any], target_payload: dict[str, Any], *,
                 enabled: bool = True) -> None:
        self.rules[trigger_id] = {"pattern": pattern, "payload": target_payload, "enabled": enabled}

    def delete_rule(self, trigger_id: str) -> None:
        self.rules.pop(trigger_id, None)


@dataclass
class DictSecrets:
    """A SecretResolver: ``values`` are every owner's; ``owners`` records whose secrets were asked for."""

    values: dict[str, str] = field(default_factory=dict)
    owners: list[str | None] = field(default_factory=list)

    def for_owner(self, owner_id: str | None) -> DictSecrets:
        self.owners.append(owner_id)
        return self

    def get(self, name: str) -> str:
        try:
            return self.values[name]
        except KeyError:
            raise SecretNotFound(name) from None


class SettableClock:
    """``clock()`` answers ``now``, which tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class TriggerWorld:
    store: Store
    service: TriggerService
    queue: RecordingQueue
    clock: SettableClock
    secrets: DictSecrets

    def executions(self, workflow_id: str | None = None) -> list[Any]:
        return self.store.list_executions(workflow_id=workflow_id, limit=500).items


def build_world(store: Store, clock: SettableClock, *, secrets: DictSecrets | None = None, **options: Any
                ) -> TriggerWorld:
    queue = RecordingQueue()
    executions = ExecutionService(store, queue, UnusedStateMachines(), "WorkflowStateMachine", ExecutionNotifier())
    secrets = secrets or DictSecrets()
    # tests reach their own 127.0.0.1 servers: the default policy refuses loopback, so allow it here
    options.setdefault("egress", EgressPolicy(allow_private=True))
    service = TriggerService(store, executions, options.pop("schedules", None), clock, secrets=secrets, **options)
    return TriggerWorld(store, service, queue, clock, secrets)


def definition(name: str = "triggered", variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"version": "1.0", "name": name, "variables": variables or {},
            "steps": [{"id": "only", "type": "script", "config": {"runtime": "python", "code": "print('{}')"}}]}


def a_workflow(store: Store, *, status: WorkflowStatus = WorkflowStatus.ACTIVE, owner_id: str = "alice",
               variables: dict[str, Any] | None = None) -> WorkflowRecord:
    return store.create_workflow(WorkflowRecord(name="triggered", owner_id=owner_id, status=status),
                                 definition(variables=variables))


def a_trigger(world: TriggerWorld, workflow: WorkflowRecord, trigger_type: TriggerType | str, config: dict[str, Any],
              **fields: Any) -> TriggerRecord:
    """Created in the store, then armed as the API would (``on_trigger_saved``)."""
    record = world.store.create_trigger(TriggerRecord(
        workflow_id=workflow.id, owner_id=workflow.owner_id, type=TriggerType(trigger_type), config=config, **fields))
    return world.service.on_trigger_saved(record)


def signed_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """What a sender following the documented scheme sends (computed here independently of the code)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Orchestrator-Timestamp": str(timestamp), "X-Orchestrator-Signature": f"sha256={digest}",
            "Content-Type": "application/json"}


def json_body(value: Any) -> bytes:
    return json.dumps(value).encode()
