"""`orchestrator run` is durable: a run killed with SIGKILL continues from its checkpoints, and the steps
that had succeeded do not run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.composition import local_run
from orchestrator.services.workflow_loader import load_workflow
from support.process_wiring import reset_process_wiring

RUNNER = """
import json, sys
from orchestrator.composition.local_run import local_engine
from orchestrator.services.workflow_loader import load_workflow
definition = load_workflow(sys.argv[1])
engine = local_engine()
run = engine.run(definition, {}, execution_id=sys.argv[2])
print(json.dumps({"status": run.status}))
"""


def three_scripts(tmp_path: Path) -> Path:
    journal, marker, release = tmp_path / "journal", tmp_path / "b-started", tmp_path / "release-b"
    append = "import pathlib; p = pathlib.Path({!r}); p.write_text((p.read_text() if p.exists() else '') + {!r})"
    workflow = {
        "name": "resumable",
        "steps": [
            {"id": "a", "type": "script", "config": {"runtime": "python", "code": append.format(str(journal), "a")
                                                      + "; print('{\"n\": 1}')"}},
            {"id": "b", "type": "script", "depends_on": ["a"], "config": {"runtime": "python", "code": append.format(
                str(journal), "b") + f"; pathlib.Path({str(marker)!r}).touch(); import time\n"
                f"while not pathlib.Path({str(release)!r}).exists(): time.sleep(0.05)"}},
            {"id": "c", "type": "script", "depends_on": ["b"], "config": {"runtime": "python", "code": append.format(
                str(journal), "c")}},
        ],
    }
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(workflow))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ORCHESTRATOR_SCRIPT_SANDBOX", "none")  # the scripts write the test's journal
    monkeypatch.setenv("ORCHESTRATOR_STORE", "sqlite")
    reset_process_wiring()
    local_run.local_engine.cache_clear()
    yield tmp_path / "home"
    local_run.local_engine.cache_clear()
    reset_process_wiring()


def test_a_killed_run_resumes_without_running_its_succeeded_steps_again(tmp_path: Path, home: Path) -> None:
    # Given a run killed (SIGKILL) while its second step works
    workflow = three_scripts(tmp_path)
    process = subprocess.Popen([sys.executable, "-c", RUNNER, str(workflow), "run-1"], env=os.environ.copy(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 30
    while not (tmp_path / "b-started").exists():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "step b never started"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    assert (tmp_path / "journal").read_text() == "ab"

    # When the run is resumed in another process, b's script no longer held back
    (tmp_path / "release-b").touch()
    engine = local_run.local_engine()
    run = engine.resume("run-1")

    # Then it succeeded; a ran once, b ran again (it had not finished), c ran once
    assert run.succeeded, (run.error, run.cause)
    assert {key: record["status"] for key, record in run.steps.items()} == {
        "a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert (tmp_path / "journal").read_text().startswith("abb") and (tmp_path / "journal").read_text().endswith("c")
    assert run.steps["a"]["output"] == {"n": 1}
    assert load_workflow(workflow).name == "resumable"


def test_the_cli_resumes_a_killed_run_by_its_execution_id(tmp_path: Path, home: Path) -> None:
    # Given `orchestrator run` killed while the second step works, having printed how to resume it
    workflow = three_scripts(tmp_path)
    env = {**os.environ, "POWERTOOLS_METRICS_DISABLED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "run", str(workflow)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, text=True)
    deadline = time.monotonic() + 30
    while not (tmp_path / "b-started").exists():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "step b never started"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    _, printed = process.communicate(timeout=10)
    hint = next(line for line in printed.splitlines() if "--resume" in line)
    execution_id = hint.split("--resume ")[1].strip(" )")

    # When the user runs the command it printed
    (tmp_path / "release-b").touch()
    resumed = subprocess.run([sys.executable, "-m", "orchestrator.cli", "run", "--resume", execution_id, "--json"],
                             env=env, capture_output=True, text=True, timeout=60)

    # Then the run ends successfully, with the outputs of all three steps, a having run once
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["a"] == {"n": 1}
    assert (tmp_path / "journal").read_text().count("a") == 1
    assert "resumable: succeeded" in resumed.stderr


def test_resuming_an_unknown_run_is_a_clear_error(home: Path) -> None:
    completed = subprocess.run([sys.executable, "-m", "orchestrator.cli", "run", "--resume", "nope"],
                               env={**os.environ, "POWERTOOLS_METRICS_DISABLED": "1"}, capture_output=True,
                               text=True, timeout=60)

    assert completed.returncode == 2
    assert "no run 'nope' to resume" in completed.stderr
