"""Forget the process's cached wiring (settings, runtime, ports, stores), so the next use reads the
environment a test has just set. Importable as ``support.process_wiring``."""

from __future__ import annotations

from orchestrator.composition.reset import forget_process_wiring


def reset_process_wiring() -> None:
    forget_process_wiring()
