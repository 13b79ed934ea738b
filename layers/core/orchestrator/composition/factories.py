"""Cached factories: which adapters run is configuration (Settings), chosen once per process.

Handlers and services ask these for their ports. On the local engine the state machines and the queue
are the in-process ones of the LocalRuntime, so a handler invoked by the local interpreter talks to the
same interpreter, queue and store as the server around it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from orchestrator.ports.blobs import Blobs
from orchestrator.services.notifier import get_notifier
from orchestrator.services.step_runner import StepRunnerPorts
from orchestrator.settings import Settings, get_settings

if TYPE_CHECKING:
    from orchestrator.ports.state_machines import StateMachines
    from orchestrator.services.executions import ExecutionService
    from orchestrator.services.pause_gate import PauseGatePorts
    from orchestrator.services.plan_reader import PlanReader


#: where S3Blobs keeps step outputs in the blob bucket (template.yaml's lifecycle rule expires them there)
BLOB_PREFIX = "step-outputs/"


@lru_cache(maxsize=1)
def get_step_runner_ports() -> StepRunnerPorts:
    return build_step_runner_ports(get_settings(), get_blobs())


def build_step_runner_ports(settings: Settings, blobs: Blobs | None = None) -> StepRunnerPorts:
    from orchestrator.composition.secrets import get_secret_resolver
    from orchestrator.composition.store import get_store
    from orchestrator.services.step_sync import StoreExecutionControl, StoreStepObserver

    store = get_store(settings)
    return StepRunnerPorts(
        results=store.step_results,
        blobs=blobs if blobs is not None else build_blobs(settings),
        secrets=get_secret_resolver(),
        inline_limit=settings.blob_threshold_bytes,
        control=StoreExecutionControl(store),
        observer=StoreStepObserver(store, get_notifier()),
    )


@lru_cache(maxsize=1)
def get_blobs() -> Blobs:
    """The process's blob storage: where the step runner puts large step outputs and where the API reads
    them back. Both must agree, or an output stored as ``s3://...`` cannot be read (tests that change the
    settings or close the stores clear this cache too)."""
    return build_blobs(get_settings())


def build_blobs(settings: Settings) -> Blobs:
    """S3 when ``blob_bucket`` is set (the cloud: ORCHESTRATOR_BLOB_BUCKET), else the store's own blobs."""
    if settings.blob_bucket:
        from orchestrator.adapters.aws.s3_blobs import S3Blobs

        return S3Blobs(settings.blob_bucket, prefix=BLOB_PREFIX, region=settings.aws_region)
    from orchestrator.composition.store import get_store

    return get_store(settings).blobs


@lru_cache(maxsize=1)
def get_state_machines() -> StateMachines:
    settings = get_settings()
    if settings.engine == "aws":
        from orchestrator.adapters.aws.step_functions import StepFunctionsStateMachines

        return StepFunctionsStateMachines.from_settings(settings)
    from orchestrator.composition.runtime import get_local_runtime

    return get_local_runtime().machines


@lru_cache(maxsize=1)
def get_pause_gate_ports() -> PauseGatePorts:
    from orchestrator.composition.store import get_store
    from orchestrator.services.pause_gate import PauseGatePorts
    from orchestrator.services.step_sync import StoreExecutionControl

    store = get_store(get_settings())
    return PauseGatePorts(store.step_results, StoreExecutionControl(store), get_state_machines())


@lru_cache(maxsize=1)
def get_execution_service() -> ExecutionService:
    """The control plane's use cases with this process's adapters (SQS + Step Functions in the cloud)."""
    return build_execution_service(get_settings())


def build_execution_service(settings: Settings) -> ExecutionService:
    if settings.engine != "aws":
        from orchestrator.composition.runtime import get_local_runtime

        return get_local_runtime().executions
    from orchestrator.adapters.aws.sqs_queue import SqsQueue
    from orchestrator.composition.store import get_store
    from orchestrator.services.executions import ExecutionService

    return ExecutionService(get_store(settings), SqsQueue.from_settings(settings), get_state_machines(),
                            settings.workflow_state_machine, get_notifier(), **execution_limits(settings))


def execution_limits(settings: Settings) -> dict[str, Any]:
    """What every ExecutionService of this process is configured with, whatever its adapters."""
    return {
        "max_concurrent": settings.max_concurrent,
        "max_concurrent_per_workflow": settings.max_concurrent_per_workflow,
        "max_concurrent_per_owner": settings.max_concurrent_per_owner,
        "steps_per_execution": settings.steps_per_execution,
    }


@lru_cache(maxsize=1)
def get_plan_reader() -> PlanReader:
    """Shares the step runner's parsed contexts: in one process (the local engine) both read the same."""
    from orchestrator.services.plan_reader import PlanReader

    prepared = get_step_runner_ports().prepared
    assert prepared is not None
    return PlanReader(prepared)
