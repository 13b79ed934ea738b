"""Blobs as S3 objects; references are ``s3://bucket/key`` URIs.

Only references into this adapter's bucket (and under its prefix) are read: references travel through
state machine payloads, and the function's role may read other buckets that a workflow must not reach.
The client is made on first use (see ``clients.py``): the ApiFunction builds this adapter at cold start
and most of its requests never read a blob.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import LazyClient
from orchestrator.adapters.blob_errors import BlobRefError


class S3Blobs:
    def __init__(self, bucket: str, prefix: str = "", client: Any = None, *, region: str | None = None) -> None:
        if not bucket:
            raise ValueError("S3Blobs needs a bucket name")
        self.bucket = bucket
        self.prefix = prefix
        self._s3 = LazyClient("s3", region=region, client=client)

    def put(self, key: str, data: bytes) -> str:
        if not key or key.startswith("/"):
            raise BlobRefError(f"blob key {key!r} must be a non-empty relative key")
        object_key = f"{self.prefix}{key}"
        self._s3.get().put_object(Bucket=self.bucket, Key=object_key, Body=data)
        return f"s3://{self.bucket}/{object_key}"

    def get(self, ref: str) -> bytes:
        if not ref.startswith("s3://"):
            raise BlobRefError(f"{ref!r} is not an s3:// blob reference")
        bucket, _, object_key = ref.removeprefix("s3://").partition("/")
        if bucket != self.bucket or not object_key.startswith(self.prefix) or not object_key:
            raise BlobRefError(f"blob reference {ref!r} is outside s3://{self.bucket}/{self.prefix}")
        try:
            response = self._s3.get().get_object(Bucket=bucket, Key=object_key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise KeyError(f"blob {ref!r} does not exist") from None
            raise
        return response["Body"].read()
