"""Lifecycle controls and live events through `orchestrator serve`, whose API and engine are two processes:
pause, resume and cancel cross the engine link; events reach the API's streams through the store."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_process import ServerProcess

ADMIN_KEY = "ork_serve-lifecycle-admin-key"
ECHO = "import json,sys; print(json.dumps({'got': json.load(sys.stdin)}))"
TERMINAL = {"completed", "failed", "cancelled", "timed_out"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess.running(tmp_path_factory.mktemp("serve-lifecycle") / "home", ADMIN_KEY) as server:
        yield server


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def _script(step_id: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "script", "config": {"runtime": "python", "code": code}, **extra}


def _gated(gate: Path) -> str:
    return f"import os,time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.02)\nprint('{{}}')"


def _run(client: httpx.Client, name: str, steps: list[dict[str, Any]]) -> str:
    created = client.post("/api/v1/workflows", json={"definition": {"version": "1.0", "name": name, "steps": steps}})
    workflow_id = created.raise_for_status().json()["id"]
    client.post(f"/api/v1/workflows/{workflow_id}/activate").raise_for_status()
    return client.post(f"/api/v1/workflows/{workflow_id}/execute", json={"input": {"n": 1}}).raise_for_status().json()["id"]


def _wait(client: httpx.Client, execution_id: str, done: Callable[[dict[str, Any]], bool],
          timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        detail = client.get(f"/api/v1/executions/{execution_id}").raise_for_status().json()
        if done(detail):
            return detail
        assert time.monotonic() < deadline, detail
        time.sleep(0.05)


def _steps(detail: dict[str, Any]) -> dict[str, str]:
    return {step["step_id"]: step["status"] for step in detail["steps"]}


def test_pause_holds_the_next_step_and_resume_finishes_the_run(client: httpx.Client, tmp_path: Path) -> None:
    # Given an execution whose first step waits for a file
    gate = tmp_path / "go"
    execution_id = _run(client, "pausable", [_script("slow", _gated(gate)), _script("after", ECHO, depends_on=["slow"])])
    _wait(client, execution_id, lambda d: _steps(d) == {"slow": "running"})
    # When it is paused while that step runs, and the step then finishes
    assert client.post(f"/api/v1/executions/{execution_id}/pause").status_code == 200
    gate.write_text("go")
    paused = _wait(client, execution_id, lambda d: _steps(d).get("slow") == "succeeded")
    time.sleep(0.5)
    # Then the next step has not started and the execution stays paused
    assert _steps(client.get(f"/api/v1/executions/{execution_id}").json()) == {"slow": "succeeded"}
    assert paused["status"] == "paused"
    # When it is resumed (the engine's pause gate is released over the link)
    assert client.post(f"/api/v1/executions/{execution_id}/resume").status_code == 200
    # Then it runs to completion
    done = _wait(client, execution_id, lambda d: d["status"] in TERMINAL)
    assert done["status"] == "completed", (done["error"], done["cause"])
    assert _steps(done) == {"slow": "succeeded", "after": "succeeded"}


def test_cancel_stops_the_engines_run(client: httpx.Client, tmp_path: Path) -> None:
    # Given an execution whose first step waits for a file, with a step after it
    gate = tmp_path / "go"
    execution_id = _run(client, "cancellable", [_script("slow", _gated(gate)), _script("never", ECHO, depends_on=["slow"])])
    _wait(client, execution_id, lambda d: _steps(d) == {"slow": "running"})
    # When it is cancelled, and the running step's process then ends on its own
    cancelled = client.post(f"/api/v1/executions/{execution_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    gate.write_text("go")
    time.sleep(1.0)
    # Then the run stopped: the step after it never started, and the execution stays cancelled
    detail = client.get(f"/api/v1/executions/{execution_id}").json()
    assert detail["status"] == "cancelled"
    assert "never" not in _steps(detail)
    # and a second cancel is an invalid transition naming the current state
    again = client.post(f"/api/v1/executions/{execution_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["details"]["current"] == "cancelled"


def test_the_event_stream_shows_the_engines_progress_live(client: httpx.Client) -> None:
    # Given an execution of two steps
    execution_id = _run(client, "streamed", [_script("one", ECHO), _script("two", ECHO, depends_on=["one"])])
    # When its event stream is read to the end
    events: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", f"/api/v1/executions/{execution_id}/events", timeout=30) as stream:
        kind = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: ") and kind is not None:
                events.append((kind, json.loads(line.removeprefix("data: "))))
    # Then it saw both steps succeed and ended with the completed execution
    succeeded = [data["step_id"] for kind, data in events if kind == "step" and data["status"] == "succeeded"]
    assert succeeded == ["one", "two"]
    assert events[-1][0] == "end" and events[-1][1]["status"] == "completed"
