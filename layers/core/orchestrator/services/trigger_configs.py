"""A stored trigger's config, read back into the workflow language's model of its type, with every problem.

``TriggerRecord.config`` is a plain JSON object (the store does not know trigger types); the models in
``domain/workflow.py`` say what each type takes. ``config_problems`` is the full check (the model, then
what the model cannot see: the event pattern's matchers, the condition source's form); the
``*_config`` readers are for code that runs a trigger and refuses a config that no longer parses.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from orchestrator.domain.event_patterns import validate_pattern
from orchestrator.domain.problems import format_location
from orchestrator.domain.records import TriggerRecord, TriggerType
from orchestrator.domain.validation import pydantic_problems
from orchestrator.domain.workflow import ConditionTriggerConfig, EventConfig, ScheduleConfig, WebhookConfig
from orchestrator.services.condition_sources import ConditionSourceError, parse_condition_source
from orchestrator.services.trigger_errors import InvalidTriggerConfig

ConfigModel = TypeVar("ConfigModel", bound=BaseModel)

#: manual triggers take any config: nothing reads it
CONFIG_MODELS: dict[TriggerType, type[BaseModel]] = {
    TriggerType.SCHEDULE: ScheduleConfig,
    TriggerType.WEBHOOK: WebhookConfig,
    TriggerType.EVENT: EventConfig,
    TriggerType.CONDITION: ConditionTriggerConfig,
}


def config_problems(trigger_type: TriggerType | str, config: dict[str, Any]) -> list[str]:
    """Every problem of ``config`` for a trigger of this type, each as ``config.<where>: <what>``; []
    when it is valid."""
    trigger_type = TriggerType(trigger_type)
    model = CONFIG_MODELS.get(trigger_type)
    if model is None:
        return []
    try:
        parsed = model.model_validate(config)
    except ValidationError as error:
        return [f"{format_location(location)}: {message}"
                for location, message in pydantic_problems(error, config, prefix=("config",))]
    if isinstance(parsed, EventConfig):
        # EventConfig checks the pattern's shape only; the matchers ({"numeric": ...}) are checked here
        return [f"config.pattern: {problem}" for problem in validate_pattern(parsed.pattern)]
    if isinstance(parsed, ConditionTriggerConfig):
        try:
            parse_condition_source(parsed.source)
        except ConditionSourceError as error:
            return [f"config.source: {error}"]
    return []


def _read(trigger: TriggerRecord, model: type[ConfigModel]) -> ConfigModel:
    try:
        return model.model_validate(trigger.config)
    except ValidationError:
        raise InvalidTriggerConfig(trigger.type.value, config_problems(trigger.type, trigger.config)) from None


def schedule_config(trigger: TriggerRecord) -> ScheduleConfig:
    return _read(trigger, ScheduleConfig)


def webhook_config(trigger: TriggerRecord) -> WebhookConfig:
    return _read(trigger, WebhookConfig)


def event_config(trigger: TriggerRecord) -> EventConfig:
    return _read(trigger, EventConfig)


def condition_config(trigger: TriggerRecord) -> ConditionTriggerConfig:
    return _read(trigger, ConditionTriggerConfig)
