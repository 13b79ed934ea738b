"""Script steps in the cloud: the StepRunner's side (ScriptExecutor -> LambdaScriptRunner) and the
ScriptRunner's (run_here, reap_strays), with moto standing in for Lambda."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.adapters.aws.lambda_scripts import LambdaScriptRunner
from orchestrator.settings import Settings
from orchestrator.steps.base import StepContext, StepError
from orchestrator.steps.script import ScriptConfig, ScriptExecutor
from orchestrator.steps.script_remote import RemoteOutcome, RemoteScript, reap_strays, run_here
from support.moto_lambda import REGION, MotoStepFunctions

PROJECT = Path(__file__).resolve().parents[3]


def script(code: str, **extra: object) -> RemoteScript:
    return RemoteScript.model_validate({"runtime": "python", "code": code, "max_output_bytes": 1 << 20, **extra})


def test_run_here_runs_the_script_with_its_input_environment_and_limits():
    # Given a script that reads stdin, its environment, and tries to allocate past its memory limit
    code = ("import json, os, sys\ndata = json.load(sys.stdin)\nprint('working', file=sys.stderr)\n"
            "try:\n    bytearray(512 * 1024 * 1024)\n    big = 'allocated'\nexcept MemoryError:\n    big = 'refused'\n"
            "print(json.dumps({'sum': sum(data['n']), 'who': os.environ['WHO'], 'big': big,"
            " 'leaked': sorted(k for k in os.environ if k.startswith('AWS_'))}))")
    os.environ["AWS_SECRET_ACCESS_KEY_FOR_TEST"] = "never-in-a-script"
    try:
        outcome = run_here(script(code, stdin=json.dumps({"n": [1, 2, 3]}), env={"WHO": "mallory"},
                                  rlimits={"RLIMIT_AS": 256 * 1024 * 1024}))
    finally:
        del os.environ["AWS_SECRET_ACCESS_KEY_FOR_TEST"]
    # Then it ran with only what was sent, under the limit, and its stderr came back
    assert outcome.returncode == 0, outcome.stderr
    assert json.loads(outcome.process_outcome().stdout) == {"sum": 6, "who": "mallory", "big": "refused", "leaked": []}
    assert outcome.stderr == "working\n"


def test_run_here_reaps_after_every_run_even_a_timed_out_one():
    # Given a script that outlives its timeout / When run with a reaper
    reaped: list[str] = []
    outcome = run_here(script("import time\ntime.sleep(30)", timeout_seconds=0.5), reap=lambda: reaped.append("x") or 0)
    # Then it timed out and the reaper ran
    assert outcome.timed_out and reaped == ["x"]


def test_reap_strays_kills_everything_but_this_process_and_its_ancestors(tmp_path: Path):
    # Given a container's /proc: pid 1 -> 7 (the runtime) -> this process, and two strays (one a daemon)
    me = os.getpid()
    for pid, ppid in ((1, 0), (7, 1), (me, 7), (40, 1), (41, me)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (py thon) S {ppid} 0 0")
    (tmp_path / "self").mkdir()
    killed: list[tuple[int, int]] = []
    # When reaped
    count = reap_strays(tmp_path, kill=lambda pid, sig: killed.append((pid, sig)))
    # Then only the strays got SIGKILL
    assert sorted(killed) == [(40, signal.SIGKILL), (41, signal.SIGKILL)] and count == 2


@pytest.fixture
def moto_runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LambdaScriptRunner, list[dict]]]:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(name, value)
    events: list[dict] = []

    def handler(event: dict, context: object) -> dict:
        # the ScriptRunner's own handler, as Lambda would call it (no reaping outside a Lambda container)
        from functions_script_runner import lambda_handler

        events.append(event)
        return lambda_handler(event, context, reap=None)

    with MotoStepFunctions() as moto:
        arn = moto.add_function("ScriptRunner", handler)
        yield LambdaScriptRunner(arn, region=REGION), events


@pytest.fixture(autouse=True)
def script_runner_module(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("functions_script_runner",
                                                  PROJECT / "functions" / "script_runner" / "app.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "functions_script_runner", module)


def test_a_tenants_script_step_runs_in_the_script_runner(moto_runner):
    runner, events = moto_runner
    # Given the cloud's settings (no bubblewrap needed: the function is the sandbox) and a tenant's step
    executor = ScriptExecutor(Settings(script_sandbox="bwrap", script_runner_function="ScriptRunner"), remote=runner)
    config = ScriptConfig.model_validate({"runtime": "python", "env": {"MODE": "fast"}, "code": (
        "import json, os, sys\nprint('to the logs', file=sys.stderr)\n"
        "print(json.dumps({'in': json.load(sys.stdin), 'mode': os.environ['MODE'],"
        " 'attempt': os.environ['ORCHESTRATOR_ATTEMPT']}))")})
    ctx = StepContext(execution_id="e-1", step_id="transform", attempt=2, owner_id="mallory", trusted=False)
    # When it runs
    result = executor.execute(config, {"orders": [1, 2]}, ctx)
    # Then the ScriptRunner ran it and the step got its output and its stderr as log lines
    assert result.output == {"in": {"orders": [1, 2]}, "mode": "fast", "attempt": "2"}
    assert any("to the logs" in line for line in ctx.logs)
    # And what travelled holds the step's limits and identity, nothing of the server
    [sent] = events
    assert sent["rlimits"]["RLIMIT_AS"] > 0 and sent["env"]["ORCHESTRATOR_STEP_ID"] == "transform"


def test_a_failing_script_in_the_runner_fails_the_step_as_locally(moto_runner):
    runner, _ = moto_runner
    executor = ScriptExecutor(Settings(script_runner_function="ScriptRunner"), remote=runner)
    config = ScriptConfig.model_validate({"runtime": "python", "code": "import sys\nsys.exit(3)",
                                         "fatal_exit_codes": [3]})
    with pytest.raises(StepError) as failed:
        executor.execute(config, {}, StepContext(execution_id="e", step_id="s", trusted=False))
    assert failed.value.error == "Script.ExitCode" and not failed.value.retryable


def test_a_runner_that_cannot_be_invoked_is_a_retryable_step_error():
    # Given a Lambda client that is throttled
    from botocore.exceptions import ClientError

    class Throttled:
        def invoke(self, **kwargs: object) -> None:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke")

    runner = LambdaScriptRunner("ScriptRunner", client=Throttled())
    # When a script is sent / Then the step may be retried: the script did not run
    with pytest.raises(StepError) as failed:
        runner.run(script("print(1)"))
    assert failed.value.error == "Script.RunnerUnavailable" and failed.value.retryable


def test_outcome_round_trips_bytes():
    outcome = RemoteOutcome(returncode=0, stdout_b64="AP8=")
    assert outcome.process_outcome().stdout == b"\x00\xff"
