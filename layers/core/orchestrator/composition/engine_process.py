"""The engine half of `orchestrator serve`: the interpreter, the worker pool, the schedule ticker and the
reconciler, in a child process of the API (see engine_link.py for why two processes).

The child dies with its parent: on Linux the kernel sends it SIGKILL when the parent exits (however it
exits, kill -9 included), and a watchdog thread covers other systems. So a killed server never leaves an
engine behind that would run beside the next one.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from orchestrator.adapters.local.engine_link import EngineLink, EngineLinkServer, socket_path
from orchestrator.adapters.local.ticker import Ticker
from orchestrator.composition.runtime import LocalRuntime, get_local_runtime
from orchestrator.composition.triggers import build_trigger_service
from orchestrator.observability import logger
from orchestrator.ports.state_machines import ExecutionNotFound
from orchestrator.services.reconciler import reconcile
from orchestrator.settings import Settings

_PR_SET_PDEATHSIG = 1
#: how much lower the engine's CPU priority is than the API's (nice(2) steps)
ENGINE_NICENESS = 10


class EngineProcess:
    """What runs in the child: `python -m orchestrator.cli engine`, its secret on stdin."""

    def __init__(self, settings: Settings, secret: bytes) -> None:
        self.settings = settings
        self.runtime: LocalRuntime = get_local_runtime()
        self.triggers = build_trigger_service(settings)  # on the runtime's store and executions
        self.link = EngineLinkServer(
            socket_path(settings.home), secret,
            send=lambda execution_id, priority: self.runtime.queue.send(execution_id, priority=priority),
            machines=self.runtime.machines,
        )
        self._tickers = [
            Ticker(lambda now: self.triggers.run_due(now), interval=settings.schedule_tick_seconds, name="triggers"),
            Ticker(lambda now: self._reconcile(), interval=settings.reconcile_seconds, name="reconciler"),
        ]
        self._stopping = threading.Event()

    def _reconcile(self) -> None:
        reconcile(self.runtime.store, self.runtime.executions, self.runtime.machines,
                  queued_timeout_seconds=self.settings.queued_timeout_seconds)

    def run(self) -> None:
        """Until SIGTERM / SIGINT or the parent's end."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._stopping.set())
        parent = os.getppid()
        self.runtime.start()
        self.link.start()
        for ticker in self._tickers:
            ticker.start()
        logger.info("engine started", extra={"pid": os.getpid()})
        while not self._stopping.wait(0.5):
            if os.getppid() != parent:  # the parent is gone (where PDEATHSIG is not available)
                break
        for ticker in self._tickers:
            ticker.stop(timeout=5)
        self.link.close()
        self.runtime.stop()


def _engine_child_setup() -> None:
    """preexec_fn of the engine: a lower CPU priority, so that under load the API keeps answering while
    the engine works through the backlog with what is left; SIGKILL when the parent dies (Linux;
    elsewhere the watchdog)."""
    os.nice(ENGINE_NICENESS)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def start_engine(home: Path, secret: bytes, *, ready_timeout: float = 60.0) -> subprocess.Popen[bytes]:
    """Starts the engine child (same environment, same home) and waits until it answers on its link."""
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "engine"],
        stdin=subprocess.PIPE, env={**os.environ, "ORCHESTRATOR_HOME": str(home)},
        preexec_fn=_engine_child_setup,  # only a prctl between fork and exec
    )
    assert process.stdin is not None
    process.stdin.write(secret.hex().encode() + b"\n")
    process.stdin.close()
    link = EngineLink(socket_path(home), secret)
    deadline = time.monotonic() + ready_timeout
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the engine process exited with {process.returncode} while starting")
            try:
                link.call("describe_execution", "arn:ready-check")
            except ExecutionNotFound:
                return process
            except (OSError, EOFError):
                link.reset()
                if time.monotonic() > deadline:
                    process.kill()
                    raise RuntimeError(f"the engine did not answer within {ready_timeout:.0f} s") from None
                time.sleep(0.05)
    finally:
        link.close()


def stop_engine(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
