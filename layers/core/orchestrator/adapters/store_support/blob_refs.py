"""References to blobs kept inside the store (the local engine's and MongoDB's): ``store://blobs/<key>``."""

from __future__ import annotations

BLOB_REF_PREFIX = "store://blobs/"


def blob_ref(key: str) -> str:
    if not key:
        raise ValueError("a blob key must not be empty")
    return BLOB_REF_PREFIX + key


def blob_key(ref: str) -> str:
    """The key of a reference this store made; ValueError for any other reference (s3://, memory://)."""
    if not ref.startswith(BLOB_REF_PREFIX) or len(ref) == len(BLOB_REF_PREFIX):
        raise ValueError(f"not a reference to a blob in this store: {ref!r}")
    return ref.removeprefix(BLOB_REF_PREFIX)
