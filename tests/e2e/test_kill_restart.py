"""`kill -9` of `orchestrator serve` with 50 executions in flight, then a restart on the same home.

What the local engine promises (docs/architecture.md, adapters/local/runtime.py): the store is durable,
every transition of the interpreter is checkpointed, and a restarted server resumes the executions the
killed one left running, and announces the ones left queued. So after the restart every execution
completes, and no step that had succeeded before the kill runs again: its side effect happens once.

Delivery is at-least-once for the work that was in flight: a step whose record said "running" when the
process died may have finished its side effect (or may finish it: the script, in its own process group,
outlives the server) without the store learning it, so it legitimately runs again after the restart.
Only those steps may leave two ledger lines; every other (execution, step) leaves exactly one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_process import ServerProcess

EXECUTIONS = 50
STEPS = ("first", "second", "third")
#: kill once this many step side effects (of EXECUTIONS * len(STEPS)) are in the ledger
KILL_AFTER_LEDGER_LINES = 30

# Takes 0.3 to 1.0 s (by execution id), then writes its side effect last: a ledger line in the ledger
# directory; so a step recorded as succeeded has always written its line.
STEP_SCRIPT = """\
import json, os, sys, time, zlib
data = json.load(sys.stdin)
time.sleep(0.3 + zlib.crc32((data["execution"] + data["step"]).encode()) % 8 / 10)
with open(os.path.join(os.environ["LEDGER_DIR"], data["step"] + ".log"), "a") as ledger:
    ledger.write(data["step"] + " " + data["execution"] + "\\n")
print(json.dumps({"step": data["step"], "execution": data["execution"]}))
"""


def _workflow(ledger: Path) -> dict[str, Any]:
    steps = []
    for index, step_id in enumerate(STEPS):
        step: dict[str, Any] = {
            "id": step_id,
            "type": "script",
            "config": {"runtime": "python", "code": STEP_SCRIPT, "env": {"LEDGER_DIR": str(ledger)}},
            "input_mapping": {"execution": "{{execution.id}}", "step": step_id},
        }
        if index:
            step["depends_on"] = [STEPS[index - 1]]
        steps.append(step)
    return {"version": "1.0", "name": "ledger-chain", "steps": steps}


def _ledger(ledger: Path) -> Counter[tuple[str, str]]:
    """(execution id, step id) -> how many times the step's side effect happened."""
    lines: Counter[tuple[str, str]] = Counter()
    for file in ledger.glob("*.log"):
        for line in file.read_text().splitlines():
            step_id, execution_id = line.split()
            lines[(execution_id, step_id)] += 1
    return lines


def _step_statuses_in_store(home: Path) -> dict[tuple[str, str], str]:
    """What the killed server's SQLite store says of each step: the state at the moment of the kill."""
    connection = sqlite3.connect(home / "orchestrator.db")
    try:
        rows = connection.execute("SELECT execution_id, step_key, record FROM step_results").fetchall()
    finally:
        connection.close()
    return {(execution_id, key): json.loads(record)["status"] for execution_id, key, record in rows
            if not key.startswith("$")}


def _succeeded_steps_per_api(client: httpx.Client, execution_ids: list[str]) -> set[tuple[str, str]]:
    succeeded = set()
    for execution_id in execution_ids:
        detail = client.get(f"/api/v1/executions/{execution_id}").raise_for_status().json()
        succeeded |= {(execution_id, step["step_id"]) for step in detail["steps"] if step["status"] == "succeeded"}
    return succeeded


def _wait_for_ledger(ledger: Path, lines: int, server: ServerProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sum(_ledger(ledger).values()) < lines:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {lines} steps ran within {timeout}s:\n{server.log_text()}")
        time.sleep(0.02)


def _wait_until_finished(client: httpx.Client, execution_ids: list[str], server: ServerProcess,
                         timeout: float = 45) -> dict[str, dict[str, Any]]:
    finished: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(finished) < len(execution_ids):
        for execution_id in execution_ids:
            if execution_id in finished:
                continue
            detail = client.get(f"/api/v1/executions/{execution_id}").raise_for_status().json()
            if detail["status"] in ("completed", "failed", "cancelled", "timed_out"):
                finished[execution_id] = detail
        if time.monotonic() > deadline:
            left = sorted(set(execution_ids) - set(finished))
            raise AssertionError(f"{len(left)} executions never finished after the restart, e.g. {left[:3]}:\n"
                                 f"{server.log_text()}")
        time.sleep(0.1)
    return finished


@pytest.mark.slow
def test_a_killed_server_finishes_every_execution_without_repeating_finished_steps(tmp_path: Path) -> None:
    # Given a server on its own home, with an active workflow of three slow script steps in a chain
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    home = tmp_path / "home"
    server = ServerProcess(home=home, admin_key="kill-restart-admin-key", log_file=tmp_path / "server.log")
    server.start()
    try:
        with server.client() as client:
            created = client.post("/api/v1/workflows", json={"definition": _workflow(ledger)})
            assert created.status_code == 201, created.text
            workflow_id = created.json()["id"]
            client.post(f"/api/v1/workflows/{workflow_id}/activate").raise_for_status()
            # and 50 executions of it submitted
            execution_ids = []
            for number in range(EXECUTIONS):
                accepted = client.post(f"/api/v1/workflows/{workflow_id}/execute", json={"input": {"n": number}})
                assert accepted.status_code == 202, accepted.text
                execution_ids.append(accepted.json()["id"])
            # When some steps have written their side effect and many executions are mid-flight
            _wait_for_ledger(ledger, KILL_AFTER_LEDGER_LINES, server)
            succeeded_per_api = _succeeded_steps_per_api(client, execution_ids)
        # and the server is killed with SIGKILL
        server.kill()
        at_kill = _step_statuses_in_store(home)
        succeeded_at_kill = {key for key, status in at_kill.items() if status == "succeeded"}
        running_at_kill = {key for key, status in at_kill.items() if status == "running"}
        # (the kill did land mid-flight: some steps had finished, others were running)
        assert succeeded_at_kill, "no step had succeeded before the kill"
        assert running_at_kill, "no step was running at the kill"
        assert succeeded_per_api <= succeeded_at_kill, "the API showed a success the store did not keep"

        # and a new server is started on the same home
        server.start()
        with server.client() as client:
            finished = _wait_until_finished(client, execution_ids, server)

        # Then every execution completed, each with its three steps succeeded
        not_completed = {eid: (d["status"], d["error"], d["cause"]) for eid, d in finished.items()
                         if d["status"] != "completed"}
        assert not not_completed, not_completed
        for detail in finished.values():
            assert {step["step_id"]: step["status"] for step in detail["steps"]} == dict.fromkeys(STEPS, "succeeded")
        # and every step's side effect happened; a step that had succeeded before the kill did not run again,
        # and only a step that was running at the kill ran twice (at-least-once for in-flight work)
        ran = _ledger(ledger)
        expected = {(execution_id, step_id) for execution_id in execution_ids for step_id in STEPS}
        assert set(ran) == expected
        repeated = {key for key, count in ran.items() if count > 1}
        assert not repeated & succeeded_at_kill, sorted(repeated & succeeded_at_kill)
        assert repeated <= running_at_kill, sorted(repeated - running_at_kill)
        assert max(ran.values()) <= 2
    finally:
        server.stop()
