"""The interpreter's checkpoints, step results and blobs, in the same MongoDB database as the records."""

from __future__ import annotations

from typing import Any, cast

from bson.binary import Binary
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from orchestrator.adapters.mongo.collections import NO_MONGO_ID, Collections
from orchestrator.adapters.store_support.blob_refs import blob_key, blob_ref
from orchestrator.adapters.store_support.codec import dump_json, load_json
from orchestrator.domain.records import new_id, utcnow

#: well under MongoDB's 16 MB document limit; larger blobs are split over several chunk documents
BLOB_CHUNK_BYTES = 4 * 1024 * 1024
_CONSISTENT_READ_ATTEMPTS = 3


class MongoCheckpointStore:
    def __init__(self, collections: Collections) -> None:
        self._collections = collections

    def _reserve(self, execution_id: str, count: int) -> int:
        """First number of ``count`` new records of the execution's log (atomic $inc on its run)."""
        update = {"$inc": {"last_seq": count}, "$setOnInsert": {"finished": False, "created_at": utcnow()}}
        try:
            run = self._find_and_reserve(execution_id, update)
        except DuplicateKeyError:  # two first appends raced; the run exists now
            run = self._find_and_reserve(execution_id, update)
        return int(run["last_seq"]) - count + 1

    def _find_and_reserve(self, execution_id: str, update: dict[str, Any]) -> dict[str, Any]:
        # an upsert returning the document after it always returns one
        document = self._collections.checkpoint_runs.find_one_and_update(
            {"execution_id": execution_id}, update, upsert=True, return_document=ReturnDocument.AFTER
        )
        return cast("dict[str, Any]", document)

    def append(self, execution_id: str, records: list[dict[str, Any]]) -> None:
        encoded = [dump_json(record) for record in records]  # first: bad data writes nothing
        first_seq = self._reserve(execution_id, len(encoded))
        if encoded:
            self._collections.checkpoint_records.insert_many(
                [
                    {"execution_id": execution_id, "seq": first_seq + offset, "record": text}
                    for offset, text in enumerate(encoded)
                ]
            )

    def load(self, execution_id: str) -> list[dict[str, Any]]:
        documents = self._collections.checkpoint_records.find({"execution_id": execution_id}).sort("seq", 1)
        return [load_json(document["record"]) for document in documents]

    def unfinished(self) -> list[str]:
        runs = self._collections.checkpoint_runs.find({"finished": False}, {"execution_id": True}).sort(
            [("created_at", 1), ("execution_id", 1)]
        )
        return [run["execution_id"] for run in runs]

    def finish(self, execution_id: str, record: dict[str, Any]) -> None:
        # The terminal record is written before the run is marked finished: dying in between leaves an
        # execution that is resumed and finds its own end, never one that is lost.
        self.append(execution_id, [record])
        self._collections.checkpoint_runs.update_one(
            {"execution_id": execution_id}, {"$set": {"finished": True}}
        )


class MongoStepResultStore:
    def __init__(self, collections: Collections) -> None:
        self._collections = collections

    def put(self, execution_id: str, step_key: str, record: dict[str, Any]) -> None:
        key = {"execution_id": execution_id, "step_key": step_key}
        document = {**key, "record": dump_json(record)}
        try:
            self._collections.step_results.replace_one(key, document, upsert=True)
        except DuplicateKeyError:  # a concurrent first put won the insert; replace its record
            self._collections.step_results.replace_one(key, document, upsert=True)

    def get(self, execution_id: str, step_key: str) -> dict[str, Any] | None:
        document = self._collections.step_results.find_one(
            {"execution_id": execution_id, "step_key": step_key}
        )
        return None if document is None else load_json(document["record"])

    def all(self, execution_id: str) -> dict[str, dict[str, Any]]:
        documents = self._collections.step_results.find({"execution_id": execution_id}).sort("step_key", 1)
        return {document["step_key"]: load_json(document["record"]) for document in documents}


class MongoBlobs:
    """Blobs as chunks plus a header naming the current chunk set.

    A put writes a new chunk set, then switches the header to it in one atomic update (the commit
    point), then removes the old set. Readers follow the header, so they see one whole blob or another.
    """

    def __init__(self, collections: Collections) -> None:
        self._collections = collections

    def put(self, key: str, data: bytes) -> str:
        ref = blob_ref(key)
        version = new_id()
        chunks = [data[start : start + BLOB_CHUNK_BYTES] for start in range(0, len(data), BLOB_CHUNK_BYTES)]
        if chunks:
            self._collections.blob_chunks.insert_many(
                [
                    {"key": key, "version": version, "n": n, "data": Binary(chunk)}
                    for n, chunk in enumerate(chunks)
                ]
            )
        header = {"version": version, "size": len(data), "chunks": len(chunks), "created_at": utcnow()}
        previous = self._switch_header(key, header)
        if previous is not None:
            self._collections.blob_chunks.delete_many({"key": key, "version": previous["version"]})
        return ref

    def _switch_header(self, key: str, header: dict[str, Any]) -> dict[str, Any] | None:
        """Point the key at the new chunk set; returns the header it replaced (None for a new key)."""
        switch = {"$set": header}
        try:
            return self._collections.blobs.find_one_and_update(
                {"key": key}, switch, upsert=True, return_document=ReturnDocument.BEFORE
            )
        except DuplicateKeyError:  # a concurrent first put inserted the header: now this is an update
            return self._collections.blobs.find_one_and_update(
                {"key": key}, switch, upsert=True, return_document=ReturnDocument.BEFORE
            )

    def get(self, ref: str) -> bytes:
        key = blob_key(ref)
        for _ in range(_CONSISTENT_READ_ATTEMPTS):
            header = self._collections.blobs.find_one({"key": key}, NO_MONGO_ID)
            if header is None:
                raise KeyError(ref)
            chunks = self._collections.blob_chunks.find({"key": key, "version": header["version"]}).sort(
                "n", 1
            )
            data = b"".join(bytes(chunk["data"]) for chunk in chunks)
            if len(data) == header["size"]:
                return data
            # A concurrent put replaced the blob while we read its chunks: read the new one.
        raise RuntimeError(f"blob {ref!r} keeps changing while being read")
