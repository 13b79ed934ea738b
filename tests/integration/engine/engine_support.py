"""A LocalRuntime on a fresh SQLite home per test: the same wiring as `orchestrator serve`, minus HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.composition import runtime as runtime_module
from orchestrator.domain.records import ExecutionRecord, WorkflowRecord, WorkflowStatus
from support.process_wiring import reset_process_wiring


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[runtime_module.LocalRuntime]:
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ORCHESTRATOR_STORE", "sqlite")
    # these tests talk to their scripts through files in tmp_path, which a sandboxed script cannot see
    # (the sandbox through this engine: tests/security/test_script_sandbox_cancel.py)
    monkeypatch.setenv("ORCHESTRATOR_SCRIPT_SANDBOX", "none")
    reset_process_wiring()
    local = runtime_module.get_local_runtime()
    local.start()
    yield local
    local.stop()
    reset_process_wiring()


def create_workflow(runtime: runtime_module.LocalRuntime, definition: dict, *, owner: str = "owner-1") -> WorkflowRecord:
    record = runtime.store.create_workflow(
        WorkflowRecord(name=definition["name"], owner_id=owner, status=WorkflowStatus.ACTIVE), definition)
    return record


def wait_for(runtime: runtime_module.LocalRuntime, execution_id: str,
             done: Callable[[ExecutionRecord], bool], timeout: float = 30) -> ExecutionRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = runtime.store.get_execution(execution_id)
        if record is not None and done(record):
            return record
        time.sleep(0.02)
    raise AssertionError(f"execution {execution_id} never reached the expected state: {runtime.store.get_execution(execution_id)}")
