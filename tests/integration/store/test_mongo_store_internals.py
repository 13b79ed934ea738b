"""MongoDB specifics the contract cannot see (run on mongomock): interrupted versioned writes, blob chunks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from orchestrator.adapters.mongo import MongoStore, data_plane
from orchestrator.domain.records import WorkflowRecord

mongomock = pytest.importorskip("mongomock")


@pytest.fixture
def store() -> Iterator[MongoStore]:
    client = mongomock.MongoClient(tz_aware=True)
    name = f"internals_{uuid.uuid4().hex[:12]}"
    opened = MongoStore(client.get_database(name))
    opened.ensure_indexes()
    yield opened
    client.drop_database(name)


def test_a_versioned_write_interrupted_after_its_commit_point_is_finished_by_the_next_reader(
    store: MongoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an update whose process dies right after the workflow document was updated
    workflow = store.create_workflow(WorkflowRecord(name="w", owner_id="alice"), {"steps": [1]})
    monkeypatch.setattr(MongoStore, "_publish_pending_version", lambda self, workflow_id: None)
    store.update_workflow(workflow.id, definition={"steps": [2]})
    monkeypatch.undo()
    assert store._collections.workflow_versions.count_documents({"workflow_id": workflow.id}) == 1
    # When anyone reads the version the record points at
    current = store.get_workflow(workflow.id)
    assert current is not None and current.current_version == 2
    version = store.get_workflow_version(workflow.id, 2)
    # Then it is there, as written, and later updates carry on from it
    assert version is not None and version.definition == {"steps": [2]}
    assert store.update_workflow(workflow.id, definition={"steps": [3]}).current_version == 3
    assert [v.version for v in store.list_workflow_versions(workflow.id)] == [1, 2, 3]
    assert store._collections.workflows.count_documents({"pending_version": {"$exists": True}}) == 0


def test_large_blobs_are_chunked_and_overwrites_leave_no_old_chunks(
    store: MongoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data_plane, "BLOB_CHUNK_BYTES", 10)
    ref = store.blobs.put("k", bytes(range(95)))
    assert store._collections.blob_chunks.count_documents({"key": "k"}) == 10
    assert store.blobs.get(ref) == bytes(range(95))
    store.blobs.put("k", b"0123456789abc")
    assert store._collections.blob_chunks.count_documents({"key": "k"}) == 2
    assert store.blobs.get(ref) == b"0123456789abc"


def test_payloads_with_mongo_reserved_keys_are_stored_safely(store: MongoStore) -> None:
    definition = {"$schema": "x", "States": {"A": {"Parameters": {"a.$": "$.b"}}}, "big": 2**70}
    workflow = store.create_workflow(WorkflowRecord(name="w", owner_id="alice"), definition)
    assert store.get_workflow_version(workflow.id, 1).definition == definition  # type: ignore[union-attr]


def test_unique_indexes_exist_for_every_identity(store: MongoStore) -> None:
    unique = {
        (collection, tuple(key for key, _ in info["key"]))
        for collection in ("workflows", "executions", "api_keys", "workflow_versions", "step_executions")
        for info in store._collections.__getattribute__(collection).index_information().values()
        if info.get("unique")
    }
    assert {
        ("workflows", ("id",)),
        ("executions", ("id",)),
        ("api_keys", ("key_hash",)),
        ("workflow_versions", ("workflow_id", "version")),
        ("step_executions", ("execution_id", "step_id")),
    } <= unique
