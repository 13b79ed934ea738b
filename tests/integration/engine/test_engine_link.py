"""The link between the API process and the engine process of `orchestrator serve`, over a real Unix socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from multiprocessing import AuthenticationError
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.local.engine_link import (
    EngineLink,
    EngineLinkServer,
    RemoteQueue,
    RemoteStateMachines,
    new_secret,
    socket_path,
)
from orchestrator.ports.queue import QueueSendError
from orchestrator.ports.state_machines import ExecutionNotFound, TaskNotFound


class RecordingMachines:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def start_execution(self, state_machine: str, name: str, input: dict[str, Any]) -> str:
        self.calls.append(("start_execution", (state_machine, name, input)))
        return f"arn:local:{name}"

    def stop_execution(self, execution_arn: str, error: str | None = None, cause: str | None = None) -> None:
        if execution_arn == "arn:missing":
            raise ExecutionNotFound(execution_arn)
        self.calls.append(("stop_execution", (execution_arn, error, cause)))

    def send_task_success(self, task_token: str, output: Any) -> None:
        raise TaskNotFound("expired")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[EngineLink, list[tuple[str, int]], RecordingMachines, bytes]]:
    secret, sent, machines = new_secret(), [], RecordingMachines()
    server = EngineLinkServer(socket_path(tmp_path), secret, send=lambda e, p: sent.append((e, p)), machines=machines)
    server.start()
    link = EngineLink(socket_path(tmp_path), secret)
    yield link, sent, machines, secret
    link.close()
    server.close()


def _eventually(condition: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


def test_queued_executions_reach_the_engine_in_order(engine) -> None:
    link, sent, _, _ = engine
    # When the API process announces two executions
    RemoteQueue(link).send("e1", priority=5)
    RemoteQueue(link).send("e2")
    # Then the engine's queue gets both, with their priorities
    _eventually(lambda: len(sent) == 2)
    assert sent == [("e1", 5), ("e2", 0)]


def test_state_machine_calls_run_in_the_engine_and_answer(engine) -> None:
    link, _, machines, _ = engine
    remote = RemoteStateMachines(link)
    # When the API process starts and stops an execution through the link
    arn = remote.start_execution("Workflow", "e1", {"n": 1})
    remote.stop_execution(arn, "Orchestrator.Cancelled", "by request")
    # Then the engine's machines did both, and the answer came back
    assert arn == "arn:local:e1"
    assert machines.calls == [("start_execution", ("Workflow", "e1", {"n": 1})),
                              ("stop_execution", ("arn:local:e1", "Orchestrator.Cancelled", "by request"))]


def test_the_engines_not_found_errors_are_raised_again_with_their_details(engine) -> None:
    remote = RemoteStateMachines(engine[0])
    with pytest.raises(ExecutionNotFound) as missing:
        remote.stop_execution("arn:missing")
    assert missing.value.execution_arn == "arn:missing"
    with pytest.raises(TaskNotFound) as expired:
        remote.send_task_success("token", {})
    assert expired.value.reason == "expired"


def test_a_peer_without_the_secret_is_refused(engine, tmp_path: Path) -> None:
    # Given a client that does not know this start's secret
    stranger = EngineLink(socket_path(tmp_path), new_secret())
    # Then it cannot talk to the engine, and the engine still serves the API process
    with pytest.raises(AuthenticationError):
        stranger.call("describe_execution", "arn:x")
    RemoteQueue(engine[0]).send("e1")
    _eventually(lambda: engine[1] == [("e1", 0)])


def test_an_unreachable_engine_is_a_queue_send_error(tmp_path: Path) -> None:
    # Given no engine listening
    link = EngineLink(socket_path(tmp_path), new_secret())
    # Then a send fails the way a queue send fails: the execution stays queued for the outbox scan
    with pytest.raises(QueueSendError):
        RemoteQueue(link).send("e1")


def test_a_home_too_long_for_a_socket_path_gets_one_in_the_temp_dir(tmp_path: Path) -> None:
    long_home = tmp_path / ("h" * 120)
    path = socket_path(long_home)
    assert len(str(path)) < 100 and path.name.startswith("orchestrator-")
    assert socket_path(long_home) == path  # the same home, the same socket
