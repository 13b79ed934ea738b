"""MongoDB adapter: the store of the serverless deployment (pymongo)."""

from orchestrator.adapters.mongo.store import MongoStore

__all__ = ["MongoStore"]
