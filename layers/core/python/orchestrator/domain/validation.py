"""Every problem of a workflow definition at once, each with its location.

``validate_workflow(raw)`` runs the model's checks (shapes, durations, cron, time zones, expression
syntax), the checks across steps (``step_tree``) and each executor's own config model, then returns the
problems sorted by location. An empty list means ``WorkflowDefinition.model_validate(raw)`` succeeds and
the workflow is sound as a whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from orchestrator.domain.problems import Location, Problem, describe, did_you_mean, format_location
from orchestrator.domain.step_tree import Found, StepTree
from orchestrator.domain.templates import is_template
from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.steps import registry

__all__ = ["Problem", "validate_workflow", "executor_config_model"]

_TRIGGER_TYPES = "manual, schedule, event, webhook, condition"


def validate_workflow(raw: Any) -> list[Problem]:
    """All problems of a raw definition (as loaded from YAML/JSON), sorted by location; [] when valid."""
    if not isinstance(raw, Mapping):
        return [Problem("", f"a workflow must be a mapping with 'name' and 'steps', found {describe(raw)}")]
    found: list[Found] = []
    try:
        WorkflowDefinition.model_validate(raw)
    except ValidationError as error:
        found.extend(pydantic_problems(error, raw))
    tree = StepTree(raw)
    tree.check_dependencies()
    tree.check_references()
    found.extend(tree.found)
    found.extend(_step_type_problems(tree))
    found.extend(_executor_config_problems(tree))
    return _sorted_unique(found)


def _step_type_problems(tree: StepTree) -> Iterable[Found]:
    known = registry.known_types()
    for node in tree.nodes:
        if node.type is not None and node.type not in known:
            yield (
                (*node.location, "type"),
                f"unknown step type '{node.type}'{did_you_mean(node.type, known)}; known types: {', '.join(sorted(known))}",
            )


def executor_config_model(step_type: str) -> type[BaseModel] | None:
    """The config model of the executor of ``step_type``, if it has one that can be loaded."""
    try:
        executor = registry.get_executor(step_type)
    except Exception:  # an executor module that fails to import is a packaging bug, not the workflow's
        return None
    model = getattr(executor, "config_model", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _executor_config_problems(tree: StepTree) -> Iterable[Found]:
    """Each task step's raw config against its executor's model; values that are templates are not judged."""
    for node in tree.nodes:
        config = node.raw.get("config", {})
        if node.type is None or node.type in registry.STRUCTURAL_TYPES or not isinstance(config, Mapping):
            continue
        model = executor_config_model(node.type)
        if model is None:
            continue
        try:
            model.model_validate(config)
        except ValidationError as error:
            yield from pydantic_problems(
                error, config, prefix=(*node.location, "config"), skip=lambda detail: is_template(detail.get("input"))
            )


def pydantic_problems(
    error: ValidationError,
    raw: Any,
    *,
    prefix: Location = (),
    skip: Any = None,
) -> list[Found]:
    """pydantic's errors as (location, message), locations as in the document (union tags dropped)."""
    messages: dict[Location, list[str]] = {}
    for detail in error.errors(include_url=False):
        if skip is not None and skip(detail):
            continue
        location = (*prefix, *_document_location(raw, detail["loc"], detail["type"]))
        message = _message(detail)
        if detail["type"] == "union_tag_not_found":
            location = (*location, "type")
        bucket = messages.setdefault(location, [])
        if message not in bucket:
            bucket.append(message)
    return [(location, _merge(texts)) for location, texts in messages.items()]


def _document_location(raw: Any, loc: tuple[str | int, ...], error_type: str) -> Location:
    """Keep the parts of pydantic's location that exist in the input; the rest are union member tags.

    pydantic puts the member of a union it tried into the location (``('steps', 1, 'loop', 'config')``,
    ``('items', 'list[any]')``). Walking the input tells them apart from keys. The last part of a
    "missing" error is the absent field, so it stays.
    """
    kept: list[str | int] = []
    current = raw
    for position, segment in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(current, Mapping) and segment in current:
            kept.append(segment)
            current = current[segment]
        elif isinstance(current, list) and isinstance(segment, int) and -len(current) <= segment < len(current):
            kept.append(segment)
            current = current[segment]
        elif last and error_type == "missing":
            kept.append(segment)
    return tuple(kept)


def _message(detail: Mapping[str, Any]) -> str:
    error_type, value = detail["type"], detail.get("input")
    if error_type == "missing":
        return "required field is missing"
    if error_type == "extra_forbidden":
        field = detail["loc"][-1] if detail["loc"] else ""
        return f"unknown field{did_you_mean(str(field), _known_field_names())}"
    if error_type in ("value_error", "assertion_error"):
        return str(detail.get("ctx", {}).get("error", detail["msg"]))
    if error_type in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (key: value), found {describe(value)}"
    if error_type == "list_type":
        return f"expected a list, found {describe(value)}"
    if error_type == "union_tag_invalid":
        return f"unknown trigger type {describe(detail.get('ctx', {}).get('tag'))}; use {_TRIGGER_TYPES}"
    if error_type == "union_tag_not_found":
        return f"required field is missing (one of {_TRIGGER_TYPES})"
    if "[key]" in detail["loc"]:
        return f"keys must be text, found {describe(value)}"
    message = detail["msg"]
    if value is None or isinstance(value, str | int | float | bool):
        message += f", found {describe(value)}"
    return message


def _merge(messages: list[str]) -> str:
    # one location, several union members failing: "Input should be a valid string or a valid list"
    prefix = "Input should be "
    if len(messages) > 1 and all(m.startswith(prefix) for m in messages):
        return prefix + " or ".join(m[len(prefix) :] for m in messages)
    return "; ".join(messages)


_FIELD_NAMES: set[str] = set()


def _known_field_names() -> set[str]:
    """Every field name of the workflow models, for "did you mean" on unknown fields."""
    if not _FIELD_NAMES:
        pending: list[type[BaseModel]] = [WorkflowDefinition]
        seen: set[type[BaseModel]] = set()
        while pending:
            model = pending.pop()
            if model in seen:
                continue
            seen.add(model)
            _FIELD_NAMES.update(model.model_fields)
            pending.extend(_models_in(model))
    return _FIELD_NAMES


def _models_in(model: type[BaseModel]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                found.append(annotation)
            stack.extend(get_args(annotation))
    return found


def _sorted_unique(found: Iterable[Found]) -> list[Problem]:
    unique = dict.fromkeys((location, message) for location, message in found)
    ordered = sorted(unique, key=lambda item: (_sort_key(item[0]), item[1]))
    return [Problem(format_location(location), message) for location, message in ordered]


def _sort_key(location: Location) -> tuple[tuple[int, int, str], ...]:
    # document order: list positions numerically, keys by name; a parent before its children
    return tuple((0, segment, "") if isinstance(segment, int) else (1, 0, segment) for segment in location)
