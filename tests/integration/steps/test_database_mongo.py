"""The database step's MongoDB operations: on mongomock in-process (the client factory patched) always,
and on a real server when MONGODB_URI is set (none can be installed on these machines)."""

from __future__ import annotations

import datetime as dt
import os
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import mongomock
import pytest
from bson import ObjectId

from orchestrator.steps import db_connections
from orchestrator.steps.base import StepContext, StepError
from orchestrator.steps.database import DatabaseConfig, DatabaseExecutor

MONGODB_URI = os.environ.get("MONGODB_URI")


@pytest.fixture(params=["mongomock", "real"])
def mongo(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The database the step will use (a fresh one per test), behind the connection `main_db`."""
    name = f"orchestrator_test_{uuid.uuid4().hex[:12]}"
    if request.param == "mongomock":
        monkeypatch.setattr(db_connections, "mongo_client_factory", lambda url, timeout: mongomock.MongoClient(url))
        # the egress check resolves the seed host before the (fake) client is used
        monkeypatch.setattr(db_connections, "resolver", lambda host, port: ["127.0.0.1"])
        url = f"mongodb://mock.invalid:27017/{name}"
    else:
        if not MONGODB_URI:
            pytest.skip("MONGODB_URI is not set: no MongoDB server here (it cannot be installed on these machines)")
        # the same server, a database of our own: replace the URL's path, keep hosts and options
        url = urllib.parse.urlsplit(MONGODB_URI)._replace(path=f"/{name}").geturl()
    monkeypatch.setenv("ORCHESTRATOR_DB_MAIN_DB", url)
    client = db_connections.mongo_client(url, 5.0)
    yield client[name]
    client.drop_database(name)
    db_connections.reset()


def run(inputs: dict[str, Any] | None = None, **config: Any) -> dict[str, Any]:
    ctx = StepContext(execution_id="exec-1", step_id="mongo", trusted=True)  # the operator's connection
    full = {"connection": "main_db", **config}
    return DatabaseExecutor().execute(DatabaseConfig.model_validate(full), inputs or {}, ctx).output


def test_insert_then_find_with_filter_projection_sort_limit(mongo: Any) -> None:
    # Given three documents inserted by the step (one, then many from the inputs)
    one = run(operation="insert", collection="items", data={"name": "a", "price": 3})
    many = run(inputs={"data": [{"name": "b", "price": 1}, {"name": "c", "price": 2}]},
               operation="insert", collection="items")
    # When the step finds the cheapest two, without _id
    found = run(operation="find", collection="items", filter={"price": {"$gte": 1}}, projection={"_id": 0},
                sort={"price": 1}, max_rows=2)
    # Then inserts report ObjectIds as text, and the find honours filter, projection, sort and limit
    assert one["inserted"] == 1 and ObjectId.is_valid(one["inserted_ids"][0])
    assert many["inserted"] == 2
    assert found == {"documents": [{"name": "b", "price": 1}, {"name": "c", "price": 2}], "count": 2}


def test_object_ids_and_dates_are_json_safe_and_extended_json_is_understood(mongo: Any) -> None:
    # Given a document with an ObjectId and a datetime
    oid = ObjectId()
    mongo["items"].insert_one({"_id": oid, "at": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)})
    # When the step finds it by Extended JSON ($oid)
    found = run(operation="find", collection="items", filter={"_id": {"$oid": str(oid)}})
    # Then the output is plain JSON: the id as hex text, the date as ISO text
    [document] = found["documents"]
    assert document["_id"] == str(oid)
    assert document["at"].startswith("2024-05-01T12:00:00")


def test_update_one_and_many_with_upsert(mongo: Any) -> None:
    # Given three documents
    mongo["items"].insert_many([{"k": 1, "v": 0}, {"k": 1, "v": 0}, {"k": 2, "v": 0}])
    # When one, then many, then an upsert are updated
    first = run(operation="update", collection="items", filter={"k": 1}, update={"$set": {"v": 1}})
    every = run(operation="update", collection="items", filter={"k": 1}, update={"$inc": {"v": 10}}, many=True)
    upsert = run(operation="update", collection="items", filter={"k": 3}, update={"$set": {"v": 5}}, upsert=True)
    # Then the counts say so
    assert (first["matched"], first["modified"]) == (1, 1)
    assert (every["matched"], every["modified"]) == (2, 2)
    assert upsert["matched"] == 0 and ObjectId.is_valid(upsert["upserted_id"])


def test_delete_needs_an_explicit_filter(mongo: Any) -> None:
    # Given documents
    mongo["items"].insert_many([{"k": 1}, {"k": 1}, {"k": 2}])
    # When delete runs without a filter
    with pytest.raises(StepError) as caught:
        run(operation="delete", collection="items", many=True)
    # Then it is refused rather than deleting everything
    assert caught.value.error == "Database.InvalidRequest" and "filter" in caught.value.cause
    # And with filters it deletes one, then many
    assert run(operation="delete", collection="items", filter={"k": 1})["deleted"] == 1
    assert run(operation="delete", collection="items", filter={}, many=True)["deleted"] == 2


def test_aggregate_pipeline(mongo: Any) -> None:
    # Given sales
    mongo["sales"].insert_many([{"region": "n", "amount": 5}, {"region": "n", "amount": 7},
                                {"region": "s", "amount": 1}])
    # When the step aggregates them, the pipeline coming from the inputs
    pipeline = [{"$group": {"_id": "$region", "total": {"$sum": "$amount"}}}, {"$sort": {"_id": 1}}]
    output = run(inputs={"pipeline": pipeline}, operation="aggregate", collection="sales")
    # Then the grouped documents come back
    assert output == {"documents": [{"_id": "n", "total": 12}, {"_id": "s", "total": 1}], "count": 2}


def test_duplicate_key_is_a_constraint_error(mongo: Any) -> None:
    # Given a unique index and a document
    mongo["users"].create_index("email", unique=True)
    run(operation="insert", collection="users", data={"email": "a@example.com"})
    # When the same email is inserted again
    with pytest.raises(StepError) as caught:
        run(operation="insert", collection="users", data={"email": "a@example.com"})
    # Then it is a constraint error, not retryable
    assert caught.value.error == "Database.Constraint" and not caught.value.retryable


def test_sql_operation_on_a_mongo_connection_is_refused(mongo: Any) -> None:
    with pytest.raises(StepError) as caught:
        run(operation="query", sql="SELECT 1")
    assert caught.value.error == "Database.WrongOperation"


def test_unreachable_server_is_retryable_and_hides_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a real client pointed at a closed port, with a password in the URL
    from support.local_http import closed_port

    password = "Mongo-Pa55-word"
    monkeypatch.setenv("ORCHESTRATOR_DB_MAIN_DB", f"mongodb://app:{password}@127.0.0.1:{closed_port()}/app")
    # When a step runs with a short timeout
    with pytest.raises(StepError) as caught:
        run(operation="find", collection="items", timeout="300ms")
    db_connections.reset()
    # Then it is retryable (a timeout or a connection failure) and the password is not shown
    assert caught.value.error in ("Database.Timeout", "Database.Connection") and caught.value.retryable
    assert password not in caught.value.cause
