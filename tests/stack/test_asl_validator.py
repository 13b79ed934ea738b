"""Every statemachines/*.asl.json passes the npm asl-validator, as Step Functions would receive it."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from stack_tools import PROJECT, load_template, missing

VALIDATOR = PROJECT / "tools" / "asl-validator" / "node_modules" / ".bin" / "asl-validator"
DEFINITIONS = sorted((PROJECT / "statemachines").glob("*.asl.json")) + sorted(
    (PROJECT / "statemachines" / "examples").glob("*.asl.json"))
ACCOUNT, REGION = "123456789012", "eu-west-1"


@pytest.fixture(scope="module")
def validator() -> Path:
    if not VALIDATOR.exists():
        missing(f"asl-validator ({VALIDATOR.relative_to(PROJECT)})")
    return VALIDATOR


def _substitutions(definition: Path) -> dict[str, str]:
    """Plausible values of the DefinitionSubstitutions the template gives this definition."""
    values: dict[str, str] = {}
    for logical_id, resource in load_template()["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] != "AWS::Serverless::StateMachine" or properties.get("DefinitionUri") is None:
            continue
        if (PROJECT / properties["DefinitionUri"]).resolve() != definition.resolve():
            continue
        for name, value in properties.get("DefinitionSubstitutions", {}).items():
            values[name] = _plausible(name, value, logical_id)
    return values


def _plausible(name: str, value: object, state_machine: str) -> str:
    if isinstance(value, str):
        return value
    assert isinstance(value, dict), f"{state_machine}.{name}: {value!r}"
    [(function, target)] = value.items()
    resource, attribute = target if function == "Fn::GetAtt" else (target, "Ref")
    resources = load_template()["Resources"]
    kind = resources[resource]["Type"]
    if kind == "AWS::Serverless::Function" and attribute == "Arn":
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orchestrator-{resource}-AbCdEf123456"
    if kind == "AWS::Serverless::Function":
        return f"orchestrator-{resource}-AbCdEf123456"
    if kind == "AWS::Serverless::StateMachine":
        return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{resource}-AbCdEf123456"
    if kind == "AWS::SQS::Queue":
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/orchestrator-{resource}-AbCdEf"
    raise AssertionError(f"{state_machine}.{name}: no plausible value for {kind}.{attribute}: add one here")


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda path: str(path.relative_to(PROJECT)))
def test_the_definition_is_valid_asl(validator: Path, definition: Path, tmp_path: Path) -> None:
    text = definition.read_text(encoding="utf-8")
    for name, value in _substitutions(definition).items():
        text = text.replace("${" + name + "}", value)
    left = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)))
    assert not left, f"{definition.name}: no DefinitionSubstitutions in template.yaml for {left}"
    filled = tmp_path / definition.name
    filled.write_text(text, encoding="utf-8")
    result = subprocess.run([str(validator), "--json-path", str(filled)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_definition(validator: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.asl.json"
    broken.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}))
    result = subprocess.run([str(validator), "--json-path", str(broken)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "Nowhere" in result.stdout + result.stderr, result.stdout + result.stderr
