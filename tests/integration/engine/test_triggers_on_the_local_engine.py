"""Triggers wired as `orchestrator serve` wires them: fired executions run to completion on the local engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine_support import create_workflow, wait_for

from orchestrator.adapters.local.ticker import Ticker
from orchestrator.composition.triggers import build_trigger_service
from orchestrator.domain.lifecycle import is_terminal
from orchestrator.domain.records import ExecutionStatus, TriggerRecord, TriggerType
from orchestrator.settings import get_settings

ECHO = "import json,sys; print(json.dumps({'got': json.load(sys.stdin)}))"


def echo_workflow(runtime, name: str):
    return create_workflow(runtime, {"name": name, "steps": [
        {"id": "echo", "type": "script", "config": {"runtime": "python", "code": ECHO},
         "input_mapping": {"payload": "{{input}}"}},
    ]})


def a_trigger(runtime, triggers, workflow, trigger_type: TriggerType, config: dict) -> TriggerRecord:
    record = runtime.store.create_trigger(TriggerRecord(
        workflow_id=workflow.id, owner_id=workflow.owner_id, type=trigger_type, config=config))
    return triggers.on_trigger_saved(record)


def test_a_webhook_runs_its_workflow_with_the_payload(runtime) -> None:
    # Given the process's trigger service and a workflow with a webhook
    triggers = build_trigger_service(get_settings())
    workflow = echo_workflow(runtime, "on-push")
    a_trigger(runtime, triggers, workflow, TriggerType.WEBHOOK, {"path": "/push"})
    # When the webhook is called
    execution = triggers.receive_webhook("/push", b'{"ref": "main"}', {"content-type": "application/json"})
    # Then the execution runs to completion on the payload
    done = wait_for(runtime, execution.id, lambda r: is_terminal(r.status))
    assert done.status is ExecutionStatus.COMPLETED, (done.error, done.cause)
    assert done.output == {"echo": {"got": {"payload": {"ref": "main"}}}}


def test_the_local_ticker_fires_a_due_schedule(runtime) -> None:
    # Given a schedule trigger due every minute, and a ticker on the service's run_due
    triggers = build_trigger_service(get_settings())
    workflow = echo_workflow(runtime, "every-minute")
    trigger = a_trigger(runtime, triggers, workflow, TriggerType.SCHEDULE, {"cron": "* * * * *"})
    slot = trigger.next_fire_at
    ticker = Ticker(triggers.run_due, interval=60, clock=lambda: slot + timedelta(seconds=1))
    # When it ticks (twice: the second finds nothing left to do)
    ticker.tick()
    ticker.tick()
    # Then that slot ran once, to completion
    [execution] = runtime.store.list_executions(workflow_id=workflow.id).items
    done = wait_for(runtime, execution.id, lambda r: is_terminal(r.status))
    assert done.status is ExecutionStatus.COMPLETED, (done.error, done.cause)
    scheduled = slot.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert done.output == {"echo": {"got": {"payload": {"scheduled_time": scheduled, "trigger_id": trigger.id}}}}
    assert datetime.fromisoformat(scheduled) == slot
