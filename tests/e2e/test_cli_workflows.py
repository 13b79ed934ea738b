"""`orchestrator run / validate / plan / schema` on the examples, end to end on the local engine."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

from cli_runner import orchestrator

from support.local_http import LocalHttpServer, Reply

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_quickstart_runs_every_step_and_branches_on_the_total() -> None:
    # Given the quick start's orders, whose total score (45) is above the threshold (20)
    # When it runs
    result = orchestrator("run", "examples/quickstart/workflow.yaml", "--input", '{"orders": [3, 8, 15, 4]}', "--json")
    # Then it succeeds, the review branch ran and the other was skipped
    assert result.code == 0, result.stderr
    outputs = result.json()
    assert outputs["total"] == {"total": 45.0}
    assert outputs["escalate"]["ticket"].startswith("REVIEW-")
    assert outputs["auto_approve"] is None
    assert outputs["digest"]["summary"] == "4 orders, total score 45.0: needs review"
    assert [item["weigh"]["score"] for item in outputs["score"]] == [4.5, 12.0, 22.5, 6.0]
    # and the live view showed every step
    for step in ("validate", "score", "total", "needs_review", "escalate", "auto_approve", "digest"):
        assert step in result.stderr


def test_quickstart_takes_the_other_branch_below_the_threshold() -> None:
    result = orchestrator("run", "examples/quickstart/workflow.yaml", "--input", '{"orders": [1, 2]}', "--json")
    assert result.code == 0, result.stderr
    outputs = result.json()
    assert outputs["escalate"] is None
    assert outputs["auto_approve"] == {"approved": True}
    assert outputs["digest"]["summary"].endswith(": approved")


def test_bad_input_fails_the_run_with_the_step_error_and_exit_code_1() -> None:
    # Given an order that is not a number
    result = orchestrator("run", "examples/quickstart/workflow.yaml", "--input", '{"orders": [1, "x"]}')
    # Then the validate step fails the execution and the CLI says why
    assert result.code == 1
    assert "Script.ExitCode" in result.stderr
    assert "orders must be non-negative numbers" in result.stderr


def test_conditional_branch_pages_for_urgent_tickets() -> None:
    result = orchestrator("run", "examples/conditional-branch/workflow.yaml", "--input",
                          '{"priority": "P1", "title": "db down"}', "--json")
    assert result.code == 0, result.stderr
    outputs = result.json()
    assert outputs["page_on_call"] == {"paged": True, "message": "URGENT: db down"}
    assert outputs["enqueue"] is None
    assert outputs["acknowledge"] == {"route": "paged"}


def test_fan_out_checks_every_item() -> None:
    result = orchestrator("run", "examples/fan-out/workflow.yaml", "--json")
    assert result.code == 0, result.stderr
    report = result.json()["report"]
    assert report["checked"] == 6
    assert isinstance(report["unhealthy"], list)


def test_flaky_step_succeeds_on_its_third_attempt() -> None:
    # the example counts its attempts with ORCHESTRATOR_ATTEMPT: a sandboxed script keeps no files between them
    result = orchestrator("run", "examples/flaky-retry/workflow.yaml", "--json")
    assert result.code == 0, result.stderr
    assert result.json()["flaky"] == {"attempts": 3}


def test_fetch_transform_store_syncs_paid_orders(tmp_path: Path, local_http: LocalHttpServer) -> None:
    # Given an API serving the sample orders and an empty SQLite warehouse
    orders = json.loads((EXAMPLES / "fetch-transform-store/sample/orders.json").read_text())
    local_http.route("GET", "/orders.json", Reply(json_body=orders))
    warehouse = tmp_path / "warehouse.db"
    # When the workflow runs against them
    result = orchestrator(
        "run", "examples/fetch-transform-store/workflow.yaml", "--var", f"api_url={local_http.url('/orders.json')}",
        env={"ORCHESTRATOR_DB_WAREHOUSE": f"sqlite:///{warehouse}"},
    )
    # Then the paid orders are in the warehouse with their totals in cents
    assert result.code == 0, result.stderr
    rows = sqlite3.connect(warehouse).execute("SELECT id, customer, total_cents FROM paid_orders ORDER BY id").fetchall()
    assert rows == [("o-1001", "ada", 2899), ("o-1003", "linus", 30)]


def test_validate_reports_every_problem_with_its_location(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "version: '1.0'\nname: broken\nsteps:\n"
        "  - {id: a, type: script, depends_on: [b], config: {code: 'echo'}}\n"
        "  - {id: b, type: script, depends_on: [a], config: {code: 'echo'}}\n"
        "  - {id: c, type: teleport, depends_on: [fetch]}\n"
    )
    result = orchestrator("validate", str(broken))
    assert result.code == 2
    assert "steps[2].depends_on[0]: unknown step 'fetch'" in result.stderr
    assert "a -> b -> a" in result.stderr
    assert "teleport" in result.stderr


def test_validate_accepts_every_example() -> None:
    files = sorted(str(path.relative_to(EXAMPLES.parent)) for path in EXAMPLES.glob("*/workflow.yaml"))
    assert len(files) >= 5
    result = orchestrator("validate", *files)
    assert result.code == 0, result.stderr
    assert result.stdout.count(": ok") == len(files)


def test_yaml_syntax_errors_name_the_line_and_column(tmp_path: Path) -> None:
    broken = tmp_path / "syntax.yaml"
    broken.write_text("name: x\nsteps:\n  - id: a\n    type: [script\n")
    result = orchestrator("validate", str(broken))
    assert result.code == 2
    assert "line 5" in result.stderr or "line 4" in result.stderr
    assert "column" in result.stderr


def test_plan_prints_groups_and_mermaid() -> None:
    groups = orchestrator("plan", "examples/quickstart/workflow.yaml")
    assert groups.code == 0
    assert groups.stdout.splitlines()[0] == "group 1: validate (script)"
    assert "group 5: auto_approve (script), escalate (script)" in groups.stdout
    chart = orchestrator("plan", "examples/quickstart/workflow.yaml", "--mermaid")
    assert chart.code == 0
    assert chart.stdout.startswith("flowchart")
    assert "needs_review" in chart.stdout


def test_schema_is_a_json_schema_of_workflows() -> None:
    result = orchestrator("schema")
    assert result.code == 0
    schema = result.json()
    assert "steps" in schema["properties"]
    assert schema["$schema"].startswith("https://json-schema.org/")


def test_bad_input_json_names_the_option_and_position() -> None:
    result = orchestrator("run", "examples/quickstart/workflow.yaml", "--input", '{"orders": [1,}')
    assert result.code == 2
    assert "--input" in result.stderr
    assert "column" in result.stderr


def test_serve_refuses_a_store_its_two_processes_cannot_share() -> None:
    # When the server is asked to run on the in-memory store
    served = orchestrator("serve", "--port", "1", env={"ORCHESTRATOR_STORE": "memory"}, timeout=30)
    # Then it refuses at once, saying why and what to use
    assert served.code == 2
    assert "ORCHESTRATOR_STORE=memory" in served.stderr and "sqlite" in served.stderr


def test_serve_on_a_busy_port_says_so_and_starts_nothing() -> None:
    # Given a port something else listens on
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # When the server is started there
        served = orchestrator("serve", "--port", str(port), timeout=30)
    # Then it fails at once naming the address, before announcing itself
    assert served.code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in served.stderr
    assert "serving" not in served.stderr
