"""Every problem of a workflow definition at once, each with its location.

``validate_workflow(raw, step_types)`` runs the model's checks (shapes, durations, cron, time zones, expression
syntax), the checks across steps (``step_tree``) and each executor's own config model, then returns the
problems sorted by location. An empty list means ``WorkflowDefinition.model_validate(raw)`` succeeds and
the workflow is sound as a whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, get_args

from pydantic import BaseModel, ValidationError

from orchestrator.domain.problems import (
    Location,
    Problem,
    WorkflowValidationError,
    describe,
    did_you_mean,
    format_location,
)
from orchestrator.domain.step_tree import Found, StepTree
from orchestrator.domain.templates import is_template
from orchestrator.domain.workflow import STRUCTURAL_TYPES, WorkflowDefinition

__all__ = [
    "Problem",
    "WorkflowValidationError",
    "StepTypes",
    "pydantic_problems",
    "validate_workflow",
]


class StepTypes(Protocol):
    """What validation needs to know of the step executors (the process's registry implements it)."""

    def known_types(self) -> frozenset[str]: ...

    def config_model(self, step_type: str) -> type[BaseModel] | None: ...


def validate_workflow(raw: Any, step_types: StepTypes) -> list[Problem]:
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
    found.extend(_step_type_problems(tree, step_types))
    found.extend(_executor_config_problems(tree, step_types))
    return _sorted_unique(found)


def _step_type_problems(tree: StepTree, step_types: StepTypes) -> Iterable[Found]:
    known = step_types.known_types()
    for node in tree.nodes:
        if node.type is not None and node.type not in known:
            yield (
                (*node.location, "type"),
                f"unknown step type '{node.type}'{did_you_mean(node.type, known)}; known types: {', '.join(sorted(known))}",
            )


def _executor_config_problems(tree: StepTree, step_types: StepTypes) -> Iterable[Found]:
    """Each task step's raw config against its executor's model; values that are templates are not judged."""
    for node in tree.nodes:
        config = node.raw.get("config", {})
        if node.type is None or node.type in STRUCTURAL_TYPES or not isinstance(config, Mapping):
            continue
        model = step_types.config_model(node.type)
        if model is None:
            continue
        try:
            model.model_validate(config)
        except ValidationError as error:
            yield from pydantic_problems(
                error,
                config,
                prefix=(*node.location, "config"),
                skip=lambda detail: is_template(detail.get("input")),
                known_fields=_field_names(model),
            )


def pydantic_problems(
    error: ValidationError,
    raw: Any,
    *,
    prefix: Location = (),
    skip: Callable[[Mapping[str, Any]], bool] | None = None,
    known_fields: Iterable[str] | None = None,
) -> list[Found]:
    """pydantic's errors as (location, message), locations as in the document (union tags dropped).

    ``skip`` drops the errors it returns true for; ``known_fields`` are the names "did you mean"
    suggests for an unknown field (default: the workflow language's).
    """
    messages: dict[Location, list[str]] = {}
    for detail in error.errors(include_url=False):
        if skip is not None and skip(detail):
            continue
        location = (*prefix, *_document_location(raw, detail["loc"], detail["type"]))
        message = _message(detail, known_fields)
        if detail["type"] == "union_tag_not_found":
            location = (*location, str(detail.get("ctx", {}).get("discriminator", "type")).strip("'"))
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
        if _has_child(current, segment):
            kept.append(segment)
            current = current[segment]
        elif position == len(loc) - 1 and error_type == "missing":
            kept.append(segment)
    return tuple(kept)


def _has_child(value: Any, segment: str | int) -> bool:
    if isinstance(value, Mapping):
        return segment in value
    return isinstance(value, list) and isinstance(segment, int) and -len(value) <= segment < len(value)


def _message(detail: Mapping[str, Any], known_fields: Iterable[str] | None) -> str:
    error_type, value = detail["type"], detail.get("input")
    if error_type == "missing":
        return "required field is missing"
    if error_type == "extra_forbidden":
        field = detail["loc"][-1] if detail["loc"] else ""
        candidates = _workflow_field_names() if known_fields is None else known_fields
        return f"unknown field{did_you_mean(str(field), candidates)}"
    if error_type in ("value_error", "assertion_error"):
        return str(detail.get("ctx", {}).get("error", detail["msg"]))
    if error_type in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (key: value), found {describe(value)}"
    if error_type == "list_type":
        return f"expected a list, found {describe(value)}"
    if error_type == "union_tag_invalid":  # e.g. a trigger's `type: cron`
        ctx = detail.get("ctx", {})
        field = str(ctx.get("discriminator", "")).strip("'")
        return f"unknown {field} {describe(ctx.get('tag'))}; use one of {ctx.get('expected_tags')}"
    if error_type == "union_tag_not_found":  # located at the discriminator field itself, see below
        return "required field is missing"
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


def _workflow_field_names() -> set[str]:
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


def _field_names(model: type[BaseModel]) -> set[str]:
    """A model's field names, and their aliases (``from`` of an email's ``sender``)."""
    return {name for key, field in model.model_fields.items() for name in (key, field.alias) if name}


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
