"""Run a child in its own process group with a deadline, a stdout cap and streamed stderr.

``subprocess.run(timeout=...)`` kills only the direct child: a grandchild it spawned keeps running
and keeps the pipes open, so the parent hangs or leaks processes. Here the child leads a new session
(``start_new_session=True``), and on timeout, on output overflow, and when the leader exits with
helpers still running, the whole group gets SIGKILL.

One thread does all the I/O with a selector (as ``Popen.communicate`` does), so nothing can block on
a full pipe: stdin is written as the child reads it, stdout and stderr are drained as they fill.

A ``Launcher`` (steps/sandbox.py) may wrap the child: it passes descriptors, is told once the child
started, and is asked to kill whatever it runs (a sandbox's whole pid namespace) with the group. A
``cancelled`` event, polled every ``CANCEL_POLL_SECONDS``, kills the group as the deadline does.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

#: once the leader has exited and its group is killed, how long to keep draining pipes that something
#: outside the group (a daemon that called setsid) may still hold open
_DRAIN_GRACE_SECONDS = 1.0
_READ_CHUNK = 64 * 1024
#: how often to look for the leader's exit where no pidfd tells us
_POLL_SECONDS = 0.02
#: how often a running child looks at its ``cancelled`` event
CANCEL_POLL_SECONDS = 0.1


@dataclass
class ProcessOutcome:
    returncode: int
    stdout: bytes
    timed_out: bool = False
    stdout_overflow: bool = False
    cancelled: bool = False


class Launcher(Protocol):
    pass_fds: tuple[int, ...]

    def after_start(self, proc: subprocess.Popen[bytes]) -> None: ...

    def kill(self) -> None: ...


def run_process_group(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    stdin: bytes,
    timeout: float | None,
    max_stdout_bytes: int,
    on_stderr: Callable[[bytes], None],
    launcher: Launcher | None = None,
    cancelled: threading.Event | None = None,
) -> ProcessOutcome:
    """Run ``argv`` (never through a shell) and return once it and its process group are gone."""
    deadline = None if timeout is None else time.monotonic() + timeout
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
        pass_fds=launcher.pass_fds if launcher is not None else (),
    )
    group = _ProcessGroup(proc, launcher)
    stdout = bytearray()
    timed_out = overflow = was_cancelled = False
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    pending_stdin = memoryview(stdin)
    try:
        if launcher is not None:
            launcher.after_start(proc)
        with selectors.DefaultSelector() as selector:
            if pending_stdin:
                os.set_blocking(proc.stdin.fileno(), False)
                selector.register(proc.stdin, selectors.EVENT_WRITE)
            else:
                proc.stdin.close()
            selector.register(proc.stdout, selectors.EVENT_READ)
            selector.register(proc.stderr, selectors.EVENT_READ)
            if group.exit_fd is not None:
                selector.register(group.exit_fd, selectors.EVENT_READ)  # readable once the leader exits
            drain_until: float | None = None
            while True:
                now = time.monotonic()
                if group.leader_exited():
                    if drain_until is None:
                        group.kill()  # helpers the script left running would hold the pipes open forever
                        drain_until = now + _DRAIN_GRACE_SECONDS
                        if group.exit_fd is not None:
                            selector.unregister(group.exit_fd)
                    if not selector.get_map() or now >= drain_until:
                        break
                elif deadline is not None and now >= deadline:
                    timed_out = True
                    group.kill()
                    break
                elif cancelled is not None and cancelled.is_set():
                    was_cancelled = True
                    group.kill()
                    break
                limit = _POLL_SECONDS if group.exit_fd is None or drain_until is not None else None
                if cancelled is not None:
                    limit = CANCEL_POLL_SECONDS if limit is None else min(limit, CANCEL_POLL_SECONDS)
                if deadline is not None:
                    remaining = max(0.0, deadline - now)
                    limit = remaining if limit is None else min(limit, remaining)
                if not selector.get_map():  # pipes closed, leader still running (no pidfd here): poll
                    time.sleep(_POLL_SECONDS if limit is None else limit)
                    continue
                for key, _ in selector.select(limit):
                    if key.fileobj is proc.stdin:
                        pending_stdin = _write_some(selector, proc.stdin, pending_stdin)
                    elif key.fileobj is proc.stdout or key.fileobj is proc.stderr:
                        data = os.read(key.fd, _READ_CHUNK)
                        if not data:
                            selector.unregister(key.fileobj)
                        elif key.fileobj is proc.stderr:
                            on_stderr(data)
                        else:
                            stdout += data
                            if len(stdout) > max_stdout_bytes:
                                overflow = True
                                group.kill()
                                selector.unregister(proc.stdout)
    finally:
        group.kill()
        returncode = proc.wait()
        group.close()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                pipe.close()
    return ProcessOutcome(returncode, bytes(stdout[:max_stdout_bytes]), timed_out=timed_out, stdout_overflow=overflow,
                          cancelled=was_cancelled)


def _write_some(selector: selectors.BaseSelector, pipe: IO[bytes], pending: memoryview) -> memoryview:
    """Write what the pipe takes now; stop writing (and close stdin) when done or the child stopped reading."""
    try:
        pending = pending[os.write(pipe.fileno(), pending[:_READ_CHUNK]) :]
    except BlockingIOError:
        return pending
    except (BrokenPipeError, ConnectionResetError):
        pending = pending[:0]  # the script does not read its input: that is its business
    if not pending:
        selector.unregister(pipe)
        with contextlib.suppress(OSError):
            pipe.close()
    return pending


class _ProcessGroup:
    """The child's process group, killed safely even after the leader exits.

    The leader is left a zombie (``waitid`` with WNOWAIT) until the group has been killed: while the
    zombie exists its pid, which is the group id, cannot be reused, so ``killpg`` cannot hit a
    stranger's group. Where ``os.waitid`` is missing (macOS before Python 3.13) ``poll`` reaps the
    leader, and surviving group members still hold the id.
    """

    def __init__(self, proc: subprocess.Popen[bytes], launcher: Launcher | None = None) -> None:
        self.proc = proc
        self.launcher = launcher
        self.pgid = proc.pid  # start_new_session: the child leads a new group with its own pid
        self._exited = False
        #: a pidfd (Linux) turns "the leader exited" into a selector event instead of polling
        self.exit_fd: int | None = None
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                self.exit_fd = os.pidfd_open(proc.pid)

    def leader_exited(self) -> bool:
        if not self._exited:
            if hasattr(os, "waitid"):
                info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                self._exited = info is not None
            else:  # pragma: no cover - macOS before Python 3.13
                self._exited = self.proc.poll() is not None
        return self._exited

    def kill(self) -> None:
        if self.launcher is not None:
            self.launcher.kill()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)

    def close(self) -> None:
        if self.exit_fd is not None:
            os.close(self.exit_fd)
            self.exit_fd = None
