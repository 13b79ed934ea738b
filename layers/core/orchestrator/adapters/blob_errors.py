"""The error every Blobs adapter raises for a key or reference that is not one of its own."""

from __future__ import annotations


class BlobRefError(ValueError):
    """A key or reference that does not name a blob of this store (wrong scheme, bucket or directory)."""
