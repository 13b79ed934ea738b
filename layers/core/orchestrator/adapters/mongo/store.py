"""The MongoDB store: the control plane's database on AWS (and wherever MONGODB_URI points)."""

from __future__ import annotations

from pymongo import MongoClient
from pymongo.database import Database

from orchestrator.adapters.mongo.api_keys import MongoApiKeys
from orchestrator.adapters.mongo.collections import Collections
from orchestrator.adapters.mongo.data_plane import MongoBlobs, MongoCheckpointStore, MongoStepResultStore
from orchestrator.adapters.mongo.executions import MongoExecutions
from orchestrator.adapters.mongo.secret_rows import MongoSecretRows
from orchestrator.adapters.mongo.stats import MongoStats
from orchestrator.adapters.mongo.steps import MongoStepsAndLogs
from orchestrator.adapters.mongo.triggers import MongoTriggers
from orchestrator.adapters.mongo.webhook_deliveries import MongoWebhookDeliveries
from orchestrator.adapters.mongo.workflows import MongoWorkflows

DEFAULT_DATABASE = "orchestrator"


class MongoStore(
    MongoWorkflows,
    MongoTriggers,
    MongoExecutions,
    MongoStepsAndLogs,
    MongoStats,
    MongoApiKeys,
):
    """Implements ``orchestrator.ports.store.Store`` on one MongoDB database.

    Call ``ensure_indexes()`` once at start-up: the unique indexes are part of the correctness
    (duplicate ids, concurrent upserts), not only of the speed.
    """

    def __init__(self, database: Database, *, client: MongoClient | None = None) -> None:
        self._collections = Collections.of(database)
        self._owned_client = client
        self.checkpoints = MongoCheckpointStore(self._collections)
        self.step_results = MongoStepResultStore(self._collections)
        self.blobs = MongoBlobs(self._collections)
        self.webhook_deliveries = MongoWebhookDeliveries(database)
        self.secrets = MongoSecretRows(database)

    @classmethod
    def from_uri(cls, uri: str, database_name: str | None = None) -> MongoStore:
        """The database named in the URI's path, else ``database_name``, else "orchestrator"."""
        # tz_aware: datetimes come back as aware UTC, as they were written.
        client: MongoClient = MongoClient(uri, tz_aware=True)
        database = client.get_default_database(default=database_name or DEFAULT_DATABASE)
        return cls(database, client=client)

    def ensure_indexes(self) -> None:
        self._collections.ensure_indexes()

    def close(self) -> None:
        if self._owned_client is not None:
            self._owned_client.close()
