"""Reads template.yaml the way the local engine needs it: functions, their handlers, state machines."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from orchestrator.domain import safe_yaml


class TemplateError(ValueError):
    pass


class _CloudFormationLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader that keeps CloudFormation short-form tags (!Ref, !GetAtt, !Sub ...) as {"Fn::X": value}.

    libyaml's when PyYAML has it: the pure-Python parser takes ~45 ms over template.yaml, at every
    `orchestrator run` / `asl run` start; the C one ~10 ms, to the same document."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str  # "app.lambda_handler"

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.logical_id}"


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    definition_path: Path
    #: substitution name -> logical id of the function whose Arn it is (others are kept as literal strings)
    function_substitutions: dict[str, str] = field(default_factory=dict)
    literal_substitutions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SamTemplate:
    root: Path
    functions: dict[str, FunctionSpec]
    state_machines: dict[str, StateMachineSpec]

    def definition(self, state_machine: str) -> dict[str, Any]:
        """The state machine's ASL with every ${Substitution} replaced, as Step Functions would see it."""
        spec = self.state_machines.get(state_machine)
        if spec is None:
            raise TemplateError(f"{self.root / 'template.yaml'}: no state machine '{state_machine}'")
        text = spec.definition_path.read_text(encoding="utf-8")
        for name, function_id in spec.function_substitutions.items():
            text = text.replace("${" + name + "}", self.functions[function_id].arn)
        for name, literal in spec.literal_substitutions.items():
            text = text.replace("${" + name + "}", literal)
        return json.loads(text)


def _function_arn_target(value: Any) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return logical_id if attribute == "Arn" else None
    return None


@lru_cache(maxsize=8)
def load_sam_template(path: Path) -> SamTemplate:
    path = path.resolve()
    try:
        document = safe_yaml.safe_load(path.read_text(encoding="utf-8"), _CloudFormationLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: cannot read SAM template: {exc}") from exc
    root = path.parent
    resources: dict[str, Any] = document.get("Resources", {})
    functions: dict[str, FunctionSpec] = {}
    machines: dict[str, StateMachineSpec] = {}
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function":
            functions[logical_id] = FunctionSpec(logical_id, root / props["CodeUri"], props["Handler"])
        elif resource.get("Type") == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            function_subs: dict[str, str] = {}
            literal_subs: dict[str, str] = {}
            for name, value in props.get("DefinitionSubstitutions", {}).items():
                target = _function_arn_target(value)
                if target is not None:
                    function_subs[name] = target
                elif isinstance(value, str):
                    literal_subs[name] = value
            machines[logical_id] = StateMachineSpec(logical_id, root / props["DefinitionUri"], function_subs, literal_subs)
    for machine in machines.values():
        for name, target in machine.function_substitutions.items():
            if target not in functions:
                raise TemplateError(f"{path}: {machine.logical_id}.DefinitionSubstitutions.{name}: unknown function '{target}'")
    return SamTemplate(root, functions, machines)
