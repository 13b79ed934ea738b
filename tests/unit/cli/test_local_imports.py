"""The local path of the `orchestrator` command imports nothing of AWS (issue 9: a CLI that starts fast).

boto3, botocore's session and client machinery, s3transfer and the X-Ray SDK cost a second of start-up
between them; only the cloud path needs them. Each case runs the command in a fresh interpreter (what a
user gets) and reads which modules were loaded when it finished. The Tracer keeps tracing in Lambda.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[3]

#: runs the CLI's main with argv[1:], then writes the exit code and the loaded modules to the file in
#: ORCHESTRATOR_TEST_MODULES_OUT (stdout and stderr stay the command's own)
CLI_PROBE = """
import json, os, sys
from orchestrator.cli.app import main
sys.argv = ["orchestrator", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exit:
    code = exit.code or 0
with open(os.environ["ORCHESTRATOR_TEST_MODULES_OUT"], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""

#: top-level packages the local path must not load at all
AWS_PACKAGES = ("boto3", "s3transfer", "aws_xray_sdk")


def _aws_modules(modules: list[str]) -> list[str]:
    """The loaded modules that belong to the cloud path.

    ``botocore`` itself is the exception: aws_lambda_powertools' package ``__init__`` imports it (only its
    ``__init__``, about a millisecond) to register a user-agent hook. Any ``botocore.*`` module - session,
    client, loaders, endpoint, what costs - counts."""
    return [name for name in modules
            if name.split(".")[0] in AWS_PACKAGES or name.startswith("botocore.")]


def _base_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           # as a user's shell: not inside Lambda, no test-suite switches
           if not key.startswith(("POWERTOOLS_", "LAMBDA_", "AWS_LAMBDA_", "_X_AMZN"))}
    env["ORCHESTRATOR_HOME"] = str(tmp_path / "home")
    return env


def _run_cli(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path / "modules.json"
    env = _base_env(tmp_path) | {"ORCHESTRATOR_TEST_MODULES_OUT": str(out)}
    completed = subprocess.run([sys.executable, "-c", CLI_PROBE, *args], cwd=PROJECT, env=env,
                               capture_output=True, text=True, timeout=120, check=False)
    assert out.exists(), f"the probe wrote nothing; stderr:\n{completed.stderr}"
    return completed, json.loads(out.read_text(encoding="utf-8"))


def test_validate_loads_nothing_of_aws(tmp_path: Path) -> None:
    # When a workflow file is validated
    completed, probe = _run_cli(tmp_path, "validate", "examples/quickstart/workflow.yaml")
    # Then it was (so the path really ran) ...
    assert probe["code"] == 0, completed.stderr
    assert "ok (order-digest, 8 steps)" in completed.stdout
    # ... without loading any of the cloud's modules
    assert _aws_modules(probe["modules"]) == []


def test_run_of_the_quickstart_loads_nothing_of_aws(tmp_path: Path) -> None:
    # When the quick start runs on the local engine (scripts, a loop, a condition: the Lambda handlers in-process)
    completed, probe = _run_cli(tmp_path, "run", "examples/quickstart/workflow.yaml",
                                "--input", '{"orders": [3, 8, 15, 4]}', "--json")
    # Then it succeeded ...
    assert probe["code"] == 0, completed.stderr
    assert json.loads(completed.stdout)["digest"] == {"summary": "4 orders, total score 45.0: needs review"}
    assert "orchestrator.composition.local_run" in probe["modules"]
    # ... without loading any of the cloud's modules
    assert _aws_modules(probe["modules"]) == []


def test_asl_run_loads_nothing_of_aws(tmp_path: Path) -> None:
    # When a raw ASL file runs on the local interpreter
    completed, probe = _run_cli(tmp_path, "asl", "run", "statemachines/examples/hello.asl.json",
                                "--input", '{"name": "you"}')
    # Then it printed its output ...
    assert probe["code"] == 0, completed.stderr
    assert json.loads(completed.stdout)["greeting"] == "Hello, you!"
    # ... without loading any of the cloud's modules
    assert _aws_modules(probe["modules"]) == []


#: imports observability, decorates a handler as functions/*/app.py do, calls it (once fine, once failing)
#: and prints what the tracer is and what it recorded
TRACER_PROBE = """
import json, sys
from orchestrator.observability import tracer

sent = []
if "aws_xray_sdk" in sys.modules:
    from aws_xray_sdk.core import xray_recorder

    class Emitter:  # the X-Ray daemon's stand-in: what would have been sent over UDP
        def send_entity(self, entity):
            sent.append(entity.to_dict())
        def set_daemon_address(self, address):
            pass

    xray_recorder.configure(emitter=Emitter())

@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    if event.get("fail"):
        raise RuntimeError("boom")
    return {"echo": event["value"]}

answer = lambda_handler({"value": 7}, None)
try:
    lambda_handler({"fail": True}, None)
    failure = None
except RuntimeError as error:
    failure = str(error)
print(json.dumps({"answer": answer, "failure": failure, "disabled": bool(tracer.disabled),
                  "provider": type(tracer.provider).__module__,
                  "xray_loaded": "aws_xray_sdk" in sys.modules,
                  "subsegments": [entity["name"] for entity in sent],
                  "annotations": [entity.get("annotations", {}) for entity in sent]}))
"""


def _trace(tmp_path: Path, **env: str) -> dict[str, Any]:
    completed = subprocess.run([sys.executable, "-c", TRACER_PROBE], cwd=PROJECT,
                               env=_base_env(tmp_path) | env, capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_outside_lambda_the_tracer_is_off_and_never_loads_the_xray_sdk(tmp_path: Path) -> None:
    # When a handler decorated with @tracer.capture_lambda_handler runs outside Lambda (the local engine)
    result = _trace(tmp_path)
    # Then it behaves as the plain function: its answer, its exception ...
    assert result["answer"] == {"echo": 7}
    assert result["failure"] == "boom"
    # ... and tracing is off without the X-Ray SDK (or botocore's session machinery) ever being imported
    assert result["disabled"] is True
    assert result["xray_loaded"] is False


@pytest.mark.parametrize("switch", [{"POWERTOOLS_TRACE_DISABLED": "true"}, {"AWS_SAM_LOCAL": "true"}],
                         ids=["POWERTOOLS_TRACE_DISABLED", "sam-local"])
def test_in_lambda_the_tracer_can_still_be_switched_off(tmp_path: Path, switch: dict[str, str]) -> None:
    # When the handler runs in a Lambda environment where Powertools turns tracing off
    result = _trace(tmp_path, LAMBDA_TASK_ROOT="/var/task", **switch)
    # Then tracing is off, and the X-Ray SDK is not loaded for it
    assert (result["disabled"], result["xray_loaded"], result["answer"]) == (True, False, {"echo": 7})


def test_in_lambda_the_tracer_records_subsegments_with_the_xray_sdk(tmp_path: Path) -> None:
    # When the handler runs in Lambda (LAMBDA_TASK_ROOT and a trace header, as the runtime sets them)
    result = _trace(tmp_path, LAMBDA_TASK_ROOT="/var/task", AWS_LAMBDA_FUNCTION_NAME="StepRunnerFunction",
                    _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    # Then the tracer is Powertools' X-Ray recorder, switched on ...
    assert result["disabled"] is False
    assert result["provider"].startswith("aws_xray_sdk")
    # ... the handler still answers and raises as itself ...
    assert result["answer"] == {"echo": 7}
    assert result["failure"] == "boom"
    # ... and each call was sent as a "## lambda_handler" subsegment, annotated as Powertools does
    assert result["subsegments"] == ["## lambda_handler", "## lambda_handler"]
    assert [annotations.get("ColdStart") for annotations in result["annotations"]] == [True, False]
    assert {annotations.get("Service") for annotations in result["annotations"]} == {"orchestrator"}
