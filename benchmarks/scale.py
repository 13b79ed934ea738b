"""The durable engine at scale: layered DAGs of 100, 1,000 and 10,000 no-op steps.

    .venv/bin/python benchmarks/scale.py            # all sizes: about a minute
    .venv/bin/python benchmarks/scale.py --quick    # 100 and 1,000 steps only

Every figure comes from a fresh process (so peak RSS is that run's own), after a 10-step warm-up run in
that process (imports and first-call costs are start-up, measured by benchmarks/cli.py):

* ``interpreter``: statemachines/workflow.asl.json alone on the plan, with a no-op StepRunner (what
  benchmarks/engine.py measures): the floor that the engine's own work is compared with.
* ``memory``: the engine of ``orchestrator run`` with ``ORCHESTRATOR_STORE=memory``: real StepRunner,
  real ``condition`` steps, step records in memory.
* ``durable``: the same engine as ``orchestrator run`` uses by default: records and checkpoints in SQLite
  under a fresh ``ORCHESTRATOR_HOME`` (``runs.db``), resumable with ``orchestrator run --resume``.
* ``serve``: a 3,000-step chain through the engine of ``orchestrator serve`` (LocalRuntime, SQLite store,
  the worker queue), from submit to ``completed``.

The DAG: ``layers`` x ``width`` steps, each depending on the step above it in the previous layer. Goals
(issue 9): 1,000 steps durable in at most 1.0 s and at most 5x the interpreter; durable at most 2x memory;
10,000 steps at most 12x the 1,000-step time with a peak RSS of at most 400 MB; the serve chain at 500
steps/s or more. Each line prints its figure, its goal and PASS or FAIL; the exit status is 0 regardless.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from layered_dag import layered

ROOT = Path(__file__).resolve().parents[1]
LAYERS = 10
SIZES = (100, 1_000, 10_000)
CHAIN_STEPS = 3_000



def chain(length: int) -> dict[str, Any]:
    return layered(length, 1)


# -- one measurement, in a child process ----------------------------------------------------------------------


def measure(mode: str, steps: int) -> dict[str, Any]:
    """Run this script as a child that measures ``mode`` on ``steps`` steps and prints one JSON line."""
    env = {**os.environ, "ORCHESTRATOR_HOME": tempfile.mkdtemp(prefix="scale-"), "POWERTOOLS_METRICS_DISABLED": "1",
           "POWERTOOLS_LOG_LEVEL": "ERROR", "ORCHESTRATOR_STORE": "memory" if mode == "memory" else "sqlite"}
    completed = subprocess.run([sys.executable, __file__, "--child", mode, str(steps)], env=env, cwd=ROOT,
                               capture_output=True, text=True, timeout=900)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{\"mode\"")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"{mode} {steps}: exit {completed.returncode}\n{completed.stderr[-3000:]}")
    return json.loads(lines[-1])


def child(mode: str, steps: int) -> None:
    from orchestrator.domain.workflow import WorkflowDefinition

    width = max(1, steps // LAYERS)
    definition = WorkflowDefinition.model_validate(layered(LAYERS, width) if mode != "serve" else chain(steps))
    warmup = WorkflowDefinition.model_validate(layered(2, 5))
    if mode == "interpreter":
        seconds, status = _interpreter(definition, warmup)
    elif mode == "serve":
        seconds, status = _serve(definition, warmup)
    else:
        seconds, status = _engine(definition, warmup)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "steps": steps, "seconds": seconds, "status": status, "rss_mb": rss_mb}))


def _interpreter(definition: Any, warmup: Any) -> tuple[float, str]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from engine import local_invoke  # the no-op StepRunner of benchmarks/engine.py

    from orchestrator.adapters.local.sam_template import load_sam_template
    from orchestrator.asl import Interpreter, load_state_machine
    from orchestrator.services.workflow_plan import build_plan, plan_parts

    machine = load_state_machine(load_sam_template(ROOT / "template.yaml").definition("WorkflowStateMachine"))
    parts = plan_parts(definition)

    def invoke(resource: str, payload: Any) -> Any:
        if resource.endswith(":PlanReaderFunction"):  # the plan's parts, as the engine runs them
            return {"groups": parts[payload["part"]["index"]]}
        return local_invoke(resource, payload)

    with Interpreter(invoke=invoke) as interpreter:
        interpreter.run(machine, build_plan(warmup, "warm-up"))
        plan = build_plan(definition, "measured")
        started = time.perf_counter()
        result = interpreter.run(machine, plan)
        return time.perf_counter() - started, result.status


def _engine(definition: Any, warmup: Any) -> tuple[float, str]:
    from orchestrator.composition.local_run import local_engine

    engine = local_engine()
    engine.run(warmup, {})
    started = time.perf_counter()
    run = engine.run(definition, {})
    return time.perf_counter() - started, run.status


def _serve(definition: Any, warmup: Any) -> tuple[float, str]:
    from orchestrator.composition.runtime import get_local_runtime
    from orchestrator.domain.records import WorkflowRecord, WorkflowStatus

    runtime = get_local_runtime()
    runtime.start()
    try:
        def execute(workflow_definition: Any) -> tuple[float, str]:
            raw = workflow_definition.model_dump(mode="json", exclude_none=True)
            record = runtime.store.create_workflow(
                WorkflowRecord(name=raw["name"], owner_id="bench", status=WorkflowStatus.ACTIVE), raw)
            started = time.perf_counter()
            execution = runtime.executions.submit(record.id, input={}, owner_id="bench")
            while True:
                current = runtime.store.get_execution(execution.id)
                if current is not None and current.status.value in ("completed", "failed", "cancelled", "timed_out"):
                    return time.perf_counter() - started, current.status.value
                time.sleep(0.01)

        execute(warmup)
        return execute(definition)
    finally:
        runtime.stop()


# -- the report ---------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 steps only, no serve chain")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return

    sizes = SIZES[:2] if args.quick else SIZES
    results: dict[tuple[str, int], dict[str, Any]] = {}
    print(f"layered DAG of condition steps ({LAYERS} layers), each figure a fresh process after a warm-up run")
    print(f"{'steps':>7} {'mode':<12} {'seconds':>9} {'ms/step':>8} {'peak RSS':>9}  status")
    for steps in sizes:
        for mode in ("interpreter", "memory", "durable"):
            result = results[(mode, steps)] = measure(mode, steps)
            print(f"{steps:>7} {mode:<12} {result['seconds']:>9.3f} {result['seconds'] * 1000 / steps:>8.3f} "
                  f"{result['rss_mb']:>7.0f}MB  {result['status']}")
    print()
    durable_1k, interpreter_1k, memory_1k = (results[(mode, 1_000)]["seconds"] for mode in ("durable", "interpreter", "memory"))
    print(f"1,000 steps durable: {durable_1k:.3f} s (goal <= 1.0 s) {verdict(durable_1k <= 1.0)}")
    ratio = durable_1k / interpreter_1k
    print(f"durable / interpreter on 1,000 steps: {ratio:.1f}x (goal <= 5x) {verdict(ratio <= 5)}")
    durability = durable_1k / memory_1k
    print(f"durable / memory on 1,000 steps: {durability:.2f}x (goal <= 2x) {verdict(durability <= 2)}")
    if not args.quick:
        durable_10k = results[("durable", 10_000)]
        growth = durable_10k["seconds"] / durable_1k
        print(f"10,000 / 1,000 steps durable: {growth:.1f}x (goal <= 12x, linear) {verdict(growth <= 12)}")
        print(f"10,000 steps durable peak RSS: {durable_10k['rss_mb']:.0f} MB (goal <= 400 MB) "
              f"{verdict(durable_10k['rss_mb'] <= 400)}")
        served = measure("serve", CHAIN_STEPS)
        rate = CHAIN_STEPS / served["seconds"]
        print(f"{CHAIN_STEPS:,}-step chain through serve's engine: {served['seconds']:.2f} s, {rate:.0f} steps/s "
              f"(goal >= 500) {verdict(rate >= 500)} [{served['status']}]")


if __name__ == "__main__":
    main()
