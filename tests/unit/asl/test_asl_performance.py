"""Interpreter overhead per state transition (the goal is < 100 µs; the bound here is loose for shared CI)."""

from __future__ import annotations

import gc
import time
from typing import Any

from orchestrator.asl import FakeClock, Interpreter, load_state_machine

# CPU time of the whole process per transition; measured 35-45 µs on a shared 2-vCPU box (sync no-op
# invoke, thread pool included). The bound leaves room for slow CI machines.
CPU_BUDGET_PER_TRANSITION = 150e-6


def test_a_thousand_item_map_stays_within_the_overhead_budget():
    # Given a Map over 1000 items whose processor is a Task (no-op function), a Choice and a Pass
    machine = load_state_machine(
        {
            "StartAt": "Fan",
            "States": {
                "Fan": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "ItemProcessor": {
                        "StartAt": "Work",
                        "States": {
                            "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:noop", "Next": "Check"},
                            "Check": {
                                "Type": "Choice",
                                "Choices": [{"Variable": "$.n", "NumericGreaterThan": 500, "Next": "Big"}],
                                "Default": "Small",
                            },
                            "Big": {"Type": "Pass", "Result": "big", "End": True},
                            "Small": {"Type": "Pass", "Parameters": {"n.$": "$.n", "size": "small"}, "End": True},
                        },
                    },
                    "End": True,
                }
            },
        }
    )

    def noop(resource: str, payload: Any) -> Any:
        return payload

    items = [{"n": n} for n in range(1000)]
    with Interpreter(invoke=noop, clock=FakeClock()) as interpreter:
        interpreter.run(machine, {"items": items[:10]})  # warm up the loop and the thread pool

        # When it runs (the test process's own long-lived objects are moved out of the collector's way,
        # so that what is measured is the interpreter, including the collection of what it allocates)
        gc.collect()
        gc.freeze()
        try:
            cpu_started = time.process_time()
            result = interpreter.run(machine, {"items": items})
            cpu = time.process_time() - cpu_started
        finally:
            gc.unfreeze()

    # Then it is correct and the interpreter's CPU time per transition stays within budget
    assert result.status == "SUCCEEDED"
    assert result.output[0] == {"n": 0, "size": "small"} and result.output[999] == "big"
    transitions = sum(1 for event in result.history if event["type"].endswith("StateEntered"))
    assert transitions == 3001
    per_transition = cpu / transitions
    print(f"\nASL overhead: {per_transition * 1e6:.1f} µs CPU per transition, {len(result.history)} events")
    assert per_transition < CPU_BUDGET_PER_TRANSITION
