"""Bad input is a 4xx that says what is wrong, never a 500, a hang or a run that fails later (issue 7).

Each test sends what an attacker sent: non-finite numbers, lone surrogates and NUL characters, JSON
nested thousands deep (on authenticated routes and on the unauthenticated webhook route), a YAML alias
bomb, and a step timeout of a year.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.cli_runner import orchestrator
from integration.api.api_harness import Api, definition, make_api

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.domain.strict_json import UnsafeJson, strict_loads
from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.services.workflow_loader import WorkflowValidationError, parse_workflow

JSON = {"Content-Type": "application/json"}
DEEP = b"[" * 10_000 + b"]" * 10_000


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    store = SqliteStore(tmp_path / "api.db")
    made = make_api(store)
    with made.client:
        yield made
    store.close()


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    anchors = ["  a0: &a0 [" + ", ".join(["x"] * width) + "]"]
    anchors += [f"  a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]" for n in range(1, levels + 1)]
    return ("name: bomb\nvariables:\n" + "\n".join(anchors)
            + "\nsteps:\n  - id: only\n    type: script\n    config: {runtime: python, code: print(1)}\n")


# --- JSON bodies ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw_input", "named"), [
    (b'{"x": NaN}', "NaN"),
    (b'{"x": [1, Infinity]}', "Infinity"),
    (b'{"x": -Infinity}', "-Infinity"),
    (b'{"x": 1e999}', "1e999"),
    (b'{"x": "\\udc00"}', "surrogate"),
])
def test_an_execution_input_that_is_not_json_proper_is_a_located_400(api: Api, raw_input: bytes, named: str) -> None:
    # Given a workflow alice may run
    workflow = api.create_workflow()
    # When she runs it with an input Python's json would read but no store can write back
    response = api.client.post(f"/api/v1/workflows/{workflow['id']}/execute", content=b'{"input": ' + raw_input + b"}",
                               headers={**api.as_owner("alice"), **JSON})
    # Then it is a 400 that names the value and where it is, and nothing was started
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "invalid_json"
    assert named in error["message"] and error["details"]["location"].startswith("body.input.x")
    assert api.store.list_executions(workflow_id=workflow["id"]).items == []


def test_a_lone_surrogate_in_a_key_is_refused_too(api: Api) -> None:
    # When a key (not a value) holds the lone surrogate
    response = api.client.post("/api/v1/workflows", content=b'{"definition": {"\\ud800": 1}}',
                               headers={**api.as_owner("alice"), **JSON})
    # Then the answer says so, and is itself valid UTF-8 JSON
    assert response.status_code == 400
    assert "surrogate" in error_of(response)["message"]


@pytest.mark.parametrize("route", ["/api/v1/events", "/api/v1/workflows", "/webhooks/hooks/anything"])
def test_json_ten_thousand_deep_is_a_400_on_every_route(api: Api, route: str) -> None:
    # Given a webhook listening at /hooks/anything (the route that needs no API key)
    workflow = api.create_workflow(definition=definition(triggers=[
        {"type": "webhook", "config": {"path": "/hooks/anything"}}]))
    api.client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=api.as_owner("alice"))
    # When a body nested 10,000 deep is posted, as JSON and without a Content-Type at all
    for headers in (JSON, {}):
        response = api.client.post(route, content=DEEP, headers={**api.as_owner("alice"), **headers})
        # Then it is refused before parsing, with the documented limit and where it is crossed
        assert response.status_code == 400, (route, response.text)
        error = error_of(response)
        assert error["code"] == "invalid_json"
        assert "nesting deeper than 64 at byte 64" in error["message"]
    # And nothing started
    assert api.store.list_executions().items == []


def test_the_webhook_service_refuses_deep_and_non_finite_bodies_whatever_their_content_type(api: Api) -> None:
    # Given an unsigned webhook
    workflow = api.create_workflow(definition=definition(triggers=[
        {"type": "webhook", "config": {"path": "/hooks/text"}}]))
    api.client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=api.as_owner("alice"))
    # When the bodies come as text/plain (the guard in front of the routes checks declared JSON only)
    for body, problem in ((DEEP, "nesting deeper than 64"), (b'{"n": NaN}', "NaN")):
        response = api.client.post("/webhooks/hooks/text", content=body, headers={"Content-Type": "text/plain"})
        # Then the webhook itself refuses them as an invalid payload
        assert response.status_code == 400, response.text
        assert error_of(response)["code"] == "invalid_payload" and problem in error_of(response)["message"]
    # And plain text still works: it becomes {"body": text}
    assert api.client.post("/webhooks/hooks/text", content=b"hello [", headers={"Content-Type": "text/plain"}
                           ).status_code == 202


def test_json_at_the_depth_limit_is_accepted(api: Api) -> None:
    # Given an input nested as deep as the limit allows (64 levels, the body's own object included)
    workflow = api.create_workflow()
    nested: Any = 1
    for _ in range(62):
        nested = [nested]
    # When it is run, Then it is accepted
    response = api.client.post(f"/api/v1/workflows/{workflow['id']}/execute", json={"input": {"x": nested}},
                               headers=api.as_owner("alice"))
    assert response.status_code == 202, response.text


def test_strict_loads_scans_depth_without_recursion_and_in_linear_time() -> None:
    # When a megabyte of unclosed brackets and a megabyte of escaped quotes are read
    started = time.perf_counter()
    with pytest.raises(UnsafeJson, match="nesting deeper than 64 at byte 64"):
        strict_loads("[" * 1_000_000)
    with pytest.raises(ValueError):
        strict_loads('"\\' * 500_000)
    # Then both are answered at once (no RecursionError, no quadratic scan)
    assert time.perf_counter() - started < 1.0
    # And brackets inside strings do not count
    assert strict_loads(json.dumps({"text": "[" * 500})) == {"text": "[" * 500}


# --- identifiers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "location"), [
    ({"definition": definition(name="nightly\x00report")}, "definition.name"),
    ({"definition": definition(), "name": "a\x00b"}, "name"),
    ({"definition": definition(), "tags": ["ops", "x\x00"]}, "tags[1]"),
    ({"definition": {**definition(), "tags": ["x\x00"]}}, "definition.tags[0]"),
    ({"definition": definition(), "owner_id": "bob\x00"}, "owner_id"),
    ({"definition": {**definition(), "steps": [{"id": "a\x00", "type": "script", "config": {}}]}},
     "definition.steps[0].id"),
    ({"definition": definition(triggers=[{"type": "webhook", "config": {"path": "/hooks/\x00"}}])},
     "definition.triggers[0].config.path"),
])
def test_nul_in_an_identifier_is_a_400(api: Api, body: dict[str, Any], location: str) -> None:
    # When a workflow is created with a NUL character in one of its names (admin: owner_id may be given)
    response = api.client.post("/api/v1/workflows", json=body, headers=api.admin)
    # Then the request is malformed, and the answer says where
    assert response.status_code == 400, response.text
    problems = error_of(response)["details"]["problems"]
    assert location in {problem["location"] for problem in problems}, problems
    # And nothing was stored
    assert api.store.list_workflows().items == []


def test_nul_in_trigger_and_api_key_fields_is_a_400(api: Api) -> None:
    workflow = api.create_workflow()
    headers = api.as_owner("alice")
    # When a trigger path, a trigger name and an API key's owner hold a NUL
    refused = [
        api.client.post(f"/api/v1/workflows/{workflow['id']}/triggers", headers=headers,
                        json={"type": "webhook", "config": {"path": "/hooks/a\x00b"}}),
        api.client.post(f"/api/v1/workflows/{workflow['id']}/triggers", headers=headers,
                        json={"type": "manual", "name": "n\x00"}),
        api.client.post("/api/v1/api-keys", headers=api.admin, json={"owner_id": "eve\x00"}),
    ]
    # Then each is a 400 naming the field
    for response, location in zip(refused, ("config.path", "name", "owner_id"), strict=True):
        assert response.status_code == 400, response.text
        assert location in {problem["location"] for problem in error_of(response)["details"]["problems"]}


# --- durations ----------------------------------------------------------------------------------------------


def test_a_step_timeout_of_a_year_is_invalid_not_a_run_that_overflows(api: Api) -> None:
    # Given a step with a timeout of 365 days
    body = definition()
    body["steps"][0]["timeout"] = "365d"
    # When the workflow is created, Then it is refused with the maximum named at the step's timeout
    response = api.client.post("/api/v1/workflows", json={"definition": body}, headers=api.as_owner("alice"))
    assert response.status_code == 422
    [problem] = error_of(response)["details"]["problems"]
    assert problem["location"] == "definition.steps[0].timeout"
    assert "maximum of 7d" in problem["message"]


@pytest.mark.parametrize(("field", "value"), [
    ("timeout", "7d1s"), ("timeout", 1e300), ("retry", {"max_delay": "30d"}),
    ("retry", {"initial_delay": "8d", "max_delay": "9d"}), ("config", {"runtime": "python", "code": "x", "timeout": "1000d"}),
])
def test_every_duration_is_capped_at_seven_days(field: str, value: Any) -> None:
    step: dict[str, Any] = {"id": "a", "type": "script", "config": {"runtime": "python", "code": "x"}}
    step[field] = value
    # When a definition holds a duration past 7 days, Then it is a validation problem at that step
    with pytest.raises(WorkflowValidationError, match="maximum of 7d") as refused:
        parse_workflow(json.dumps({"name": "w", "steps": [step]}), fmt="json")
    assert refused.value.problems[0].location.startswith("steps[0]")


def test_seven_days_itself_is_a_valid_timeout() -> None:
    workflow = WorkflowDefinition.model_validate({"name": "w", "steps": [{"id": "a", "type": "script", "timeout": "7d"}]})
    assert workflow.steps[0].timeout == 7 * 86400


def test_a_condition_trigger_interval_is_capped_too() -> None:
    text = json.dumps({"name": "w", "steps": [{"id": "a", "type": "script", "config": {"runtime": "python", "code": "x"}}],
                       "triggers": [{"type": "condition", "config": {"expression": "source.ok", "source": "https://x",
                                                                     "interval": "400d"}}]})
    with pytest.raises(WorkflowValidationError, match="maximum of 7d"):
        parse_workflow(text, fmt="json")


def test_the_workflow_json_schema_states_the_maximum() -> None:
    from orchestrator.domain.schema import workflow_json_schema

    text = json.dumps(workflow_json_schema())
    assert '"maximum": 604800.0' in text and "at most 7 days" in text


# --- YAML -----------------------------------------------------------------------------------------------------


def test_a_yaml_alias_bomb_is_refused_within_a_second() -> None:
    # Given 9 levels of 9 aliases (387 million nodes once expanded) in a few hundred bytes
    text = alias_bomb()
    assert len(text) < 1000
    # When it is loaded
    started = time.perf_counter()
    with pytest.raises(WorkflowValidationError) as refused:
        parse_workflow(text, source_name="bomb.yaml")
    # Then it is refused at once, with where and why
    assert time.perf_counter() - started < 1.0
    [problem] = refused.value.problems
    assert problem.location.startswith("line ") and problem.line is not None
    assert "alias" in problem.message and "10000 nodes" in problem.message


def test_recursive_aliases_and_deep_yaml_are_located_problems() -> None:
    with pytest.raises(WorkflowValidationError, match="contains it"):
        parse_workflow("name: x\nsteps: &s [*s]\n", source_name="loop.yaml")
    with pytest.raises(WorkflowValidationError, match="nesting deeper than 64"):
        parse_workflow("name: x\nv: " + "[" * 70 + "]" * 70 + "\nsteps: []\n", source_name="deep.yaml")
    with pytest.raises(WorkflowValidationError, match="finite number"):
        parse_workflow("name: x\nvariables: {n: .nan}\nsteps: []\n", source_name="nan.yaml")


def test_modest_yaml_anchors_still_work() -> None:
    # Given shared retry settings through an anchor, used by twenty steps
    steps = "\n".join(f"  - {{id: s{n}, type: script, config: {{runtime: python, code: x}}, retry: *retry}}"
                      for n in range(20))
    text = f"name: shared\nvariables:\n  defaults: &retry {{max_attempts: 5}}\nsteps:\n{steps}\n"
    # When it is loaded, Then every step has them
    workflow = parse_workflow(text, source_name="ok.yaml")
    assert [step.retry.max_attempts for step in workflow.steps if step.retry] == [5] * 20


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_the_cli_refuses_an_alias_bomb_with_a_clear_error(tmp_path: Path, command: str) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    # When `orchestrator validate` / `plan` reads it (a separate process, as a user runs it)
    started = time.perf_counter()
    completed = orchestrator(command, str(bomb), timeout=60)
    # Then it ends with an error naming the problem, quickly (process start-up included)
    assert completed.code != 0
    assert "alias" in completed.stdout + completed.stderr
    assert time.perf_counter() - started < 30


def test_other_yaml_readers_refuse_bombs_too() -> None:
    import yaml

    from orchestrator.domain import safe_yaml

    started = time.perf_counter()
    with pytest.raises(yaml.YAMLError, match="alias"):
        safe_yaml.safe_load(alias_bomb())
    assert time.perf_counter() - started < 1.0
    assert safe_yaml.safe_load("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}


# --- the cloud path ---------------------------------------------------------------------------------------------


def test_the_lambda_api_refuses_deep_json_even_without_a_content_length(tmp_path: Path) -> None:
    from unit.functions.cloud_handler_support import context, event, load_handler

    from orchestrator.api import create_app
    from orchestrator.api.auth import issue_api_key
    from orchestrator.settings import Settings

    store = SqliteStore(tmp_path / "lambda.db")
    _, key = issue_api_key(store, "alice")
    # Given an API Gateway event posting 10,000-deep JSON to /api/v1/events, with no Content-Length header
    request = event("api_list_workflows_event.json")
    request.update(rawPath="/dev/api/v1/events", rawQueryString="", body=DEEP.decode(), isBase64Encoded=False)
    request["requestContext"]["http"].update(method="POST", path="/dev/api/v1/events")
    request["headers"] = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    # When the ApiFunction handles it (Mangum in front of the same app)
    response = load_handler("api").lambda_handler(request, context("orchestrator-api-dev"),
                                                  app=create_app(store, settings=Settings(admin_api_key=None)))
    # Then it is the same located 400
    assert response["statusCode"] == 400, response
    assert "nesting deeper than 64" in json.loads(response["body"])["error"]["message"]
    store.close()


def test_oversized_numbers_in_an_event_pattern_and_a_log_cursor_are_4xx(api):
    # Given a workflow of alice's
    workflow = api.create_workflow()
    alice = api.as_owner("alice")
    # When an event trigger's numeric bound is a 401-digit integer
    pattern = {"detail": {"x": [{"numeric": [">", int("1" + "0" * 400)]}]}}
    response = api.client.post(f"/api/v1/workflows/{workflow['id']}/triggers",
                               json={"type": "event", "config": {"pattern": pattern}}, headers=alice)
    # Then it is a located 422, not a 500
    assert response.status_code == 422, response.text
    assert "5e9" in response.text
    # And a log cursor past any sequence number is a 400
    execution = api.execute(workflow["id"])
    cursor = api.client.get(f"/api/v1/executions/{execution['id']}/logs?cursor=99999999999999999999999", headers=alice)
    assert cursor.status_code == 400, cursor.text
