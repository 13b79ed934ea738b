"""Big workflows on Step Functions (moto) with the template's own settings: parts of 500 steps, each a child
execution far from the 25,000-event history quota, the plan never in a payload.

moto takes about 60 ms per step here (its Map runs iterations on threads of its own, every history event
costs milliseconds), so `make test` runs 1,000 steps (two parts) and the 5,000-step run (ten parts; measured
1,016 s on a loaded 2-core machine) runs when ORCHESTRATOR_TESTS_BIG_MOTO=1."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from support.aws_chain import AwsChain, deploy, execute, execution

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chain() -> Iterator[AwsChain]:
    with AwsChain() as deployed:
        yield deployed


def run_layered(chain: AwsChain, layers: int, width: int, parts: int) -> float:
    from test_aws_chain_big_workflows import layered, part_executions

    # Given layers of 50 condition steps (moto runs a Map's iterations on threads of its own: narrow layers keep
    # its thread count, and this test's time, down; the parts are the same 500 steps)
    workflow_id = deploy(chain, layered(layers, width))

    # When it is executed through the API
    started = time.monotonic()
    execution_id = execute(chain, workflow_id)
    described = chain.run_to_end(execution_id, timeout=1500)

    # Then it completed, each part's history stayed well under the quota, and every step succeeded once
    assert described["status"] == "SUCCEEDED", described
    part_runs = part_executions(chain, execution_id)
    assert len(part_runs) == parts and {part["status"] for part in part_runs} == {"SUCCEEDED"}
    assert max(len(chain.history(part["name"])) for part in part_runs) < 25_000 / 3
    detail = execution(chain, execution_id)
    assert detail["status"] == "completed"
    assert len(detail["steps"]) == layers * width and {step["status"] for step in detail["steps"]} == {"succeeded"}
    return time.monotonic() - started


def test_a_1000_step_workflow_runs_as_two_parts_of_the_default_size(chain: AwsChain) -> None:
    run_layered(chain, 20, 50, parts=2)


@pytest.mark.skipif(os.environ.get("ORCHESTRATOR_TESTS_BIG_MOTO") != "1",
                    reason="17 minutes on moto: set ORCHESTRATOR_TESTS_BIG_MOTO=1 (1,000 steps run always)")
def test_a_5000_step_workflow_completes_as_ten_child_executions(chain: AwsChain) -> None:
    elapsed = run_layered(chain, 100, 50, parts=10)
    print(f"5,000 steps on moto in {elapsed:.0f} s")
