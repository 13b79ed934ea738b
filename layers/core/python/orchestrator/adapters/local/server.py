"""`orchestrator serve`: the API, the worker pool, the schedule ticker and the reconciler, in one process."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import uvicorn
from fastapi import FastAPI

from orchestrator.adapters.local.runtime import LocalRuntime, get_local_runtime
from orchestrator.adapters.local.ticker import Ticker
from orchestrator.api.app import create_app
from orchestrator.api.auth import ensure_admin_key
from orchestrator.observability import logger
from orchestrator.services.notifier import get_notifier
from orchestrator.services.reconciler import reconcile
from orchestrator.services.triggers import TriggerService
from orchestrator.settings import Settings


@dataclass
class LocalServer:
    settings: Settings
    runtime: LocalRuntime = field(init=False)
    triggers: TriggerService = field(init=False)
    app: FastAPI = field(init=False)
    #: the admin key generated on first start (None when one was configured or already existed)
    generated_admin_key: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.runtime = get_local_runtime()
        store, executions = self.runtime.store, self.runtime.executions
        self.triggers = TriggerService(store, executions,
                                       misfire_grace=timedelta(seconds=self.settings.misfire_grace_seconds))
        self.app = create_app(store, executions, self.settings, trigger_service=self.triggers,
                              notifier=get_notifier())
        self._tickers = [
            Ticker(lambda now: self.triggers.run_due(now), interval=self.settings.schedule_tick_seconds,
                   name="triggers"),
            Ticker(lambda now: self._reconcile(), interval=self.settings.reconcile_seconds, name="reconciler"),
        ]

    def _reconcile(self) -> None:
        reconcile(self.runtime.store, self.runtime.executions, self.runtime.machines,
                  queued_timeout_seconds=self.settings.queued_timeout_seconds)

    def start(self) -> None:
        self.generated_admin_key = ensure_admin_key(self.runtime.store, self.settings)
        self.runtime.start()
        for ticker in self._tickers:
            ticker.start()

    def stop(self) -> None:
        for ticker in self._tickers:
            ticker.stop(timeout=5)
        self.runtime.stop()

    def serve_forever(self) -> None:
        """Blocks until interrupted (Ctrl-C / SIGTERM), then stops everything."""
        config = uvicorn.Config(self.app, host=self.settings.host, port=self.settings.port, log_level="warning",
                                access_log=False)
        try:
            uvicorn.Server(config).run()
        finally:
            logger.info("local server stopping")
            self.stop()
