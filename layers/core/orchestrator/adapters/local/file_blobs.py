"""Blobs as files under ``<ORCHESTRATOR_HOME>/blobs`` for the local engine; references are ``file://`` URIs.

Writes are atomic (a temporary file in the same directory, fsynced, then renamed over the target), so a
reader never sees half a blob, even if the process dies mid-write. Keys and references are confined
to the blob directory: a key with ``..`` or an absolute path, or a ``file://`` reference elsewhere, is
refused, because references travel through state machine payloads that a user can influence.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from orchestrator.adapters.blob_errors import BlobRefError
from orchestrator.settings import get_settings


class FileBlobs:
    def __init__(self, root: Path | None = None) -> None:
        self.root = (root if root is not None else get_settings().home / "blobs").resolve()

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not key or key.startswith("/") or "\\" in key or any(p in ("..", ".") for p in parts) or "\0" in key:
            raise BlobRefError(f"blob key {key!r} must be a relative path without '..'")
        path = (self.root / Path(*parts)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise BlobRefError(f"blob key {key!r} leaves the blob directory {self.root}")
        return path

    def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return path.as_uri()

    def get(self, ref: str) -> bytes:
        parsed = urlsplit(ref)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            raise BlobRefError(f"{ref!r} is not a file:// blob reference")
        path = Path(unquote(parsed.path)).resolve()
        if not path.is_relative_to(self.root):
            raise BlobRefError(f"blob reference {ref!r} is outside the blob directory {self.root}")
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise KeyError(f"blob {ref!r} does not exist") from None
