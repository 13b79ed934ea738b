"""Cached factories: which adapters run is configuration, chosen once per process."""

from __future__ import annotations

from functools import lru_cache

from orchestrator.ports.blobs import Blobs
from orchestrator.services.step_runner import StepRunnerPorts
from orchestrator.settings import Settings, get_settings


@lru_cache(maxsize=1)
def get_step_runner_ports() -> StepRunnerPorts:
    return build_step_runner_ports(get_settings())


def build_step_runner_ports(settings: Settings) -> StepRunnerPorts:
    from orchestrator.adapters.secrets_factory import get_secrets
    from orchestrator.adapters.store_factory import get_store

    store = get_store(settings)
    return StepRunnerPorts(store.step_results, _blobs(settings, store.blobs), get_secrets(), settings.blob_threshold_bytes)


def _blobs(settings: Settings, store_blobs: Blobs) -> Blobs:
    if settings.blob_bucket:
        from orchestrator.adapters.aws.s3_blobs import S3Blobs

        return S3Blobs(settings.blob_bucket, prefix="step-outputs/")
    return store_blobs
