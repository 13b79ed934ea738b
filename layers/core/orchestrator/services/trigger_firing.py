"""Firing a trigger: one execution through the outbox, then the trigger's count and last fire time.

Every kind of trigger ends here, so the rule "only enabled triggers of ACTIVE workflows start
executions" is enforced once. ``ExecutionService.submit`` refuses paused and archived workflows itself
but takes drafts (a manual run of a draft is the API's call); a trigger never starts a draft.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrator.domain.records import ExecutionRecord, TriggerRecord, utcnow
from orchestrator.observability import logger
from orchestrator.ports.store import RecordNotFound, Store
from orchestrator.services.executions import ExecutionService, WorkflowNotRunnable
from orchestrator.services.trigger_errors import TriggerInactive
from orchestrator.services.trigger_registry import TriggerRegistry

Clock = Callable[[], datetime]


@dataclass
class TriggerFirer:
    store: Store
    executions: ExecutionService
    registry: TriggerRegistry
    clock: Clock = field(default=utcnow)

    def fire(self, trigger: TriggerRecord, input: Any, *, reason: str) -> ExecutionRecord:
        """Start the trigger's workflow with ``input``. TriggerInactive if the trigger is disabled or its
        workflow is not active; ``reason`` (schedule, event, webhook, condition...) goes to the log."""
        if not trigger.is_enabled:
            raise TriggerInactive(f"trigger {trigger.id!r} is disabled", {"trigger_id": trigger.id})
        if self.registry.active_workflow(trigger.workflow_id) is None:
            raise TriggerInactive(f"workflow {trigger.workflow_id!r} of trigger {trigger.id!r} is not active",
                                  {"trigger_id": trigger.id, "workflow_id": trigger.workflow_id})
        try:
            execution = self.executions.submit(
                trigger.workflow_id, input=input, owner_id=trigger.owner_id, trigger_id=trigger.id
            )
        except (WorkflowNotRunnable, RecordNotFound) as error:  # paused or deleted since the check above
            raise TriggerInactive(str(error), {"trigger_id": trigger.id, "workflow_id": trigger.workflow_id}) from None
        self.store.record_trigger_fired(trigger.id, at=self.clock())
        logger.info("trigger fired", extra={"trigger_id": trigger.id, "workflow_id": trigger.workflow_id,
                                            "execution_id": execution.id, "reason": reason})
        return execution
