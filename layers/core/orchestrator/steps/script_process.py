"""How a script process is started, wherever it runs (the sandbox, this host, the cloud's ScriptRunner):
its interpreter, its file suffix, its environment and its rlimits."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
from typing import Any

from orchestrator.steps.base import StepError

SUFFIX = {"python": ".py", "node": ".js", "bash": ".sh"}


def interpreter(runtime: str) -> list[str]:
    if runtime == "python":
        # -I: no PYTHON* variables, no user site-packages, no script directory on sys.path
        return [sys.executable, "-I"]
    program = shutil.which(runtime)
    if program is None:
        raise StepError("Script.RuntimeNotFound", f"runtime {runtime!r} is not installed on this host", retryable=False)
    if runtime == "bash":
        return [program, "--noprofile", "--norc"]
    return [program]


def configured_env(configured: dict[str, Any]) -> dict[str, str]:
    return {name: ("true" if value else "false") if isinstance(value, bool) else str(value)
            for name, value in configured.items()}


def child_env(home: str, configured: dict[str, Any]) -> dict[str, str]:
    """Only what a script needs to run: never the orchestrator's environment, which holds credentials."""
    return {"PATH": os.environ.get("PATH") or os.defpath, "HOME": home, "LANG": "C.UTF-8", **configured_env(configured)}


class Rlimits:
    """An unsandboxed script's memory, CPU and file size limits, set with prlimit(2) as soon as it started
    (a preexec_fn could deadlock a threaded server); not NPROC, which would count every process of the
    server's user."""

    pass_fds: tuple[int, ...] = ()

    def __init__(self, limits: dict[str, int]) -> None:
        self.limits = limits

    def after_start(self, proc: subprocess.Popen[bytes]) -> None:
        for name, value in self.limits.items():
            with contextlib.suppress(ProcessLookupError):
                resource.prlimit(proc.pid, getattr(resource, name), (value, value))

    def kill(self) -> None:
        pass
