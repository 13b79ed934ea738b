"""The Schedules port on EventBridge Scheduler: one schedule per schedule trigger.

The schedule is named ``<prefix><trigger id>`` in the configured group; its expression is the trigger's
cron in Scheduler's form (``domain.schedule.to_scheduler_expression``) with the trigger's time zone, and
FlexibleTimeWindow OFF so it fires on the minute. The target (the TriggerFunction, or a queue) receives
``target_payload`` as its input, through the role Scheduler assumes. Scheduler's own daylight-saving
rule applies in the cloud: a wall time skipped by a spring-forward change does not fire (see
domain/schedule.py for how the local ticker differs).

Failed deliveries: ``adapters/aws/trigger_delivery.py``.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import LazyClient, error_code
from orchestrator.adapters.aws.resource_names import trigger_resource_name
from orchestrator.adapters.aws.trigger_delivery import DEFAULT_DELIVERY, TriggerDelivery
from orchestrator.domain.schedule import time_zone, to_scheduler_expression
from orchestrator.settings import Settings


class SchedulerSchedules:
    def __init__(
        self,
        *,
        target_arn: str,
        role_arn: str,
        group: str = "default",
        name_prefix: str = "orchestrator-",
        delivery: TriggerDelivery = DEFAULT_DELIVERY,
        region: str | None = None,
        client: Any = None,
    ) -> None:
        if not target_arn or not role_arn:
            raise ValueError(
                "SchedulerSchedules needs the target ARN and the role ARN "
                "(ORCHESTRATOR_SCHEDULE_TARGET_ARN, ORCHESTRATOR_SCHEDULE_ROLE_ARN)"
            )
        self.target_arn = target_arn
        self.role_arn = role_arn
        self.group = group
        self.name_prefix = name_prefix
        self.delivery = delivery
        self._scheduler = LazyClient("scheduler", region=region, client=client)

    @classmethod
    def from_settings(cls, settings: Settings, client: Any = None) -> SchedulerSchedules:
        return cls(
            target_arn=settings.schedule_target_arn or "",
            role_arn=settings.schedule_role_arn or "",
            group=settings.schedule_group,
            name_prefix=settings.schedule_name_prefix,
            delivery=TriggerDelivery.from_settings(settings),
            region=settings.aws_region,
            client=client,
        )

    def schedule_name(self, trigger_id: str) -> str:
        return trigger_resource_name(self.name_prefix, trigger_id)

    def put_schedule(
        self, trigger_id: str, cron: str, timezone: str, target_payload: dict[str, Any], *, enabled: bool = True
    ) -> None:
        time_zone(timezone)  # ScheduleError here beats a ValidationException from the service
        target: dict[str, Any] = {"Arn": self.target_arn, "RoleArn": self.role_arn, "Input": json.dumps(target_payload),
                                  **self.delivery.target_fields()}
        if self.target_arn.endswith(".fifo"):
            target["SqsParameters"] = {"MessageGroupId": trigger_id}
        request = {
            "Name": self.schedule_name(trigger_id),
            "GroupName": self.group,
            "ScheduleExpression": to_scheduler_expression(cron),
            "ScheduleExpressionTimezone": timezone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED" if enabled else "DISABLED",
            "Target": target,
            "Description": f"orchestrator schedule trigger {trigger_id}: {cron} ({timezone})"[:512],
        }
        client = self._scheduler.get()
        try:
            client.create_schedule(**request)
        except ClientError as error:
            if error_code(error) != "ConflictException":
                raise
            client.update_schedule(**request)  # it exists: replace it (Update takes the full definition)

    def delete_schedule(self, trigger_id: str) -> None:
        try:
            self._scheduler.get().delete_schedule(Name=self.schedule_name(trigger_id), GroupName=self.group)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
