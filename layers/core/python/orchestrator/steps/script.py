"""The ``script`` step: run a Python, Node or Bash script as a child process.

```yaml
type: script
config:
  runtime: python                 # python (the orchestrator's own interpreter, -I), node, bash;
                                  # default: node for .js/.mjs/.cjs, bash for .sh/.bash, else python
  script: transform.py            # a file under the workflow's directory ... or inline:
  # code: |
  #   import json, sys; data = json.load(sys.stdin); print(json.dumps({"result": data}))
  args: ["--mode", "fast"]
  env: {REGION: eu-west-1}        # the only variables besides PATH, HOME (a fresh temp dir), LANG
  timeout: 5m                     # the step's own timeout bounds it too; default 5 minutes
  max_output_bytes: 1048576       # stdout cap (stderr is capped at the same size, then dropped)
  fatal_exit_codes: [3]           # exit codes not worth a retry
```

Contract with the script: the step's rendered inputs arrive as JSON on stdin; what it prints on stdout
is the output, parsed as JSON when it parses, else ``{"stdout": text}``; stderr lines go to the step's
logs (masked). Templates are never interpolated into a command line: argv is a list, no shell.

Failures: ``States.Timeout`` (retryable; the whole process group is killed), ``Script.ExitCode``
(output ``{"exit_code", "stdout"}``; retryable unless the code is in ``fatal_exit_codes`` or is 2, 126
or 127 - usage/syntax errors, not executable, not found - which fail the same way every time),
``Script.OutputTooLarge``, ``Script.NotFound``, ``Script.PathOutsideWorkflow``,
``Script.RuntimeNotFound``, ``Script.InvalidInput`` (none retryable), ``Script.StartFailed`` (retryable
when the host ran out of processes or memory).

When the script's main process exits, whatever it left running in its process group is killed too:
a step leaves no processes behind (a warm Lambda container would accumulate them).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from orchestrator.domain.durations import Duration
from orchestrator.steps.base import StepConfig, StepContext, StepError, StepResult, StepTimeout
from orchestrator.steps.limits import effective_timeout
from orchestrator.steps.process_group import run_process_group

Runtime = Literal["python", "node", "bash"]
DEFAULT_TIMEOUT_SECONDS = 300.0
DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024
#: usage or syntax errors (Python's argparse, bash builtins), "not executable", "command not found":
#: a retry cannot change them, whatever the config says
ALWAYS_FATAL_EXIT_CODES = frozenset({2, 126, 127})

_SUFFIX = {"python": ".py", "node": ".js", "bash": ".sh"}
_RUNTIME_BY_SUFFIX: dict[str, Runtime] = {".js": "node", ".mjs": "node", ".cjs": "node", ".sh": "bash", ".bash": "bash"}


class ScriptConfig(StepConfig):
    #: default: from the script's file name (.js/.mjs/.cjs node, .sh/.bash bash), else python
    runtime: Runtime | None = None
    code: str | None = None
    script: str | None = None
    args: list[str | int | float] = Field(default_factory=list)
    env: dict[str, str | int | float | bool] = Field(default_factory=dict)
    timeout: Duration | None = None
    max_output_bytes: int = Field(default=DEFAULT_MAX_OUTPUT_BYTES, gt=0)
    fatal_exit_codes: list[int] = Field(default_factory=list)

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = sorted(name for name in value if not name or "=" in name or "\0" in name)
        if bad:
            raise ValueError(f"invalid environment variable names: {bad}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> ScriptConfig:
        if (self.code is None) == (self.script is None):
            raise ValueError("set exactly one of code (inline) or script (a file path)")
        if self.runtime is None:
            suffix = Path(self.script or "").suffix.lower()
            self.runtime = _RUNTIME_BY_SUFFIX.get(suffix, "python")
        return self


class ScriptExecutor:
    type_name: ClassVar[str] = "script"
    config_model: ClassVar[type[BaseModel]] = ScriptConfig

    def execute(self, config: ScriptConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        started = time.time()
        runtime: Runtime = config.runtime or "python"  # validation has chosen one already
        try:
            stdin = json.dumps(inputs, ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise StepError("Script.InvalidInput", f"the step's inputs are not JSON: {exc}", retryable=False) from None
        timeout = effective_timeout(config.timeout, ctx, default=DEFAULT_TIMEOUT_SECONDS)
        with tempfile.TemporaryDirectory(prefix="orchestrator-script-") as home:
            script_path = self._script_path(config, runtime, ctx, Path(home))
            argv = [*_interpreter(runtime), str(script_path), *(str(a) for a in config.args)]
            env = _child_env(home, config.env)
            cwd = ctx.workflow_dir if ctx.workflow_dir is not None else Path(home)
            stderr_note = _StderrLog(ctx, limit=config.max_output_bytes)
            try:
                outcome = run_process_group(
                    argv,
                    cwd=cwd,
                    env=env,
                    stdin=stdin,
                    timeout=timeout,
                    max_stdout_bytes=config.max_output_bytes,
                    on_stderr=stderr_note.feed,
                )
            except OSError as exc:  # fork/exec failed: out of processes or memory is worth a retry
                raise StepError(
                    "Script.StartFailed",
                    f"cannot start {argv[0]} in {cwd}: {exc.strerror or exc}",
                    retryable=exc.errno in (errno.EAGAIN, errno.ENOMEM),
                ) from None
            stderr_note.flush()
        label = config.script or "inline code"
        if outcome.timed_out:
            raise StepTimeout(f"{runtime} script ({label}) ran past {timeout:g}s; its process group was killed")
        if outcome.stdout_overflow:
            raise StepError(
                "Script.OutputTooLarge",
                f"{runtime} script ({label}) printed more than {config.max_output_bytes} bytes on stdout "
                "(max_output_bytes); it was killed",
                retryable=False,
            )
        output = _parse_stdout(outcome.stdout)
        if outcome.returncode != 0:
            raise self._exit_error(config, runtime, label, outcome.returncode, output, stderr_note.last_line, ctx)
        ctx.log(f"{runtime} script ({label}) exited 0 after {time.time() - started:.2f}s")
        return StepResult(output=output, started_at=started, finished_at=time.time())

    @staticmethod
    def _script_path(config: ScriptConfig, runtime: Runtime, ctx: StepContext, home: Path) -> Path:
        if config.code is not None:
            path = home / f"step{_SUFFIX[runtime]}"
            path.write_text(config.code, encoding="utf-8")  # a file, not -c: argv is visible to `ps`
            return path
        assert config.script is not None
        if ctx.workflow_dir is None:
            raise StepError(
                "Script.NotFound",
                f"script {config.script!r} is relative to the workflow's directory, and this workflow has none "
                "(it was not loaded from a file); use inline code instead",
                retryable=False,
            )
        root = Path(ctx.workflow_dir).resolve()
        path = (root / config.script).resolve()  # resolves symlinks too: a link out of the directory is refused
        if not path.is_relative_to(root):
            raise StepError(
                "Script.PathOutsideWorkflow",
                f"script {config.script!r} resolves outside the workflow directory {root}",
                retryable=False,
            )
        if not path.is_file():
            raise StepError("Script.NotFound", f"script {config.script!r} not found in {root}", retryable=False)
        return path

    @staticmethod
    def _exit_error(
        config: ScriptConfig, runtime: Runtime, label: str, code: int, output: Any, last_stderr: str, ctx: StepContext
    ) -> StepError:
        if code < 0:
            reason = f"was killed by signal {signal.Signals(-code).name}" if -code in signal.valid_signals() else ""
            reason = reason or f"was killed by signal {-code}"
        else:
            reason = f"exited with code {code}"
        hint = f"; last stderr line: {last_stderr}" if last_stderr else ""
        fatal = code in ALWAYS_FATAL_EXIT_CODES or code in config.fatal_exit_codes
        return StepError(
            "Script.ExitCode",
            ctx.mask(f"{runtime} script ({label}) {reason}{hint}"),
            retryable=not fatal,
            output={"exit_code": code, "stdout": output},
        )


def _interpreter(runtime: str) -> list[str]:
    if runtime == "python":
        # -I: no PYTHON* variables, no user site-packages, no script directory on sys.path
        return [sys.executable, "-I"]
    program = shutil.which(runtime)
    if program is None:
        raise StepError("Script.RuntimeNotFound", f"runtime {runtime!r} is not installed on this host", retryable=False)
    if runtime == "bash":
        return [program, "--noprofile", "--norc"]
    return [program]


def _child_env(home: str, configured: dict[str, Any]) -> dict[str, str]:
    """Only what a script needs to run: never the orchestrator's environment, which holds credentials."""
    env = {
        "PATH": os.environ.get("PATH") or os.defpath,
        "HOME": home,
        "LANG": "C.UTF-8",
    }
    for name, value in configured.items():
        env[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return env


def _parse_stdout(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return {"stdout": text}


class _StderrLog:
    """Turns the child's stderr bytes into masked log lines as they arrive, up to ``limit`` bytes."""

    def __init__(self, ctx: StepContext, limit: int) -> None:
        self._ctx = ctx
        self._limit = limit
        self._seen = 0
        self._pending = b""
        self._truncated = False
        self.last_line = ""

    def feed(self, data: bytes) -> None:
        if self._truncated:
            return
        self._seen += len(data)
        if self._seen > self._limit:
            data = data[: max(0, len(data) - (self._seen - self._limit))]
            self._truncated = True
        *lines, self._pending = (self._pending + data).split(b"\n")
        for line in lines:
            self._emit(line)
        if self._truncated:
            self.flush()
            self._ctx.log(f"[stderr] ... more than {self._limit} bytes; the rest was dropped")

    def flush(self) -> None:
        if self._pending:
            self._emit(self._pending)
            self._pending = b""

    def _emit(self, line: bytes) -> None:
        text = line.decode("utf-8", errors="replace").rstrip("\r")
        self._ctx.log(f"[stderr] {text}")
        if text.strip():
            self.last_line = self._ctx.mask(text.strip())[:300]
