"""What a workflow costs on AWS, measured on the moto chain (support/aws_chain.py) from execution histories.

Step Functions Standard bills state transitions (every state entered, including those inside Map
iterations); Lambda bills requests and GB-seconds. ``measure`` runs one workflow through the whole
chain and counts both; the ``*_workflow`` builders make the shapes benchmarks/aws_costs.py compares.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from support.aws_chain import AwsChain, deploy, execute, execution, history_types, state_transitions

#: published prices (us-east-1, 2025): Standard workflows, Lambda on arm64
PRICE_PER_TRANSITION = 0.025 / 1000
PRICE_PER_REQUEST = 0.20 / 1_000_000
PRICE_PER_GB_SECOND_ARM64 = 0.0000133334


@dataclass
class Measured:
    label: str
    steps: int
    history_events: int
    transitions: int
    invocations: Counter[str]
    types: Counter[str]
    status: str

    @property
    def lambda_requests(self) -> int:
        return sum(self.invocations.values())


def chain_workflow(name: str, steps: int) -> dict[str, Any]:
    """``steps`` condition steps, each depending on the one before: one parallel group per step."""
    return {"name": name, "steps": [
        {"id": f"s{n}", "type": "condition", "config": {"expression": "true"},
         **({"depends_on": [f"s{n - 1}"]} if n else {})} for n in range(steps)]}


def fan_out_workflow(name: str, steps: int) -> dict[str, Any]:
    """``steps`` independent condition steps: one parallel group."""
    return {"name": name, "max_concurrency": 10,
            "steps": [{"id": f"s{n}", "type": "condition", "config": {"expression": "true"}} for n in range(steps)]}


FLAKY_CODE = ("import json, os, sys\nattempt = int(os.environ['ORCHESTRATOR_ATTEMPT'])\n"
              "sys.exit(75) if attempt <= {failures} else print(json.dumps({{'attempts': attempt}}))\n")


def flaky_workflow(name: str, failures: int) -> dict[str, Any]:
    """One script step that fails ``failures`` times (exit 75), retried after 1 s each time."""
    return {"name": name, "steps": [{
        "id": "flaky", "type": "script", "config": {"runtime": "python", "code": FLAKY_CODE.format(failures=failures)},
        "retry": {"max_attempts": failures + 1, "initial_delay": "1s", "backoff_factor": 1, "max_delay": "1s"}}]}


def measure(chain: AwsChain, label: str, definition: dict[str, Any], *, pause_before: str | None = None,
            timeout: float = 300.0) -> Measured:
    """Run ``definition`` from the API to its recorded end; with ``pause_before``, pause just before that
    step runs and resume once it is parked. Counts the history and every function's invocations."""
    workflow_id = deploy(chain, definition)
    before = chain.invocation_counts()
    execution_id = execute(chain, workflow_id)
    if pause_before is not None:
        def press_pause(event: Any) -> None:
            assert chain.api("POST", f"/api/v1/executions/{event['execution']['id']}/pause").status == 200

        chain.before("StepRunnerFunction", lambda event: event["step"]["id"] == pause_before, press_pause)
        gate = chain.functions["PauseGateFunction"]
        parked = gate.invocations
        chain.pump_queues()
        chain.wait_for_machine(execution_id, timeout=timeout, until=lambda: gate.invocations > parked)
        assert chain.api("POST", f"/api/v1/executions/{execution_id}/resume").status == 200
    chain.run_to_end(execution_id, timeout=timeout)
    history = chain.history(execution_id)
    invocations = chain.invocation_counts() - before
    return Measured(label, len(definition["steps"]), len(history), state_transitions(history), invocations,
                    history_types(history), execution(chain, execution_id)["status"])
