"""`orchestrator deploy` against a real `orchestrator serve`: validated first, scripts inlined, then runnable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import orchestrator
from server_process import ServerProcess

ADMIN_KEY = "ork_deploy-admin-key"

WORKFLOW = """\
version: "1.0"
name: doubler
steps:
  - id: double
    type: script
    config: {script: double.py}
    input_mapping: {n: "{{input.n}}"}
"""

# next to the workflow, not in the server's working directory: only inlining makes it reachable there
SCRIPT = "import json, sys\nprint(json.dumps({'doubled': json.load(sys.stdin)['n'] * 2}))\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess.running(tmp_path_factory.mktemp("deploy-server") / "home", ADMIN_KEY) as server:
        yield server


def _client_env(server: ServerProcess, key: str = ADMIN_KEY) -> dict[str, str]:
    return {"ORCHESTRATOR_URL": server.base_url, "ORCHESTRATOR_API_KEY": key}


def test_a_deployed_workflow_with_a_script_file_runs_on_the_server(server: ServerProcess, tmp_path: Path) -> None:
    # Given a workflow whose script step names a file next to it
    (tmp_path / "workflow.yaml").write_text(WORKFLOW)
    (tmp_path / "double.py").write_text(SCRIPT)
    # When it is deployed and activated
    deployed = orchestrator("deploy", str(tmp_path / "workflow.yaml"), "--activate", env=_client_env(server))
    # Then the command prints the new workflow's id
    assert deployed.code == 0, deployed.stderr
    workflow_id = deployed.stdout.strip()
    with server.client() as client:
        workflow = client.get(f"/api/v1/workflows/{workflow_id}").raise_for_status().json()
        assert workflow["status"] == "active"
        # and the stored definition carries the script's code and its runtime, not the file name
        config = workflow["definition"]["steps"][0]["config"]
        assert config == {"code": SCRIPT, "runtime": "python"}
        # and an execution of it runs the script on the server
        execution_id = client.post(f"/api/v1/workflows/{workflow_id}/execute",
                                   json={"input": {"n": 21}}).raise_for_status().json()["id"]
        deadline = time.monotonic() + 30
        while (detail := client.get(f"/api/v1/executions/{execution_id}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, detail
            time.sleep(0.1)
    assert detail["status"] == "completed", detail
    assert detail["output"]["double"] == {"doubled": 42}


def test_an_invalid_workflow_is_refused_before_anything_is_sent(server: ServerProcess, tmp_path: Path) -> None:
    # Given a workflow with a dependency on a step that does not exist
    broken = WORKFLOW.replace("    input_mapping:", "    depends_on: [fetch]\n    input_mapping:")
    (tmp_path / "workflow.yaml").write_text(broken.replace("name: doubler", "name: broken-doubler"))
    (tmp_path / "double.py").write_text(SCRIPT)
    # When it is deployed
    deployed = orchestrator("deploy", str(tmp_path / "workflow.yaml"), env=_client_env(server))
    # Then the command fails with the problem and its location
    assert deployed.code == 2
    assert "steps[0].depends_on[0]" in deployed.stderr and "fetch" in deployed.stderr
    # and the server never saw it
    with server.client() as client:
        names = [w["name"] for w in client.get("/api/v1/workflows").raise_for_status().json()["items"]]
    assert "broken-doubler" not in names


def test_a_missing_script_file_is_named(server: ServerProcess, tmp_path: Path) -> None:
    # Given a workflow whose script file is not there
    (tmp_path / "workflow.yaml").write_text(WORKFLOW)
    # When it is deployed
    deployed = orchestrator("deploy", str(tmp_path / "workflow.yaml"), env=_client_env(server))
    # Then the command fails naming the step and the file
    assert deployed.code == 2
    assert "'double'" in deployed.stderr and "double.py" in deployed.stderr


def test_a_wrong_key_gets_the_servers_answer(server: ServerProcess, tmp_path: Path) -> None:
    # Given a valid workflow and a key the server does not know
    (tmp_path / "workflow.yaml").write_text(WORKFLOW)
    (tmp_path / "double.py").write_text(SCRIPT)
    # When it is deployed with that key
    deployed = orchestrator("deploy", str(tmp_path / "workflow.yaml"), env=_client_env(server, key="ork_wrong"))
    # Then the command fails with the API's status and error code
    assert deployed.code == 1
    assert "401" in deployed.stderr and "unauthorized" in deployed.stderr
