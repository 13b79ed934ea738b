"""Script steps in the cloud: the StepRunner hands the prepared script to the ScriptRunner function.

Lambda has no user namespaces, so bubblewrap cannot run there. Isolation comes from the function
instead: its role has no permissions and its environment holds nothing secret (template.yaml), so
whatever a script reads (``/proc/*/environ``, the instance credentials) is worthless; it gets the same
rlimits as a local unsandboxed script; and after each run every process the script left behind is
killed, so nothing outlives its step into the next invocation (a warm container is reused, possibly for
another owner's script).

``RemoteScript`` is what travels (the code inline: the cloud has no workflow directory; ``orchestrator
deploy`` inlines script files), ``RemoteOutcome`` what comes back. ``run_here`` is the ScriptRunner's core.
"""

from __future__ import annotations

import base64
import os
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from orchestrator.steps.process_group import ProcessOutcome, run_process_group
from orchestrator.steps.script_process import SUFFIX, Rlimits, interpreter

#: stderr kept for the step's logs (the StepRunner masks and caps it again)
MAX_STDERR_BYTES = 256 * 1024


class RemoteScript(BaseModel):
    runtime: Literal["python", "node", "bash"]
    code: str
    args: list[str] = Field(default_factory=list)
    #: everything the script's environment holds besides PATH, HOME and LANG
    env: dict[str, str] = Field(default_factory=dict)
    stdin: str = ""
    timeout_seconds: float | None = None
    max_output_bytes: int = Field(gt=0)
    #: RLIMIT_* name -> value
    rlimits: dict[str, int] = Field(default_factory=dict)


class RemoteOutcome(BaseModel):
    returncode: int
    stdout_b64: str = ""
    stderr: str = ""
    timed_out: bool = False
    stdout_overflow: bool = False

    def process_outcome(self) -> ProcessOutcome:
        return ProcessOutcome(returncode=self.returncode, stdout=base64.b64decode(self.stdout_b64),
                              timed_out=self.timed_out, stdout_overflow=self.stdout_overflow)


class RemoteScriptRunner(Protocol):
    def run(self, script: RemoteScript) -> RemoteOutcome:
        """Runs the script elsewhere and waits for it (bounded by its timeout)."""


def run_here(script: RemoteScript, reap: Callable[[], int] | None = None) -> RemoteOutcome:
    """Runs ``script`` in this container, then kills whatever it left running (``reap``)."""
    stderr = bytearray()

    def keep_stderr(chunk: bytes) -> None:
        stderr.extend(chunk[: max(0, MAX_STDERR_BYTES - len(stderr))])

    with tempfile.TemporaryDirectory(prefix="orchestrator-script-") as home:
        path = Path(home) / f"step{SUFFIX[script.runtime]}"
        path.write_text(script.code, encoding="utf-8")
        env = {"PATH": os.environ.get("PATH") or os.defpath, "HOME": home, "LANG": "C.UTF-8", **script.env}
        try:
            outcome = run_process_group([*interpreter(script.runtime), str(path), *script.args], cwd=Path(home),
                                        env=env, stdin=script.stdin.encode(), timeout=script.timeout_seconds,
                                        max_stdout_bytes=script.max_output_bytes, on_stderr=keep_stderr,
                                        launcher=Rlimits(script.rlimits))
        finally:
            if reap is not None:
                reap()
    return RemoteOutcome(returncode=outcome.returncode, stdout_b64=base64.b64encode(outcome.stdout).decode("ascii"),
                         stderr=stderr.decode("utf-8", errors="replace"), timed_out=outcome.timed_out,
                         stdout_overflow=outcome.stdout_overflow)


def reap_strays(proc: Path = Path("/proc"), kill: Callable[[int, int], None] = os.kill) -> int:
    """Kills every process of this container but this one and its ancestors; returns how many.

    Only for the ScriptRunner's container, where every process is the function's own: a daemon a script
    started (``setsid ... &`` leaves its process group) would otherwise still run, and could read the
    next invocation's script, when the container is reused."""
    keep = _ancestry(proc, os.getpid())
    killed = 0
    for entry in proc.iterdir():
        if entry.name.isdigit() and int(entry.name) not in keep:
            try:
                kill(int(entry.name), signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                continue
    return killed


def _ancestry(proc: Path, pid: int) -> set[int]:
    keep = {pid}
    while pid > 1:
        try:
            # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses
            stat = (proc / str(pid) / "stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        keep.add(pid)
    return keep
