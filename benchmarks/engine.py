"""Interpreter overhead per state transition: this project's ASL interpreter vs moto's.

    .venv/bin/python benchmarks/engine.py            # full sizes: about 2 minutes (moto ~3.5 ms per event)
    .venv/bin/python benchmarks/engine.py --quick    # small sizes, well under 20 s (tests/integration)
    .venv/bin/python benchmarks/engine.py --profile  # also cProfile our interpreter (top functions)

Two scenarios, each run on both engines with the same ASL, input and no-op Lambda handler (so what is
measured is the interpreters, not step work):

* ``dag``: statemachines/workflow.asl.json (as template.yaml substitutes it) running the plan that
  ``services.workflow_plan.build_plan`` makes of a generated layered workflow: 10 groups x 100 steps.
* ``map``: benchmarks/map_1000.asl.json, a Map (MaxConcurrency 40) over 1,000 items whose iteration is a
  Lambda Task, a Choice and a Pass.

Ours: ``orchestrator.asl.Interpreter`` with the in-memory checkpoint store and the system clock (median
of ``--repeat`` timed runs, each on a fresh interpreter warmed up by a tiny execution). The same with a
FakeClock is shown for information: there are no waits, the clock only arms the DAG's Task timeouts
(TimeoutSecondsPath). moto: ``mock_aws`` in execute_state_machine mode, the no-op plugged in behind a real
``create_function`` (tests/support/moto_lambda.py), timed from start_execution until describe_execution
reports the end (after a warm-up execution), history counted with paginated get_execution_history.

A transition is one history event. The last line is ``ratio_vs_moto=N``: moto's microseconds per
transition over ours, over both scenarios (total time / total events of each engine). The exit status is 1
if the two engines disagree on a scenario's status, output or number of events.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.adapters.local.sam_template import load_sam_template
from orchestrator.asl import FakeClock, Interpreter, StateMachine, load_state_machine
from orchestrator.asl.checkpoints import MemoryCheckpointStore
from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.services.workflow_plan import build_plan

ROOT = Path(__file__).resolve().parents[1]
MAP_ASL = Path(__file__).with_name("map_1000.asl.json")
STEP_RUNNER = "StepRunnerFunction"  # the logical id in template.yaml, also the moto function's name
NOOP = "Noop"
NOOP_PLACEHOLDER = "${NoopFunctionArn}"

LOOP_THREAD_NAME = "asl-interpreter-loop"  # orchestrator.asl.interpreter._LoopThread
GOAL_RATIO = 20.0
GOAL_MICROSECONDS = 100.0


# -- the no-op step ---------------------------------------------------------------------------------------------


def noop_handler(event: Any, context: Any = None) -> dict[str, Any]:
    """What the StepRunner returns for a step that succeeded at once (docs/architecture.md)."""
    step = event.get("step", {}) if isinstance(event, dict) else {}
    return {"step_id": step.get("id"), "status": "succeeded", "attempt": 1}


HANDLERS: dict[str, Callable[[Any, Any], Any]] = {STEP_RUNNER: noop_handler, NOOP: noop_handler}


def local_invoke(resource: str, payload: Any) -> Any:
    """The Interpreter's ``invoke``: the function named by the ARN's last segment, as a Lambda handler."""
    return HANDLERS[resource.rsplit(":", 1)[-1]](payload, None)


# -- scenarios ---------------------------------------------------------------------------------------------------


def layered_workflow(groups: int, width: int) -> WorkflowDefinition:
    """``groups`` layers of ``width`` steps; each step depends on 3 steps of the layer before."""
    steps = []
    for number in range(groups * width):
        layer, position = divmod(number, width)
        step: dict[str, Any] = {"id": f"s{number}", "type": "script", "config": {"code": "true"}}
        if layer:
            step["depends_on"] = [
                f"s{(layer - 1) * width + (position + k) % width}" for k in range(min(3, width))
            ]
        steps.append(step)
    return WorkflowDefinition.model_validate({"name": "benchmark-dag", "steps": steps})


@dataclass
class Scenario:
    name: str
    label: str
    definition_text: str  # the ASL with the local function ARN in it
    local_arn: str  # replaced by the moto function's ARN for moto
    function: str  # the function's name
    input: Any
    warmup_input: Any
    expected_items: int  # sanity: the output's number of step results


def dag_scenario(groups: int, width: int) -> Scenario:
    template = load_sam_template(ROOT / "template.yaml")
    definition = template.definition("WorkflowStateMachine")
    # one execution, as the interpreter benchmark measures (a plan this size would otherwise run in parts)
    plan = build_plan(layered_workflow(groups, width), "benchmark-dag", steps_per_execution=groups * width)
    assert len(plan["groups"]) == groups and all(len(g["steps"]) == width for g in plan["groups"]), (
        "unexpected plan"
    )
    return Scenario(
        name=f"dag_{groups}x{width}",
        label=f"layered DAG, {groups} groups x {width} steps (workflow.asl.json)",
        definition_text=json.dumps(definition),
        local_arn=template.functions[STEP_RUNNER].arn,
        function=STEP_RUNNER,
        input=plan,
        warmup_input=build_plan(layered_workflow(1, 2), "warm-up"),
        expected_items=groups * width,
    )


def map_scenario(items: int) -> Scenario:
    local_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{NOOP}"
    return Scenario(
        name=f"map_{items}",
        label=f"Map over {items} items, Task + Choice + Pass (map_1000.asl.json)",
        definition_text=MAP_ASL.read_text(encoding="utf-8").replace(NOOP_PLACEHOLDER, local_arn),
        local_arn=local_arn,
        function=NOOP,
        input={"items": [{"id": f"item{index}"} for index in range(items)]},
        warmup_input={"items": [{"id": "warm-up"}]},
        expected_items=items,
    )


def result_items(output: Any) -> int:
    """Number of items an execution went through: the Map's results, or for workflow.asl.json (whose Maps
    keep no results: step outputs live in the store) the steps of the plan it ends with."""
    if isinstance(output, dict) and isinstance(output.get("groups"), list):
        return sum(len(group.get("steps", [])) for group in output["groups"])
    if isinstance(output, list):
        return (
            sum(result_items(item) for item in output)
            if output and isinstance(output[0], list)
            else len(output)
        )
    return 0


# -- measurements ------------------------------------------------------------------------------------------------


@dataclass
class Measurement:
    engine: str
    scenario: str
    seconds: float
    events: int
    status: str
    output: Any
    note: str = ""

    @property
    def microseconds_per_transition(self) -> float:
        return self.seconds / self.events * 1e6 if self.events else float("nan")


def run_ours(
    scenario: Scenario, machine: StateMachine, repeat: int, *, clock_factory: Any = None
) -> Measurement:
    """Median of ``repeat`` runs, each on a fresh Interpreter and in-memory store (as a one-shot
    ``orchestrator run`` has), warmed up by a tiny execution and started from a collected heap."""
    times = []
    outcome: tuple[str, int, Any] | None = None
    for _ in range(repeat):
        clock = clock_factory() if clock_factory is not None else None
        with Interpreter(
            invoke=local_invoke, clock=clock, checkpoints=MemoryCheckpointStore()
        ) as interpreter:
            warmup = interpreter.run(machine, scenario.warmup_input)  # starts the loop thread and the pool
            assert warmup.status == "SUCCEEDED", (warmup.error, warmup.cause)
            del warmup
            gc.collect()
            started = time.perf_counter()
            result = interpreter.run(machine, scenario.input)
            times.append(time.perf_counter() - started)
        outcome = (result.status, len(result.history), result.output)
        del result
    assert outcome is not None
    engine = "ours" if clock_factory is None else "ours+FakeClock"
    note = f"median of {repeat}: " + ", ".join(f"{t:.3f}" for t in times) + " s" if repeat > 1 else ""
    status, events, output = outcome
    return Measurement(engine, scenario.name, statistics.median(times), events, status, output, note)


PROFILE_SORT = "tottime"  # pstats sort key of --profile


def profile_ours(scenario: Scenario, machine: StateMachine, top: int) -> str:
    """cProfile of one run of the interpreter's event-loop thread (where all of its own work happens; the
    invoke threads only call the no-op, and their hand-offs show as wall time, not in a profile)."""
    profiles: list[cProfile.Profile] = []
    original_run = threading.Thread.run

    def profiled_run(thread: threading.Thread) -> None:
        if thread.name != LOOP_THREAD_NAME:
            original_run(thread)
            return
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()
        try:
            original_run(thread)
        finally:
            profile.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    try:
        with Interpreter(invoke=local_invoke, checkpoints=MemoryCheckpointStore()) as interpreter:
            interpreter.run(machine, scenario.warmup_input)
            for profile in profiles:
                profile.clear()  # keep the timed run only
            started = time.perf_counter()
            interpreter.run(machine, scenario.input)
            seconds = time.perf_counter() - started
    finally:
        threading.Thread.run = original_run  # type: ignore[method-assign]
    if not profiles:
        return f"(no thread named {LOOP_THREAD_NAME!r} ran: the interpreter changed, update benchmarks/engine.py)"
    text = io.StringIO()
    text.write(f"one run under cProfile: {seconds:.3f} s\n")
    pstats.Stats(profiles[0], stream=text).strip_dirs().sort_stats(PROFILE_SORT).print_stats(top)
    return text.getvalue()


def run_moto(scenarios: list[Scenario], timeout: float) -> list[Measurement]:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.moto_lambda import MotoStepFunctions

    measurements = []
    with MotoStepFunctions() as moto_sfn:
        arns = {name: moto_sfn.add_function(name, handler) for name, handler in HANDLERS.items()}
        for scenario in scenarios:
            definition = scenario.definition_text.replace(scenario.local_arn, arns[scenario.function])
            machine_arn = moto_sfn.create_state_machine(scenario.name, definition)
            warmup = moto_sfn.run(machine_arn, scenario.warmup_input, timeout=timeout)
            assert warmup.status == "SUCCEEDED", (warmup.error, warmup.cause)
            run = moto_sfn.run(machine_arn, scenario.input, timeout=timeout)
            measurements.append(
                Measurement("moto", scenario.name, run.seconds, run.event_count(), run.status, run.output)
            )
    return measurements


# -- report ------------------------------------------------------------------------------------------------------


def row(m: Measurement) -> str:
    return (
        f"  {m.engine:15} {m.status:10} wall {m.seconds:9.3f} s   events {m.events:7d}   "
        f"{m.microseconds_per_transition:9.1f} us/transition" + (f"   ({m.note})" if m.note else "")
    )


def per_transition(measurements: list[Measurement]) -> float:
    return sum(m.seconds for m in measurements) / sum(m.events for m in measurements) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (DAG 2x20, Map 100) for a fast check"
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="timed runs of ours per scenario (default 5, quick 3)"
    )
    parser.add_argument(
        "--moto-timeout", type=float, default=600.0, help="seconds before a moto run is abandoned"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also print a cProfile of our interpreter per scenario"
    )
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 5)

    scenarios = (
        [dag_scenario(2, 20), map_scenario(100)]
        if args.quick
        else [dag_scenario(10, 100), map_scenario(1000)]
    )
    import moto

    print(
        f"benchmarks/engine.py{' --quick' if args.quick else ''}: Python {platform.python_version()}, "
        f"moto {moto.__version__}, {os.cpu_count()} CPUs, {platform.machine()}"
    )
    ours: dict[str, Measurement] = {}
    fake_clock: dict[str, Measurement] = {}
    profiles: dict[str, str] = {}
    for scenario in scenarios:
        machine = load_state_machine(scenario.definition_text, name=scenario.name)
        ours[scenario.name] = run_ours(scenario, machine, repeat)
        fake_clock[scenario.name] = run_ours(scenario, machine, repeat, clock_factory=FakeClock)
        if args.profile:
            profiles[scenario.name] = profile_ours(scenario, machine, top=30)
    moto_runs = {m.scenario: m for m in run_moto(scenarios, args.moto_timeout)}

    agree_all = True
    for scenario in scenarios:
        mine, theirs = ours[scenario.name], moto_runs[scenario.name]
        print()
        print(f"{scenario.name}: {scenario.label}")
        for measurement in (mine, fake_clock[scenario.name], theirs):
            print(row(measurement))
        same_output = json.dumps(mine.output, sort_keys=True) == json.dumps(theirs.output, sort_keys=True)
        agree = (
            mine.status == theirs.status == "SUCCEEDED"
            and mine.events == theirs.events
            and same_output
            and result_items(mine.output) == scenario.expected_items
        )
        agree_all = agree_all and agree
        print(
            f"  agree scenario={scenario.name} status={mine.status}/{theirs.status} events={mine.events}/{theirs.events} "
            f"output={'same' if same_output else 'DIFFERENT'} results={result_items(mine.output)}/{result_items(theirs.output)} "
            f"-> {'yes' if agree else 'NO'}"
        )
        ratio = theirs.microseconds_per_transition / mine.microseconds_per_transition
        print(f"  ratio scenario={scenario.name} moto/ours per transition = {ratio:.1f}x")
        if scenario.name in profiles:
            print(f"  cProfile of ours ({scenario.name}, event-loop thread, by own time):")
            print("\n".join("    " + line for line in profiles[scenario.name].strip().splitlines()))

    ours_us = per_transition(list(ours.values()))
    moto_us = per_transition(list(moto_runs.values()))
    overall = moto_us / ours_us
    worst_us = max(m.microseconds_per_transition for m in ours.values())
    worst_ratio = min(
        moto_runs[name].microseconds_per_transition / ours[name].microseconds_per_transition for name in ours
    )
    print()
    print(
        f"ours overall: {ours_us:.1f} us/transition (worst scenario {worst_us:.1f}); moto overall: {moto_us:.1f} us/transition"
    )
    print(
        f"goal >= {GOAL_RATIO:.0f}x faster than moto: {'met' if worst_ratio >= GOAL_RATIO else 'NOT met'} "
        f"(overall {overall:.1f}x, worst scenario {worst_ratio:.1f}x)"
    )
    print(
        f"goal < {GOAL_MICROSECONDS:.0f} us per transition: {'met' if worst_us < GOAL_MICROSECONDS else 'NOT met'} "
        f"(worst scenario {worst_us:.1f} us)"
    )
    print(f"engines agree on every scenario: {'yes' if agree_all else 'NO'}")
    print(f"ratio_vs_moto={overall:.1f}")
    return 0 if agree_all else 1


if __name__ == "__main__":
    sys.exit(main())
