"""The cost model of benchmarks/aws_costs.py, kept honest: what one more step, one retry and one pause cost
in Step Functions state transitions and Lambda invocations, measured from execution histories on moto."""

from __future__ import annotations

from support.aws_chain import AwsChain
from support.aws_cost_model import chain_workflow, measure


def test_each_step_of_a_chain_costs_four_transitions_and_one_step_runner_invocation(chain: AwsChain) -> None:
    # Given a 1-step and a 4-step chain of steps (one parallel group per step)
    one = measure(chain, "chain-1", chain_workflow("cost-chain-1", 1))
    four = measure(chain, "chain-4", chain_workflow("cost-chain-4", 4))
    # Then both completed, and each further step cost 4 state transitions (the states it enters, as billed:
    # its group's RunGroupSteps Map, RunStep, StepOutcome, StepDone) and one StepRunner invocation
    assert (one.status, four.status) == ("completed", "completed")
    assert (four.transitions - one.transitions) / 3 == 4
    assert four.invocations["StepRunnerFunction"] - one.invocations["StepRunnerFunction"] == 3
    # And the execution's fixed cost is one scheduler and one status-change invocation, whatever its length
    for run in (one, four):
        assert (run.invocations["SchedulerFunction"], run.invocations["ExecutionEventsFunction"]) == (1, 1)


def test_a_pause_costs_a_gate_invocation_and_a_second_run_of_the_parked_step(chain: AwsChain) -> None:
    # Given the same 2-step chain run straight through and paused before its second step, then resumed
    straight = measure(chain, "chain-2", chain_workflow("cost-chain-2", 2))
    paused = measure(chain, "chain-2-paused", chain_workflow("cost-chain-2p", 2), pause_before="s1")
    # Then the pause cost one PauseGate invocation, one more StepRunner invocation and 4 transitions
    assert (straight.status, paused.status) == ("completed", "completed")
    assert paused.invocations["PauseGateFunction"] == 1
    assert paused.invocations["StepRunnerFunction"] - straight.invocations["StepRunnerFunction"] == 1
    assert paused.transitions - straight.transitions == 4
