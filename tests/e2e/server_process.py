"""`orchestrator serve` as a separate process on a free port, with its own home and admin key."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

PROJECT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """One `python -m orchestrator.cli serve`; start it again after ``kill()`` to restart on the same home."""

    home: Path
    admin_key: str
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    #: the server's stderr, appended across restarts (read it when a test fails)
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def client(self, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.headers, timeout=timeout)

    def start(self, ready_timeout: float = 30.0) -> ServerProcess:
        log_file = self.log_file or self.home.parent / "server.log"
        self._log = log_file.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "serve", "--port", str(self.port)],
            cwd=PROJECT,
            stdout=self._log,
            stderr=self._log,
            # scripts of these tests talk to them through host files, which a sandboxed script cannot see
            env={**os.environ, "ORCHESTRATOR_HOME": str(self.home), "ORCHESTRATOR_ADMIN_KEY": self.admin_key,
                 "ORCHESTRATOR_STORE": "sqlite", "ORCHESTRATOR_SCRIPT_SANDBOX": "none", **self.env},
        )
        self._wait_ready(ready_timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the server did not answer /health within {timeout}s:\n{self.log_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._close_log()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._close_log()

    def log_text(self) -> str:
        log_file = self.log_file or self.home.parent / "server.log"
        return log_file.read_text(errors="replace")[-5000:] if log_file.exists() else ""

    @classmethod
    @contextlib.contextmanager
    def running(cls, home: Path, admin_key: str) -> Iterator[ServerProcess]:
        """A started server, stopped when the block ends (module-scoped fixtures share one)."""
        server = cls(home=home, admin_key=admin_key).start()
        try:
            yield server
        finally:
            server.stop()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
