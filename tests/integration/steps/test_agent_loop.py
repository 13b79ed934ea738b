"""The agent step's tool-calling loop against a local chat-completions server, with real http and
database steps as its tools (a local HTTP server and a SQLite file)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.domain import templates
from orchestrator.steps import db_connections
from orchestrator.steps.agent import AgentConfig, AgentExecutor
from orchestrator.steps.base import StepContext, StepError
from support.fake_openai import FakeOpenAI, answer, call, error, tool_call_answer
from support.local_http import LocalHttpServer, Reply

API_KEY = "sk-agent-Secret-Key-987"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)")
    monkeypatch.setenv("ORCHESTRATOR_DB_MAIN_DB", f"sqlite:///{path}")
    yield path
    db_connections.reset()


def write_profile(directory: Path, fake: FakeOpenAI, **extra: Any) -> None:
    (directory / "agents").mkdir(parents=True, exist_ok=True)
    profile = {
        "role": "a data clerk",
        "system_prompt": "Use the tools.",
        "model": "gpt-4o-mini",
        "base_url": fake.base_url,
        "api_key_secret": "openai_key",
        "temperature": 0,
        "tools": ["fetch_data", {"step": "save_data", "description": "Insert rows into items",
                                 "parameters": {"type": "object", "properties": {"data": {"type": "array"}}}},
                  "notify", "not_in_this_workflow"],
        "max_turns": 5,
        "tasks": {"process_data": "Fetch the books and save them."},
        **extra,
    }
    (directory / "agents" / "data-processor.yaml").write_text(json.dumps(profile))


def workflow_steps(http: LocalHttpServer) -> dict[str, dict[str, Any]]:
    return {
        "process": {"id": "process", "type": "agent", "config": {"agent_id": "data-processor", "task": "process_data"}},
        "fetch_data": {"id": "fetch_data", "type": "http", "name": "Fetch items from the catalogue",
                       "config": {"url": "{{variables.api}}", "headers": {"X-Token": "{{secrets.api_token}}"}}},
        "save_data": {"id": "save_data", "type": "database",
                      "config": {"connection": "main_db", "operation": "insert", "table": "items"}},
        "notify": {"id": "notify", "type": "email", "config": {}},
    }


def context(tmp_path: Path, http: LocalHttpServer, secrets: dict[str, str] | None = None) -> StepContext:
    secrets = {"openai_key": API_KEY, "api_token": "tok-123"} if secrets is None else secrets
    scope = {"variables": {"api": http.url("/items")}, "input": {}}

    def render(value: Any) -> Any:
        return templates.render(value, scope, secrets=lambda name: secrets[name]).value

    return StepContext(execution_id="exec-1", step_id="process", workflow_dir=tmp_path,
                       workflow_steps=workflow_steps(http), render=render, timeout_seconds=30,
                       trusted=True)  # the operator's run: its ORCHESTRATOR_DB_MAIN_DB connection


def run(tmp_path: Path, http: LocalHttpServer, inputs: dict[str, Any] | None = None, **config: Any) -> Any:
    ctx = context(tmp_path, http)
    full = {"agent_id": "data-processor", "task": "process_data", **config}
    return AgentExecutor().execute(AgentConfig.model_validate(full), inputs or {}, ctx), ctx


def test_tool_loop_fetches_saves_and_answers(tmp_path: Path, fake: FakeOpenAI, local_http: LocalHttpServer,
                                             db: Path) -> None:
    # Given a profile allowing fetch_data (http) and save_data (database), a catalogue, and a model that
    # calls one, then the other, then answers
    write_profile(tmp_path, fake)
    local_http.route("GET", "/items", Reply(200, json_body={"items": [{"name": "Dune", "price": 9.5}]}))
    fake.script(
        tool_call_answer([call("fetch_data", {"category": "books"}, "c1")]),
        tool_call_answer([call("save_data", {"data": [{"name": "Dune", "price": 9.5}]}, "c2")]),
        answer("Saved 1 book."),
    )

    # When the agent step runs with inputs from its input_mapping
    result, ctx = run(tmp_path, local_http, inputs={"file": "books.csv"})

    # Then the final answer, the turns, the tool call summaries and the summed usage come out
    output = result.output
    assert output["result"] == "Saved 1 book."
    assert output["turns"] == 3
    assert [(c["tool"], c["ok"]) for c in output["tool_calls"]] == [("fetch_data", True), ("save_data", True)]
    assert output["usage"]["calls"] == 3 and output["usage"]["total_tokens"] == 45
    # And the http tool made the real request, with the model's arguments as query and the secret header
    [fetch] = local_http.requests_to("/items")
    assert fetch.query == {"category": ["books"]} and fetch.headers["x-token"] == "tok-123"
    # And the database tool inserted the rows given as arguments
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name, price FROM items").fetchall() == [("Dune", 9.5)]
    # And the model was offered only the allowed http/database steps, with the key and the profile's settings
    first, second, third = fake.bodies
    assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert first["model"] == "gpt-4o-mini" and first["temperature"] == 0
    tools = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert set(tools) == {"fetch_data", "save_data"}
    assert tools["fetch_data"]["description"] == "Fetch items from the catalogue"
    assert tools["save_data"]["parameters"]["properties"]["data"] == {"type": "array"}
    assert first["messages"][0] == {"role": "system", "content": "You are a data clerk.\n\nUse the tools."}
    assert first["messages"][1]["content"].startswith("Task: Fetch the books and save them.")
    assert '"file": "books.csv"' in first["messages"][1]["content"]
    # And each tool's result went back as a tool message answering its call id
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "c1"
    assert json.loads(tool_message["content"])["body"] == {"items": [{"name": "Dune", "price": 9.5}]}
    assert third["messages"][-1]["tool_call_id"] == "c2"
    assert json.loads(third["messages"][-1]["content"])["rowcount"] == 1
    # And the skipped tools are explained in the step's logs
    assert any("'notify' is a 'email' step" in line for line in ctx.logs)
    assert any("not_in_this_workflow" in line for line in ctx.logs)


def test_tool_errors_are_fed_back_and_the_model_recovers(tmp_path: Path, fake: FakeOpenAI,
                                                         local_http: LocalHttpServer, db: Path) -> None:
    # Given a model that sends bad rows, an unknown tool and broken JSON, then answers
    write_profile(tmp_path, fake)
    fake.script(
        tool_call_answer([
            call("save_data", {"data": [{"name": None}]}, "bad-row"),
            call("drop_tables", {}, "unknown"),
            call("save_data", "{not json", "bad-json"),
        ]),
        answer("I could not save anything."),
    )

    # When the agent runs
    result, _ = run(tmp_path, local_http)

    # Then the step succeeds with the model's final answer and the failures summarised
    summaries = result.output["tool_calls"]
    assert [(s["id"], s["ok"], s.get("error")) for s in summaries] == [
        ("bad-row", False, "Database.Constraint"),
        ("unknown", False, "Agent.UnknownTool"),
        ("bad-json", False, "Agent.InvalidToolArguments"),
    ]
    # And the model saw each error as the answer to its call
    messages = fake.bodies[1]["messages"]
    answers = {m["tool_call_id"]: json.loads(m["content"]) for m in messages if m["role"] == "tool"}
    assert answers["bad-row"]["error"] == "Database.Constraint" and "NOT NULL" in answers["bad-row"]["cause"]
    assert answers["unknown"]["error"] == "Agent.UnknownTool"
    assert answers["bad-json"]["error"] == "Agent.InvalidToolArguments"


def test_max_turns_exceeded(tmp_path: Path, fake: FakeOpenAI, local_http: LocalHttpServer) -> None:
    # Given a model that never stops calling tools and a step allowing 2 turns
    write_profile(tmp_path, fake)
    local_http.route("GET", "/items", Reply(200, json_body={"items": []}))
    fake.script(*[tool_call_answer([call("fetch_data", {})]) for _ in range(2)])

    # When the agent runs
    with pytest.raises(StepError) as caught:
        run(tmp_path, local_http, max_turns=2)

    # Then it fails, not retryable, with what it did so far as output; the last turn's tool did not run
    error_ = caught.value
    assert error_.error == "Agent.MaxTurnsExceeded" and not error_.retryable
    assert error_.output["turns"] == 2 and len(error_.output["tool_calls"]) == 1
    assert len(local_http.requests_to("/items")) == 1


def test_unknown_agent_names_the_id_and_the_places_searched(tmp_path: Path, local_http: LocalHttpServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no profile anywhere
    monkeypatch.setenv("ORCHESTRATOR_AGENTS_DIR", str(tmp_path / "shared-agents"))
    # When the agent runs
    with pytest.raises(StepError) as caught:
        run(tmp_path, local_http, agent_id="ghost")
    # Then the error names the agent and both directories
    assert caught.value.error == "Agent.NotFound" and not caught.value.retryable
    assert "'ghost'" in caught.value.cause
    assert str(tmp_path / "agents") in caught.value.cause and str(tmp_path / "shared-agents") in caught.value.cause


def test_profile_from_the_agents_dir_env(tmp_path: Path, fake: FakeOpenAI, local_http: LocalHttpServer,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the profile only in ORCHESTRATOR_AGENTS_DIR, in a file named otherwise with an id inside
    shared = tmp_path / "shared"
    write_profile(shared, fake)
    (shared / "agents" / "data-processor.yaml").rename(shared / "agents" / "clerk.yaml")
    text = (shared / "agents" / "clerk.yaml").read_text()
    (shared / "agents" / "clerk.yaml").write_text(json.dumps({**json.loads(text), "id": "data-processor"}))
    monkeypatch.setenv("ORCHESTRATOR_AGENTS_DIR", str(shared / "agents"))
    fake.script(answer("hello"))
    # When the agent runs from a workflow directory without agents/
    result, _ = run(tmp_path / "workflow", local_http, task="Say hello")
    # Then the profile was found and the free-text task sent as is
    assert result.output["result"] == "hello" and result.output["turns"] == 1
    assert fake.bodies[0]["messages"][-1]["content"] == "Task: Say hello"


def test_missing_key_secret_is_named_not_leaked(tmp_path: Path, fake: FakeOpenAI, local_http: LocalHttpServer) -> None:
    # Given a profile naming a secret that does not exist
    write_profile(tmp_path, fake)
    ctx = context(tmp_path, local_http, secrets={})
    # When the agent runs
    with pytest.raises(StepError) as caught:
        AgentExecutor().execute(AgentConfig(agent_id="data-processor", task="x"), {}, ctx)
    # Then the error names the secret and the agent, and no request was made
    assert caught.value.error == "Agent.SecretNotFound"
    assert "'openai_key'" in caught.value.cause and "'data-processor'" in caught.value.cause
    assert fake.requests == []


def test_unauthorized_model_call_fails_without_the_key(tmp_path: Path, fake: FakeOpenAI,
                                                       local_http: LocalHttpServer) -> None:
    # Given an endpoint that rejects the key and echoes it
    write_profile(tmp_path, fake)
    fake.script(error(401, f"bad key {API_KEY}"))
    # When the agent runs
    with pytest.raises(StepError) as caught:
        run(tmp_path, local_http)
    # Then it fails, not retryable, and the key is not in the error
    assert caught.value.error == "Agent.401" and not caught.value.retryable
    assert API_KEY not in str(caught.value)


def test_tool_steps_run_with_the_agents_owner_and_trust(tmp_path: Path, fake: FakeOpenAI, local_http: LocalHttpServer,
                                                        db: Path) -> None:
    # Given a tenant's (untrusted) agent whose model calls the database tool, and the operator's
    # ORCHESTRATOR_DB_MAIN_DB in the server's environment (the db fixture)
    write_profile(tmp_path, fake)
    fake.script(tool_call_answer([call("save_data", {"data": [{"name": "Dune", "price": 9.5}]}, "c1")]),
                answer("Could not save."))
    ctx = context(tmp_path, local_http)
    ctx.owner_id, ctx.trusted = "tenant-a", False
    # When the agent runs
    result = AgentExecutor().execute(AgentConfig(agent_id="data-processor", task="process_data"), {}, ctx)
    # Then the tool ran as the tenant: the operator's connection is unknown to it, and nothing was written
    assert [(c["tool"], c["ok"]) for c in result.output["tool_calls"]] == [("save_data", False)]
    assert "Database.UnknownConnection" in fake.bodies[1]["messages"][-1]["content"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM items").fetchone() == (0,)
