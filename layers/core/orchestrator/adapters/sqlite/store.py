"""The SQLite store: the local engine's durable default, and (in memory) the store of one-shot runs."""

from __future__ import annotations

from pathlib import Path

from orchestrator.adapters.sqlite.api_keys import SqliteApiKeys
from orchestrator.adapters.sqlite.data_plane import SqliteBlobs, SqliteCheckpointStore, SqliteStepResultStore
from orchestrator.adapters.sqlite.database import IN_MEMORY, Database
from orchestrator.adapters.sqlite.executions import SqliteExecutions
from orchestrator.adapters.sqlite.secret_rows import SqliteSecretRows
from orchestrator.adapters.sqlite.stats import SqliteStats
from orchestrator.adapters.sqlite.steps import SqliteStepsAndLogs
from orchestrator.adapters.sqlite.triggers import SqliteTriggers
from orchestrator.adapters.sqlite.webhook_deliveries import SqliteWebhookDeliveries
from orchestrator.adapters.sqlite.workflows import SqliteWorkflows


class SqliteStore(
    SqliteWorkflows,
    SqliteTriggers,
    SqliteExecutions,
    SqliteStepsAndLogs,
    SqliteStats,
    SqliteApiKeys,
):
    """Implements ``orchestrator.ports.store.Store`` on one SQLite database file (or ``:memory:``)."""

    def __init__(self, path: Path | str, *, busy_timeout_seconds: float = 10.0) -> None:
        self._db = Database(path, busy_timeout_seconds=busy_timeout_seconds)
        self.checkpoints = SqliteCheckpointStore(self._db)
        self.step_results = SqliteStepResultStore(self._db)
        self.blobs = SqliteBlobs(self._db)
        self.webhook_deliveries = SqliteWebhookDeliveries(self._db)
        self.secrets = SqliteSecretRows(self._db)

    @classmethod
    def in_memory(cls) -> SqliteStore:
        """A private, non-durable database: the same behaviour as a file, gone with the process."""
        return cls(IN_MEMORY)

    @property
    def path(self) -> str:
        return self._db.path

    def close(self) -> None:
        self._db.close()
