"""Blobs as S3 objects, with moto's mock_aws standing in for S3."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from orchestrator.adapters.aws.s3_blobs import S3Blobs
from orchestrator.adapters.blob_errors import BlobRefError

BUCKET = "orchestrator-blobs-test"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_put_then_get_round_trip(s3):
    # Given an S3 blob store with a prefix / When a payload is stored
    blobs = S3Blobs(BUCKET, prefix="blobs/", client=s3)
    ref = blobs.put("exec-1/fetch.json", b'{"rows": 3}')
    # Then the reference is s3://bucket/prefix+key, the object exists, and it reads back
    assert ref == f"s3://{BUCKET}/blobs/exec-1/fetch.json"
    assert s3.get_object(Bucket=BUCKET, Key="blobs/exec-1/fetch.json")["Body"].read() == b'{"rows": 3}'
    assert blobs.get(ref) == b'{"rows": 3}'


def test_default_client(s3):
    blobs = S3Blobs(BUCKET)
    assert blobs.get(blobs.put("k", b"v")) == b"v"


@pytest.mark.parametrize("ref", ["s3://other-bucket/blobs/k", f"s3://{BUCKET}/elsewhere/k", "file:///etc/passwd",
                                 f"s3://{BUCKET}/"])
def test_references_outside_the_store_are_refused(s3, ref: str):
    with pytest.raises(BlobRefError):
        S3Blobs(BUCKET, prefix="blobs/", client=s3).get(ref)


def test_missing_object_is_a_key_error(s3):
    with pytest.raises(KeyError):
        S3Blobs(BUCKET, client=s3).get(f"s3://{BUCKET}/absent")
