"""Blobs as files under the orchestrator home directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.adapters.blob_errors import BlobRefError
from orchestrator.adapters.local.file_blobs import FileBlobs


def test_put_then_get_round_trip(tmp_path: Path):
    # Given a blob store / When a payload is stored under a nested key
    blobs = FileBlobs(tmp_path / "blobs")
    ref = blobs.put("exec-1/fetch/output.json", b'{"big": true}')
    # Then the reference is a file:// URI inside the store, and reads back the bytes
    assert ref.startswith("file://") and "exec-1/fetch/output.json" in ref
    assert blobs.get(ref) == b'{"big": true}'


def test_default_root_is_the_orchestrator_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from orchestrator.settings import get_settings

    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        assert FileBlobs().root == (tmp_path / "home" / "blobs").resolve()
    finally:
        get_settings.cache_clear()


def test_overwrite_is_atomic_and_leaves_no_temp_files(tmp_path: Path):
    # Given a stored blob / When overwritten / Then the new content is there and no temp file remains
    blobs = FileBlobs(tmp_path)
    blobs.put("k", b"old")
    ref = blobs.put("k", b"new" * 1000)
    assert blobs.get(ref) == b"new" * 1000
    assert os.listdir(tmp_path) == ["k"]


def test_failed_write_keeps_the_old_blob(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Given a stored blob and a rename that fails mid-write
    blobs = FileBlobs(tmp_path)
    ref = blobs.put("k", b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    # When overwriting / Then the error surfaces, the old content stays, and the temp file is cleaned up
    with pytest.raises(OSError, match="disk full"):
        blobs.put("k", b"new")
    assert blobs.get(ref) == b"old" and os.listdir(tmp_path) == ["k"]


@pytest.mark.parametrize("key", ["../escape", "/abs/path", "a/../../b", "", ".", "a\\b"])
def test_keys_cannot_leave_the_store(tmp_path: Path, key: str):
    with pytest.raises(BlobRefError):
        FileBlobs(tmp_path / "blobs").put(key, b"x")


def test_references_outside_the_store_are_refused(tmp_path: Path):
    # Given a file outside the blob directory / When a reference names it / Then refused
    (tmp_path / "secret.txt").write_text("no")
    blobs = FileBlobs(tmp_path / "blobs")
    for ref in [(tmp_path / "secret.txt").as_uri(), "file:///etc/passwd", "file://otherhost/x",
                "s3://bucket/key", (tmp_path / "blobs" / ".." / "secret.txt").as_uri()]:
        with pytest.raises(BlobRefError):
            blobs.get(ref)


def test_missing_blob_is_a_key_error(tmp_path: Path):
    blobs = FileBlobs(tmp_path)
    with pytest.raises(KeyError):
        blobs.get((tmp_path / "nothing").as_uri())


def test_keys_with_spaces_and_unicode_round_trip(tmp_path: Path):
    blobs = FileBlobs(tmp_path)
    ref = blobs.put("数据 处理/out put.json", b"1")
    assert blobs.get(ref) == b"1"
