"""One peer's side of benchmarks/peers.py, run with the peers venv's python (.venv-peers/bin/python).

    .venv-peers/bin/python benchmarks/peers/run_peer.py prefect --sizes 10x10,10x50 --repeat 3 --home DIR

Builds the layered DAG (L layers x W no-op steps; each step waits for the step at the same position in the
layer above) on the peer, runs it once small to warm up (Prefect starts its ephemeral API server then),
then ``--repeat`` times per size, and prints one JSON line last on stdout: the version, the time this
process took to import the peer, the warm-up, and every timed run in seconds (wall time around the call
that runs the flow or job, inside this process). Exit status 1 if a run did not succeed.

Durable on both, as the peer documents it:

* Prefect: a flow whose tasks are the steps, submitted with ``wait_for`` on the upstream future (the
  default ThreadPoolTaskRunner), ``persist_result=True`` on the flow and the tasks (results written to
  local storage under PREFECT_HOME, default cache policy; every run passes a fresh token so that no run
  is served from an earlier run's cache), against Prefect's default ephemeral API: a server subprocess on
  loopback with its SQLite database in PREFECT_HOME. PREFECT_LOGGING_LEVEL=WARNING (no per-task INFO log
  lines to print or ship to the API: in Prefect's favour).
* Dagster: a job of ops (an op per step, a ``Nothing`` input for the dependency), run by
  ``execute_in_process`` (the in-process executor, Dagster's fastest) on a DagsterInstance in a temporary
  DAGSTER_HOME (SQLite run, event log and schedule storage), with the filesystem IO manager so that each
  op's output is persisted, like Prefect's results. Console logger at WARNING (in Dagster's favour).
"""

from __future__ import annotations

import time

PROCESS_STARTED = time.time()  # before any import that costs: the parent measures interpreter start-up to it

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared DAG
from layered_dag import parse_sizes  # noqa: E402

WARM_UP = (2, 2)
RECORD_TIMEOUT = 120.0


@dataclass
class Outcome:
    succeeded: int  # steps that succeeded
    returned: float  # perf_counter when the flow or job call returned
    recorded: float | None = None  # perf_counter when the peer's database held every step's end, if later



# -- Prefect ------------------------------------------------------------------------------------------------


def prefect_runner(home: Path) -> tuple[str, float, Callable[[int, int], Outcome]]:
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
    os.environ.pop("PREFECT_API_URL", None)  # the ephemeral server, never a configured one
    started = time.perf_counter()
    import prefect
    from prefect import flow, get_client, task
    from prefect.client.schemas.filters import (
        TaskRunFilter,
        TaskRunFilterFlowRunId,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.futures import wait

    imported = time.perf_counter() - started

    @task(persist_result=True)
    def step(number: int, token: str) -> int:
        return number

    @flow(persist_result=True)
    def layered_dag(layers: int, width: int, token: str) -> int:
        above: list[Any] = []
        futures: list[Any] = []
        for layer in range(layers):
            row = [
                step.submit(layer * width + position, token, wait_for=[above[position]] if above else None)
                for position in range(width)
            ]
            futures.extend(row)
            above = row
        wait(futures)
        return sum(1 for future in futures if future.state.is_completed())

    def recorded(flow_run_id: Any) -> int:
        """Task runs of the flow run that the API's database holds as Completed."""
        task_runs = TaskRunFilter(
            flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run_id]),
            state=TaskRunFilterState(type=TaskRunFilterStateType(any_=[StateType.COMPLETED])),
        )
        with get_client(sync_client=True) as client:
            response = client.request("POST", "/task_runs/count", json={"task_runs": task_runs.model_dump(mode="json")})
            response.raise_for_status()
            return int(response.json())

    def run(layers: int, width: int) -> Outcome:
        state = layered_dag(layers, width, uuid.uuid4().hex, return_state=True)
        returned = time.perf_counter()
        succeeded = int(state.result()) if state.is_completed() else 0
        # Prefect 3 records task run states in its database from events, after the fact: wait until all
        # are there (what a restart, the UI or the API would see), polling the API every 20 ms
        flow_run_id = state.state_details.flow_run_id
        deadline = returned + RECORD_TIMEOUT
        while recorded(flow_run_id) < layers * width and time.perf_counter() < deadline:
            time.sleep(0.02)
        in_database = time.perf_counter() if recorded(flow_run_id) >= layers * width else None
        return Outcome(succeeded, returned, in_database)

    return prefect.__version__, imported, run


# -- Dagster ------------------------------------------------------------------------------------------------


def dagster_runner(home: Path) -> tuple[str, float, Callable[[int, int], Outcome]]:
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    # default storage (SQLite files in DAGSTER_HOME); no telemetry: nothing leaves this machine
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    started = time.perf_counter()
    import dagster
    from dagster import (
        DagsterInstance,
        DependencyDefinition,
        FilesystemIOManager,
        GraphDefinition,
        In,
        NodeInvocation,
        Nothing,
        op,
    )

    imported = time.perf_counter() - started
    instance = DagsterInstance.get()  # SQLite storage in DAGSTER_HOME
    io_manager = FilesystemIOManager(base_dir=str(home / "storage"))

    @op(ins={"after": In(Nothing)})
    def step() -> int:
        return 1

    def run(layers: int, width: int) -> int:
        dependencies: dict[Any, dict[str, DependencyDefinition]] = {}
        for number in range(layers * width):
            layer, position = divmod(number, width)
            upstream = {"after": DependencyDefinition(f"s{number - width}")} if layer else {}
            dependencies[NodeInvocation("step", alias=f"s{number}")] = upstream
        graph = GraphDefinition(name=f"layered_{layers}x{width}", node_defs=[step], dependencies=dependencies)
        job = graph.to_job(resource_defs={"io_manager": io_manager})
        result = job.execute_in_process(
            instance=instance, raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        returned = time.perf_counter()
        if not result.success:
            return Outcome(0, returned)
        # the event log (SQLite) has every step's events by the time execute_in_process returns
        return Outcome(sum(1 for event in result.all_events if event.event_type_value == "STEP_SUCCESS"), returned)

    return dagster.__version__, imported, run


RUNNERS = {"prefect": prefect_runner, "dagster": dagster_runner}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peer", choices=sorted(RUNNERS))
    parser.add_argument("--sizes", default="10x10,10x50", help="LAYERSxWIDTH, comma separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--home", type=Path, required=True, help="the peer's home (its SQLite database, results)")
    args = parser.parse_args()

    version, imported, run = RUNNERS[args.peer](args.home)
    report: dict[str, Any] = {"peer": args.peer, "version": version, "python": sys.version.split()[0],
                              "process_started": PROCESS_STARTED, "import_seconds": imported, "runs": []}
    ok = True

    started = time.perf_counter()
    outcome = run(*WARM_UP)
    report["warm_up_seconds"] = time.perf_counter() - started
    ok &= outcome.succeeded == WARM_UP[0] * WARM_UP[1]

    for layers, width in parse_sizes(args.sizes):
        seconds, recorded = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            outcome = run(layers, width)
            seconds.append(outcome.returned - started)
            if outcome.recorded is not None:
                recorded.append(outcome.recorded - started)
            if outcome.succeeded != layers * width:
                ok = False
                print(f"{args.peer}: {layers}x{width}: {outcome.succeeded} of {layers * width} steps succeeded",
                      file=sys.stderr)
        entry: dict[str, Any] = {"layers": layers, "width": width, "seconds": seconds,
                                 "median_seconds": statistics.median(seconds)}
        if recorded:
            entry["recorded_seconds"] = recorded
            entry["median_recorded_seconds"] = statistics.median(recorded)
        report["runs"].append(entry)
    report["ok"] = ok
    sys.stdout.flush()
    print(json.dumps(report), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
