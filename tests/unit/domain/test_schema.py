"""The JSON Schema for editors: valid 2020-12, accepts seed 002's examples, flags wrong shapes."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from orchestrator.domain.schema import SCHEMA_ID, workflow_json_schema

from .builders import FIXTURES, step, workflow


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = workflow_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_schema_is_identified_and_titled():
    schema = workflow_json_schema()
    assert schema["$id"] == SCHEMA_ID and schema["title"] == "Orchestrator workflow"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    json.dumps(schema)  # plain JSON, writable by `orchestrator schema`


@pytest.mark.parametrize("name", ["seed_002_data_processing.yaml", "seed_002_api_sync.json"])
def test_seed_002_examples_satisfy_the_schema(validator, name):
    document = yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))
    assert list(validator.iter_errors(document)) == []


def test_the_short_forms_satisfy_the_schema(validator):
    # Given the forms the models accept (durations as text or seconds, one dependency, when: true, jitter: true)
    document = workflow(
        step("a", timeout="1h30m", retry={"initial_delay": 2, "jitter": True}),
        step("b", depends_on="a", when=True),
        step("each", "loop", config={"items": "{{steps.a.output}}", "steps": [step("x", timeout=5)]}),
        version=1.0,
    )
    assert list(validator.iter_errors(document)) == []


@pytest.mark.parametrize(
    "bad",
    [
        workflow(step("a", timeout="5 minutes")),
        workflow(step("a", depend_on=["x"])),
        workflow(step("a", on_error="ignore")),
        workflow(step("l", "loop", config={"steps": []})),
        workflow(step("a"), triggers=[{"type": "cron"}]),
        {"steps": [step("a")]},
    ],
)
def test_wrong_shapes_violate_the_schema(validator, bad):
    assert list(validator.iter_errors(bad)) != []
