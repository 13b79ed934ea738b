"""The engine of one-shot local commands (`orchestrator run`, `orchestrator asl run`)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from orchestrator.adapters.local.lambdas import LocalLambdas
from orchestrator.adapters.local.project import project_root
from orchestrator.adapters.local.sam_template import load_sam_template
from orchestrator.asl import Interpreter

if TYPE_CHECKING:
    from orchestrator.composition.local_engine import LocalEngine

#: `orchestrator run` keeps its runs here, under ORCHESTRATOR_HOME: not in serve's store, whose engine would
#: otherwise take a killed run over on its next start
RUNS_FILE_NAME = "runs.db"


@lru_cache(maxsize=1)
def local_engine() -> LocalEngine:
    """The engine of `orchestrator run`: durable (SQLite under ORCHESTRATOR_HOME), so a killed run continues
    with `orchestrator run --resume <execution id>`; ORCHESTRATOR_STORE=memory keeps runs in memory only."""
    # imported here: `orchestrator asl run` (local_interpreter) needs none of the store, settings or egress
    from orchestrator.adapters.local.memory import MemoryBlobs, MemoryStepResultStore
    from orchestrator.adapters.sqlite import SqliteStore
    from orchestrator.composition.local_engine import LocalEngine
    from orchestrator.composition.secrets import build_single_user_resolver
    from orchestrator.services.step_runner import StepRunnerPorts
    from orchestrator.settings import get_settings
    from orchestrator.steps import egress

    settings = get_settings()
    # the user runs their own workflow on their own machine: its steps may reach loopback and the private
    # network unless ORCHESTRATOR_EGRESS_ALLOW_PRIVATE says otherwise (`serve` and the cloud refuse them)
    egress.use_settings(egress.single_user(settings))
    secrets = build_single_user_resolver(settings)
    if settings.store == "memory":
        ports = StepRunnerPorts(MemoryStepResultStore(), MemoryBlobs(), secrets, settings.blob_threshold_bytes)
        return LocalEngine(ports, steps_per_execution=settings.steps_per_execution)
    home = settings.home.expanduser()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = SqliteStore(home / RUNS_FILE_NAME)
    ports = StepRunnerPorts(store.step_results, store.blobs, secrets, settings.blob_threshold_bytes)
    return LocalEngine(ports, checkpoints=store.checkpoints, location=str(home / RUNS_FILE_NAME),
                       steps_per_execution=settings.steps_per_execution)


@lru_cache(maxsize=1)
def local_interpreter() -> Interpreter:
    """An interpreter whose Lambda Tasks reach the project's functions by their ARNs in template.yaml."""
    lambdas = LocalLambdas(load_sam_template(project_root() / "template.yaml"))
    return Interpreter(invoke=lambdas.invoke)
