"""Cached factories: which adapters run is configuration, chosen once per process."""

from __future__ import annotations

from functools import lru_cache

from orchestrator.services.step_runner import StepRunnerPorts
from orchestrator.settings import Settings, get_settings


@lru_cache(maxsize=1)
def get_step_runner_ports() -> StepRunnerPorts:
    return build_step_runner_ports(get_settings())


def build_step_runner_ports(settings: Settings) -> StepRunnerPorts:
    from orchestrator.adapters.secrets_factory import get_secrets

    if settings.store == "memory":
        from orchestrator.adapters.local.memory import MemoryBlobs, MemoryStepResultStore

        return StepRunnerPorts(MemoryStepResultStore(), MemoryBlobs(), get_secrets(), settings.blob_threshold_bytes)
    raise NotImplementedError(f"store '{settings.store}' is not wired yet")
