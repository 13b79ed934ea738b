"""The same layered DAG on this orchestrator, Prefect 3 and Dagster, durable vs durable, in one run.

    make bench-peers                                   # installs .venv-peers, then runs this
    .venv/bin/python benchmarks/peers.py               # 10x10 and 10x50, 3 timed runs each (a few minutes)
    .venv/bin/python benchmarks/peers.py --quick       # 3x3, one run each: a smoke check
    .venv/bin/python benchmarks/peers.py --peers prefect --sizes 10x100

The DAG: L layers x W no-op steps; each step of a layer depends on the step at the same position in the
layer above (W independent chains of L steps, run layer by layer). Every engine runs it once small to warm
up, then ``--repeat`` times per size; the median is reported, as total seconds and milliseconds per step,
with the ratio peer/ours per step. Same machine, same run, one engine at a time.

* ours (project venv, in this process): the engine of ``orchestrator serve`` (composition.runtime's
  LocalRuntime: SQLite store, worker queue, the ASL interpreter running statemachines/workflow.asl.json),
  with a temporary ORCHESTRATOR_HOME; metrics and traces off and the log at WARNING, as the CLI sets them.
  The steps are ``condition`` steps (``1 >= 0``: no child process). Timed from ``submit`` (the execution
  saved as queued, as the API does it) until the store holds the execution as completed, polled every
  5 ms. Durable: the execution and every step's record (status, output) in SQLite, and a checkpoint per
  state-machine transition, so that a killed server resumes the execution (WAL, synchronous=NORMAL).
* Prefect 3 and Dagster (.venv-peers, a subprocess each: benchmarks/peers/run_peer.py, whose docstring
  says exactly what each persists). Timed inside that process around the call that runs the flow or job;
  the interpreter start-up, the import of the peer and its warm-up run (which for Prefect starts its
  ephemeral API server on a new SQLite database) are reported apart. Prefect's task run states reach its
  database from events after the flow returns: the time until all are recorded is shown too, but the
  goal uses the flow's return (the figure most favourable to Prefect).

Goal (issue 9): per step, at least 20x faster than Prefect 3's flow with tasks, durable vs durable, at
every size. The last line is ``ratio_vs_prefect=N`` (the worst size). Exit status 1 if an engine did not
complete every step; 0 otherwise, met or not, and 0 with a message when the peers venv is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from layered_dag import layered, parse_sizes

ROOT = Path(__file__).resolve().parents[1]
PEERS_DIR = Path(__file__).with_name("peers")
PEER_SCRIPT = PEERS_DIR / "run_peer.py"
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
PEERS = ("prefect", "dagster")
GOAL_RATIO = 20.0
WARM_UP = (2, 2)
POLL_SECONDS = 0.005
PEER_TIMEOUT = 1800.0


@dataclass
class Measurement:
    engine: str
    version: str
    ok: bool = True
    seconds: dict[tuple[int, int], list[float]] = field(default_factory=dict)
    recorded: dict[tuple[int, int], list[float]] = field(default_factory=dict)  # Prefect: until in its DB
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def median(self, size: tuple[int, int]) -> float:
        return statistics.median(self.seconds[size])

    def per_step_ms(self, size: tuple[int, int]) -> float:
        return self.median(size) * 1000 / (size[0] * size[1])




# -- ours ---------------------------------------------------------------------------------------------------


def run_ours(sizes: list[tuple[int, int]], repeat: int, home: Path) -> Measurement:
    # the environment of `orchestrator serve` on a fresh home, set before anything reads the settings
    os.environ["ORCHESTRATOR_HOME"] = str(home)
    os.environ["ORCHESTRATOR_STORE"] = "sqlite"
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    started = time.perf_counter()
    from importlib.metadata import version

    from orchestrator.composition.runtime import get_local_runtime
    from orchestrator.domain.records import WorkflowRecord, WorkflowStatus
    from orchestrator.observability import logger

    imported = time.perf_counter() - started
    logger.setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"))
    measurement = Measurement("ours", f"orchestrator {version('orchestrator')}")
    measurement.notes.append(f"import {imported:.2f} s")

    started = time.perf_counter()
    runtime = get_local_runtime()
    runtime.start()
    owner = "benchmark"

    def run(layers: int, width: int, workflow_id: str) -> tuple[float, bool]:
        begun = time.perf_counter()
        execution = runtime.executions.submit(workflow_id, input={}, owner_id=owner)
        deadline = begun + PEER_TIMEOUT
        while True:
            record = runtime.store.get_execution(execution.id)
            if record is not None and record.status.value in ("completed", "failed", "cancelled", "timed_out"):
                break
            if time.perf_counter() > deadline:
                return time.perf_counter() - begun, False
            time.sleep(POLL_SECONDS)
        elapsed = time.perf_counter() - begun
        steps = runtime.store.list_step_executions(execution.id)
        succeeded = sum(1 for step in steps if step.status.value == "succeeded")
        return elapsed, record.status.value == "completed" and succeeded == layers * width

    def workflow(layers: int, width: int) -> str:
        definition = layered(layers, width)
        record = WorkflowRecord(name=definition["name"], owner_id=owner, status=WorkflowStatus.ACTIVE)
        return runtime.store.create_workflow(record, definition).id

    try:
        _, ok = run(*WARM_UP, workflow(*WARM_UP))
        measurement.ok &= ok
        measurement.notes.append(f"start + warm-up {time.perf_counter() - started:.2f} s")
        for size in sizes:
            workflow_id = workflow(*size)
            measurement.seconds[size] = []
            for _ in range(repeat):
                elapsed, ok = run(*size, workflow_id)
                measurement.seconds[size].append(elapsed)
                measurement.ok &= ok
    finally:
        runtime.stop()
    if not measurement.ok:
        measurement.error = "an execution did not complete with every step succeeded"
    return measurement


# -- peers --------------------------------------------------------------------------------------------------


def run_peer(peer: str, python: Path, sizes: list[tuple[int, int]], repeat: int, home: Path) -> Measurement:
    command = [str(python), str(PEER_SCRIPT), peer, "--sizes", ",".join(f"{a}x{b}" for a, b in sizes),
               "--repeat", str(repeat), "--home", str(home)]
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ORCHESTRATOR_", "POWERTOOLS_", "PREFECT_", "DAGSTER_"))}
    env.pop("VIRTUAL_ENV", None)
    launched = time.time()
    try:
        completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=PEER_TIMEOUT)
    except subprocess.TimeoutExpired:
        return Measurement(peer, "?", ok=False, error=f"no result within {PEER_TIMEOUT:.0f} s")
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    try:
        report = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = "\n".join((completed.stderr or completed.stdout).strip().splitlines()[-15:])
        return Measurement(peer, "?", ok=False,
                           error=f"exit status {completed.returncode}, no report; its last output:\n{tail}")
    measurement = Measurement(peer, f"{peer} {report['version']}", ok=bool(report["ok"]))
    measurement.notes.append(f"interpreter start-up {report['process_started'] - launched:.2f} s")
    measurement.notes.append(f"import {report['import_seconds']:.2f} s")
    measurement.notes.append(f"warm-up run {report['warm_up_seconds']:.2f} s"
                             + (" (starts the ephemeral API server, creates its database)" if peer == "prefect" else ""))
    for run in report["runs"]:
        size = (run["layers"], run["width"])
        measurement.seconds[size] = run["seconds"]
        if "recorded_seconds" in run:
            measurement.recorded[size] = run["recorded_seconds"]
    if not measurement.ok:
        tail = "\n".join(completed.stderr.strip().splitlines()[-15:])
        measurement.error = f"not every step succeeded; its last output:\n{tail}"
    return measurement


# -- report -------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sizes", default=None, help="LAYERSxWIDTH, comma separated (default 10x10,10x50)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per size and engine (default 3)")
    parser.add_argument("--quick", action="store_true", help="3x3, one timed run: a smoke check")
    parser.add_argument("--peers", default=",".join(PEERS), help="which peers, comma separated")
    parser.add_argument("--peers-python", type=Path, default=PEERS_PYTHON, help="the peers venv's python")
    args = parser.parse_args(argv)
    sizes = parse_sizes(args.sizes or ("3x3" if args.quick else "10x10,10x50"))
    repeat = args.repeat or (1 if args.quick else 3)
    peers = [peer for peer in args.peers.split(",") if peer]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        parser.error(f"unknown peers: {', '.join(unknown)}")

    print(f"benchmarks/peers.py: Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}; "
          f"layered DAG {', '.join(f'{a}x{b}' for a, b in sizes)} (layers x width), median of {repeat} run(s); "
          f"load average {os.getloadavg()[0]:.2f} (other work on this machine skews every figure)")
    scratch = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    results: list[Measurement] = []
    try:
        results.append(run_ours(sizes, repeat, scratch / "orchestrator-home"))
        peers_missing = not args.peers_python.exists()
        if not peers_missing:
            for peer in peers:
                results.append(run_peer(peer, args.peers_python, sizes, repeat, scratch / f"{peer}-home"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    ours = results[0]
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print()
    for measurement in results:
        print(f"{measurement.engine}: {measurement.version}; {'; '.join(measurement.notes)}")
        if measurement.error:
            print(f"  FAILED: {measurement.error}")
        for size, seconds in measurement.seconds.items():
            steps = size[0] * size[1]
            line = (f"  {size[0]}x{size[1]} ({steps} steps): {measurement.median(size):.3f} s, "
                    f"{measurement.per_step_ms(size):.2f} ms/step")
            if measurement is not ours and size in ours.seconds:
                line += f", ratio {measurement.per_step_ms(size) / ours.per_step_ms(size):.1f}x ours"
            print(line + f"  (runs: {', '.join(f'{value:.3f}' for value in seconds)})")
            if size in measurement.recorded:
                recorded = statistics.median(measurement.recorded[size])
                print(f"    until its database held every task run as completed: {recorded:.3f} s, "
                      f"{recorded * 1000 / steps:.2f} ms/step, ratio "
                      f"{recorded * 1000 / steps / ours.per_step_ms(size):.1f}x ours")
    print()
    if peers_missing:
        print(f"peers venv missing ({args.peers_python}): run `make bench-peers` "
              "(or `bash benchmarks/peers/install.sh`) to compare with Prefect 3 and Dagster; no goal checked")
        return 0 if ours.ok else 1

    prefect = next((m for m in results if m.engine == "prefect"), None)
    if prefect is not None:
        if prefect.ok and ours.ok and prefect.seconds:
            ratios = {size: prefect.per_step_ms(size) / ours.per_step_ms(size) for size in sizes}
            worst = min(ratios.values())
            verdict = "PASS" if worst >= GOAL_RATIO else "FAIL"
            print(f"goal: per step at least {GOAL_RATIO:.0f}x faster than Prefect 3's flow with tasks, durable vs "
                  f"durable: {verdict} ({', '.join(f'{a}x{b} {r:.1f}x' for (a, b), r in ratios.items())})")
            print(f"ratio_vs_prefect={worst:.1f}")
        else:
            print("goal: per step at least 20x faster than Prefect 3's flow with tasks: not measured (a run failed)")
    return 0 if all(measurement.ok for measurement in results) else 1


if __name__ == "__main__":
    sys.exit(main())
