"""`orchestrator serve`: the API in this process, the engine (interpreter, worker pool, schedule ticker,
reconciler) in a child process, both on the SQLite store under ORCHESTRATOR_HOME.

Two processes because one Python process runs on one core, however many threads it has: under load the
API and the workflows it starts would share it. See engine_link.py for what crosses between them.

One server per home: ``LocalServer`` first takes an exclusive lock on ``<home>/serve.lock`` (flock, held
until it stops or dies, kill -9 included: the kernel drops it with the process). A second server on the
same home gets ``HomeInUse`` before it touches anything (its engine would take over the first one's link
socket); the CLI says so in one line and exits with 2.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import uvicorn
from fastapi import FastAPI

from orchestrator.adapters.local.engine_link import (
    EngineLink,
    RemoteQueue,
    RemoteStateMachines,
    new_secret,
    socket_path,
)
from orchestrator.api.app import create_app
from orchestrator.api.auth import ensure_admin_key
from orchestrator.composition.engine_process import start_engine, stop_engine
from orchestrator.composition.factories import execution_limits
from orchestrator.composition.runtime import workflow_state_machine_arn
from orchestrator.composition.store import get_store
from orchestrator.composition.triggers import trigger_service_options
from orchestrator.observability import logger
from orchestrator.services.execution_events import EventStreamOptions
from orchestrator.services.executions import ExecutionService
from orchestrator.services.notifier import get_notifier
from orchestrator.services.triggers import TriggerService
from orchestrator.settings import Settings

#: the engine's changes reach this process through the store only: event streams look this often
EVENT_POLL_SECONDS = 0.25
#: how often the API process looks whether its engine still runs
ENGINE_CHECK_SECONDS = 1.0


#: the file under ORCHESTRATOR_HOME that the serving process holds locked (it holds that process's pid)
LOCK_FILE = "serve.lock"


class HomeInUse(RuntimeError):
    """Another process serves this home already."""

    def __init__(self, home: Path, pid: str) -> None:
        self.home = home
        self.pid = pid
        who = f"process {pid}" if pid else "another process"
        super().__init__(f"{home} is already served by {who}; stop it first, or give this server its own "
                         "ORCHESTRATOR_HOME")


def lock_home(home: Path) -> IO[str] | None:
    """The open, exclusively locked ``<home>/serve.lock`` (keep it open while serving; closing it unlocks);
    HomeInUse when another process holds it. None where flock does not exist (not POSIX)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle = (home / LOCK_FILE).open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        pid = handle.read(20).strip()
        handle.close()
        raise HomeInUse(home, pid) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


@dataclass
class LocalServer:
    settings: Settings
    app: FastAPI = field(init=False)
    executions: ExecutionService = field(init=False)
    #: the admin key generated on first start (None when one was configured or already existed)
    generated_admin_key: str | None = field(init=False, default=None)
    _engine: subprocess.Popen[bytes] | None = field(init=False, default=None)
    _stopping: threading.Event = field(init=False, default_factory=threading.Event)
    _engine_stopped: threading.Event = field(init=False, default_factory=threading.Event)
    _home_lock: IO[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._home_lock = lock_home(self.settings.home)  # HomeInUse: before anything touches the home
        self.store = get_store(self.settings)
        self._secret = new_secret()
        self.link = EngineLink(socket_path(self.settings.home), self._secret)
        self.executions = ExecutionService(
            self.store, RemoteQueue(self.link), RemoteStateMachines(self.link), workflow_state_machine_arn(),
            get_notifier(), **execution_limits(self.settings),
        )
        self.triggers = TriggerService(self.store, self.executions, **trigger_service_options(self.settings))
        self.app = create_app(self.store, self.executions, self.settings, trigger_service=self.triggers,
                              notifier=get_notifier(), event_stream=EventStreamOptions(poll_seconds=EVENT_POLL_SECONDS),
                              health_checks={"executor": self.engine_alive})

    def engine_alive(self) -> bool:
        """/health's executor check: the engine process runs (a dead one makes the server degraded)."""
        return self._engine is not None and self._engine.poll() is None

    def start(self) -> None:
        self.generated_admin_key = ensure_admin_key(self.store, self.settings)
        self._engine = start_engine(self.settings.home.resolve(), self._secret)
        threading.Thread(target=self._supervise, name="engine-supervisor", daemon=True).start()

    def _supervise(self) -> None:
        """An engine that died (a crash, the OOM killer) is started again: it resumes what it was running
        from the checkpoints, as after a restart of the whole server."""
        while not self._stopping.wait(ENGINE_CHECK_SECONDS):
            engine = self._engine
            if engine is None or engine.poll() is None:
                continue
            logger.error("the engine process exited; starting it again", extra={"exit_code": engine.returncode})
            try:
                self._engine = start_engine(self.settings.home.resolve(), self._secret)
            except RuntimeError:
                logger.exception("the engine process could not be started again")
        # an engine started here dies with this thread (PDEATHSIG follows the forking thread): stay until
        # stop() has shut it down gracefully
        self._engine_stopped.wait()

    def stop(self) -> None:
        self._stopping.set()
        self.link.close()
        if self._engine is not None:
            stop_engine(self._engine)
        self._engine_stopped.set()
        if self._home_lock is not None:
            with contextlib.suppress(OSError):
                self._home_lock.close()  # unlocks
            self._home_lock = None

    def bind(self) -> socket.socket:
        """The listening address, taken before anything starts: a busy port fails here (OSError), not after
        the engine is up and the server announced."""
        host = self.settings.host
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, self.settings.port))
        except OSError:
            sock.close()
            raise
        return sock

    def serve_forever(self, sock: socket.socket) -> None:
        """Serves on ``sock`` (from bind()) until interrupted (Ctrl-C / SIGTERM), then stops the engine too."""
        config = uvicorn.Config(self.app, log_level="warning", access_log=False)
        try:
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            logger.info("local server stopping")
            self.stop()
