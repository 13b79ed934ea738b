"""The engine of one-shot local commands (`orchestrator run`, `orchestrator asl run`)."""

from __future__ import annotations

from functools import lru_cache

from orchestrator.adapters.local.lambdas import LocalLambdas
from orchestrator.adapters.local.memory import MemoryBlobs, MemoryStepResultStore
from orchestrator.adapters.local.project import project_root
from orchestrator.adapters.local.sam_template import load_sam_template
from orchestrator.asl import Interpreter
from orchestrator.composition.local_engine import LocalEngine
from orchestrator.composition.secrets import build_single_user_resolver
from orchestrator.services.step_runner import StepRunnerPorts
from orchestrator.settings import get_settings
from orchestrator.steps import egress


@lru_cache(maxsize=1)
def local_engine() -> LocalEngine:
    # one-shot runs keep their step results in memory; `orchestrator serve` keeps them in SQLite
    settings = get_settings()
    # the user runs their own workflow on their own machine: its steps may reach loopback and the private
    # network unless ORCHESTRATOR_EGRESS_ALLOW_PRIVATE says otherwise (`serve` and the cloud refuse them)
    egress.use_settings(egress.single_user(settings))
    ports = StepRunnerPorts(MemoryStepResultStore(), MemoryBlobs(), build_single_user_resolver(settings),
                            settings.blob_threshold_bytes)
    return LocalEngine(ports)


@lru_cache(maxsize=1)
def local_interpreter() -> Interpreter:
    """An interpreter whose Lambda Tasks reach the project's functions by their ARNs in template.yaml."""
    lambdas = LocalLambdas(load_sam_template(project_root() / "template.yaml"))
    return Interpreter(invoke=lambdas.invoke)
