"""The link between `orchestrator serve`'s API process and its engine process.

The API and the engine share one SQLite store but not one interpreter: the engine process owns the ASL
interpreter, the worker pool and the tickers, so that serving requests and running workflows each get a
core (one Python process is one core, whatever its threads). What the API process's ExecutionService
must tell the engine travels here, over a Unix socket under ORCHESTRATOR_HOME with a per-start secret:

- ``RemoteQueue.send``: a new execution to dispatch. Fire-and-forget, like an SQS send; the execution is
  saved as queued first, so a lost message only waits for the engine's outbox scan (the store is the
  truth, the message a wake-up).
- ``RemoteStateMachines``: stop an execution, answer a pause gate's task token, describe an execution;
  request and reply, with the engine's ExecutionNotFound / TaskNotFound raised again on this side.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import tempfile
import threading
from collections.abc import Callable
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

from orchestrator.observability import logger
from orchestrator.ports.queue import QueueSendError
from orchestrator.ports.state_machines import (
    ExecutionDescription,
    ExecutionNotFound,
    StateMachines,
    TaskNotFound,
)

SOCKET_NAME = "engine.sock"
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS

#: the StateMachines port, served by the engine's interpreter
_REMOTE_CALLS = ("start_execution", "stop_execution", "send_task_success", "send_task_failure", "send_task_heartbeat",
                 "describe_execution")
_RAISED_AGAIN: dict[str, Callable[[str], Exception]] = {
    "ExecutionNotFound": ExecutionNotFound,
    "TaskNotFound": TaskNotFound,
}


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def socket_path(home: Path) -> Path:
    """In the home, unless that path is too long for a Unix socket (about 100 bytes): then in the temp dir,
    named after the home."""
    path = home.resolve() / SOCKET_NAME
    if len(os.fsencode(path)) < _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(home.resolve())).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"orchestrator-{digest}.sock"


# -- the engine's side --------------------------------------------------------------------------------------


class EngineLinkServer:
    """Answers the API process: one thread per connection (the API holds one or two)."""

    def __init__(self, path: Path, secret: bytes, send: Callable[[str, int], None], machines: StateMachines) -> None:
        path.unlink(missing_ok=True)  # a killed engine leaves its socket file behind
        self._listener = Listener(str(path), family="AF_UNIX", authkey=secret)
        self._send = send
        self._machines = machines
        self._thread = threading.Thread(target=self._accept, name="engine-link", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                connection = self._listener.accept()
            except (OSError, EOFError):
                return  # closed
            except Exception:  # a peer without the secret: refuse it, keep listening
                logger.warning("engine link: refused a connection", exc_info=True)
                continue
            threading.Thread(target=self._serve, args=(connection,), name="engine-link-peer", daemon=True).start()

    def _serve(self, connection: Connection) -> None:
        with connection:
            while True:
                try:
                    request = connection.recv()
                except (EOFError, OSError):
                    return
                kind, name, args = request
                if kind == "send":
                    self._queue_send(*args)
                    continue
                connection.send(self._call(name, args))

    def _queue_send(self, execution_id: str, priority: int) -> None:
        try:
            self._send(execution_id, priority)
        except QueueSendError:
            logger.warning("engine link: not enqueued; the outbox scan will", extra={"execution_id": execution_id})

    def _call(self, name: str, args: tuple[Any, ...]) -> tuple[str, Any]:
        if name not in _REMOTE_CALLS:
            return "error", ("ValueError", f"not a remote call: {name}")
        try:
            return "ok", getattr(self._machines, name)(*args)
        except ExecutionNotFound as exc:
            return "error", ("ExecutionNotFound", exc.execution_arn)
        except TaskNotFound as exc:
            return "error", ("TaskNotFound", exc.reason)
        except Exception as exc:
            logger.exception("engine link: call failed", extra={"call": name})
            return "error", (type(exc).__name__, str(exc))


# -- the API's side -----------------------------------------------------------------------------------------


class EngineLink:
    """One connection to the engine, reopened when it broke (the engine restarted)."""

    def __init__(self, path: Path, secret: bytes) -> None:
        self._path = path
        self._secret = secret
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def post(self, name: str, *args: Any) -> None:
        with self._lock:
            self._connected().send(("send", name, args))

    def call(self, name: str, *args: Any) -> Any:
        with self._lock:
            connection = self._connected()
            connection.send(("call", name, args))
            status, value = connection.recv()
        if status == "ok":
            return value
        error, detail = value
        raise _RAISED_AGAIN.get(error, RuntimeError)(detail)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _connected(self) -> Connection:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        self._connection = Client(str(self._path), family="AF_UNIX", authkey=self._secret)
        return self._connection

    def reset(self) -> None:
        with self._lock:
            self._connection = None


class RemoteQueue:
    """The Queue port of the API process: announces executions to the engine's worker pool."""

    def __init__(self, link: EngineLink) -> None:
        self._link = link

    def send(self, execution_id: str, *, priority: int = 0) -> None:
        try:
            self._link.post("send", execution_id, priority)
        except (OSError, EOFError) as exc:
            self._link.reset()
            raise QueueSendError(execution_id, f"the engine is not reachable: {exc}") from exc


class RemoteStateMachines:
    """The StateMachines port of the API process: the engine's interpreter, one call away."""

    def __init__(self, link: EngineLink) -> None:
        self._link = link

    def start_execution(self, state_machine: str, name: str, input: dict[str, Any]) -> str:
        arn: str = self._call("start_execution", state_machine, name, input)
        return arn

    def stop_execution(self, execution_arn: str, error: str | None = None, cause: str | None = None) -> None:
        self._call("stop_execution", execution_arn, error, cause)

    def describe_execution(self, execution_arn: str) -> ExecutionDescription:
        description: ExecutionDescription = self._call("describe_execution", execution_arn)
        return description

    def send_task_success(self, task_token: str, output: Any) -> None:
        self._call("send_task_success", task_token, output)

    def send_task_failure(self, task_token: str, error: str | None = None, cause: str | None = None) -> None:
        self._call("send_task_failure", task_token, error, cause)

    def send_task_heartbeat(self, task_token: str) -> None:
        self._call("send_task_heartbeat", task_token)

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return self._link.call(name, *args)
        except (OSError, EOFError):
            self._link.reset()
            raise
