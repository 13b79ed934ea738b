"""Forget the process's cached wiring (settings, runtime, ports, stores), so the next use reads the
environment a test has just set. Importable as ``support.process_wiring``."""

from __future__ import annotations

from orchestrator.composition import factories
from orchestrator.composition import runtime as runtime_module
from orchestrator.composition.store import close_stores
from orchestrator.settings import get_settings


def reset_process_wiring() -> None:
    get_settings.cache_clear()
    runtime_module.get_local_runtime.cache_clear()
    factories.get_step_runner_ports.cache_clear()
    factories.get_blobs.cache_clear()
    factories.get_state_machines.cache_clear()
    factories.get_pause_gate_ports.cache_clear()
    factories.get_plan_reader.cache_clear()
    close_stores()
