"""Forget everything this process has cached of its wiring: settings, stores, adapters, services.

The composition root caches what it builds, once per process (a Lambda's warm starts reuse it). Whoever
changes the configuration in a running process (tests; a harness that plays several Lambda functions in
one process) calls this, and the next use builds again from the environment.
"""

from __future__ import annotations


def forget_process_wiring() -> None:
    from orchestrator.composition import factories, local_run, runtime, secrets, triggers
    from orchestrator.composition.config_secrets import forget_config_secrets
    from orchestrator.composition.store import close_stores
    from orchestrator.settings import get_settings

    get_settings.cache_clear()
    for cached in (factories.get_step_runner_ports, factories.get_blobs, factories.get_state_machines,
                   factories.get_pause_gate_ports, factories.get_execution_service, factories.get_plan_reader,
                   secrets.get_secret_vault, secrets.get_secret_resolver, triggers.get_trigger_service,
                   runtime.get_local_runtime, local_run.local_engine, local_run.local_interpreter):
        cached.cache_clear()
    close_stores()
    forget_config_secrets()  # the MongoDB URI and the admin key, read from their secrets at start-up
