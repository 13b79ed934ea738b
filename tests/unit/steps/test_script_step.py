"""The script step with real child processes: python, node (if installed) and bash.

They run the way the server runs them: in the bubblewrap sandbox where one can run (steps/sandbox.py; the
attacks on it are in tests/security/test_script_sandbox.py), else unsandboxed. ``UNSANDBOXED`` runs them
as plain child processes (ORCHESTRATOR_SCRIPT_SANDBOX=none), which the process-group tests look into.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from orchestrator.settings import Settings
from orchestrator.steps import sandbox
from orchestrator.steps.base import StepContext, StepError
from orchestrator.steps.registry import get_executor
from orchestrator.steps.script import ScriptConfig, ScriptExecutor

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
UNSANDBOXED = ScriptExecutor(Settings(script_sandbox="none"))
SANDBOXED = sandbox.probe().available


def run(config: dict, inputs: dict | None = None, ctx: StepContext | None = None,
        executor: ScriptExecutor | None = None):
    ctx = ctx or StepContext("exec-1", "script-step")
    return (executor or ScriptExecutor()).execute(ScriptConfig.model_validate(config), inputs or {}, ctx), ctx


def fail(config: dict, inputs: dict | None = None, ctx: StepContext | None = None,
         executor: ScriptExecutor | None = None) -> StepError:
    with pytest.raises(StepError) as caught:
        run(config, inputs, ctx, executor)
    return caught.value


def workflow_dir(path: Path) -> Path:
    """pytest makes tmp dirs 0700; a root server's sandbox runs scripts as nobody, who must read them."""
    path.chmod(0o755)
    return path


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie (a zombie's parent may simply not have reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # pragma: no cover - no procfs
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: list[int], within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


ECHO_PY = "import json, sys\ndata = json.load(sys.stdin)\nprint(json.dumps({'result': data['n'] * 2, 'argv': sys.argv[1:]}))"
ECHO_JS = (
    "let s = ''; process.stdin.on('data', d => s += d).on('end', () => {"
    " const data = JSON.parse(s); console.log(JSON.stringify({result: data.n * 2, argv: process.argv.slice(2)})); });"
)
ECHO_SH = 'read -r line; n=$(printf "%s" "$line" | sed \'s/[^0-9]//g\'); printf \'{"result": %d, "argv": ["%s"]}\' $((n * 2)) "$1"'


def test_registry_serves_the_script_executor():
    assert isinstance(get_executor("script"), ScriptExecutor)


@pytest.mark.parametrize(
    ("runtime", "code"),
    [("python", ECHO_PY), pytest.param("node", ECHO_JS, marks=needs_node), ("bash", ECHO_SH)],
)
def test_inputs_on_stdin_and_json_output_on_stdout(runtime: str, code: str):
    # Given a script in each runtime that doubles n from its stdin JSON
    # When run with inputs and an argument
    result, _ = run({"runtime": runtime, "code": code, "args": ["--fast"]}, inputs={"n": 21})
    # Then stdout's JSON is the output
    assert result.output == {"result": 42, "argv": ["--fast"]}


@pytest.mark.parametrize(
    ("name", "body", "runtime"),
    [("t.py", "print(1)", "python"), pytest.param("t.js", "console.log(1)", "node", marks=needs_node),
     ("t.sh", "echo 1", "bash")],
)
def test_runtime_defaults_from_the_script_suffix(tmp_path: Path, name: str, body: str, runtime: str):
    # Given seed 002's style (a file name, no runtime) / When validated and run / Then the suffix decides
    (workflow_dir(tmp_path) / name).write_text(body)
    assert ScriptConfig.model_validate({"script": name}).runtime == runtime
    result, ctx = run({"script": name}, ctx=StepContext("e", "s", workflow_dir=tmp_path))
    assert result.output == 1 and ctx.logs[-1].startswith(f"{runtime} script ({name}) exited 0")


def test_plain_text_output_is_wrapped():
    # Given a script that prints text / When run / Then the output is {"stdout": text}
    result, _ = run({"runtime": "bash", "code": "echo hello; echo world"})
    assert result.output == {"stdout": "hello\nworld\n"}


def test_stderr_goes_to_the_logs_masked():
    # Given a script that writes a secret and a warning to stderr, and a ctx that masks the secret
    ctx = StepContext("exec-1", "s", mask=lambda text: text.replace("hunter2-secret", "***"))
    code = "import sys\nprint('warning: disk low', file=sys.stderr)\nprint('token=hunter2-secret', file=sys.stderr)\nprint('{}')"
    # When run
    result, ctx = run({"code": code}, ctx=ctx)
    # Then both lines are in the step's logs, the secret masked
    assert "[stderr] warning: disk low" in ctx.logs
    assert "[stderr] token=***" in ctx.logs
    assert not any("hunter2-secret" in line for line in ctx.logs)
    assert result.output == {}


def test_no_shell_interpolation_of_args(tmp_path: Path):
    # Given arguments that a shell would expand
    marker = tmp_path / "pwned"
    args = [f"$(touch {marker})", "`id`", "a b; rm -rf /", "*"]
    # When passed to a script / Then they arrive literally, one argv entry each, and nothing ran
    result, _ = run({"code": "import json, sys; print(json.dumps(sys.argv[1:]))", "args": args})
    assert result.output == args and not marker.exists()


def test_script_file_relative_to_the_workflow_dir(tmp_path: Path):
    # Given a workflow directory with a script and a data file beside it
    (workflow_dir(tmp_path) / "scripts").mkdir()
    (tmp_path / "scripts" / "transform.py").write_text(
        "import json, sys, pathlib\nprint(json.dumps({'rows': pathlib.Path('data.csv').read_text().count(chr(10))}))"
    )
    (tmp_path / "data.csv").write_text("a\nb\nc\n")
    ctx = StepContext("exec-1", "s", workflow_dir=tmp_path)
    # When run by relative path / Then it runs with the workflow directory as working directory
    result, _ = run({"script": "scripts/transform.py"}, ctx=ctx)
    assert result.output == {"rows": 3}


@pytest.mark.parametrize("escape", ["../outside.py", "/etc/passwd", "scripts/../../outside.py", "link.py"])
def test_paths_escaping_the_workflow_dir_are_refused(tmp_path: Path, escape: str):
    # Given a workflow dir, a script outside it and a symlink inside pointing out
    workflow = tmp_path / "wf"
    workflow.mkdir()
    (tmp_path / "outside.py").write_text("print('escaped')")
    (workflow / "link.py").symlink_to(tmp_path / "outside.py")
    # When a step names a path that resolves outside / Then refused, not retryable, nothing ran
    error = fail({"script": escape}, ctx=StepContext("e", "s", workflow_dir=workflow))
    assert (error.error, error.retryable) == ("Script.PathOutsideWorkflow", False)


def test_missing_script_and_missing_workflow_dir(tmp_path: Path):
    # Given no such file / Then Script.NotFound; Given no workflow dir at all / Then the same, explained
    assert fail({"script": "nope.py"}, ctx=StepContext("e", "s", workflow_dir=tmp_path)).error == "Script.NotFound"
    assert "this workflow has none" in fail({"script": "x.py"}).cause


@pytest.mark.parametrize("sandboxed", [pytest.param(True, marks=pytest.mark.skipif(not SANDBOXED, reason="no sandbox")),
                                       False])
def test_env_is_isolated_from_the_orchestrator(monkeypatch: pytest.MonkeyPatch, sandboxed: bool):
    # Given a secret and AWS credentials in the orchestrator's environment
    monkeypatch.setenv("ORCH_SECRET_API_TOKEN", "top-secret-value")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-value")
    code = "import json, os\nprint(json.dumps({'env': dict(os.environ)}))"
    # When a script dumps its environment
    result, _ = run({"code": code, "env": {"REGION": "eu-west-1", "DEBUG": True}},
                    executor=None if sandboxed else UNSANDBOXED)
    env = result.output["env"]
    # Then it sees only PATH, HOME, LANG, which step attempt it is, and its own env config
    assert set(env) == {"PATH", "HOME", "LANG", "REGION", "DEBUG",
                        "ORCHESTRATOR_EXECUTION_ID", "ORCHESTRATOR_STEP_ID", "ORCHESTRATOR_ATTEMPT"}
    assert env["REGION"] == "eu-west-1" and env["DEBUG"] == "true"
    assert env["ORCHESTRATOR_ATTEMPT"] == "1"
    assert "top-secret-value" not in json.dumps(env) and "aws-secret-value" not in json.dumps(env)
    if sandboxed:  # And HOME was the sandbox's own tmpfs
        assert env["HOME"] == sandbox.SANDBOX_HOME
    else:  # And HOME was a temporary directory, gone after the step
        assert "orchestrator-script-" in env["HOME"] and not Path(env["HOME"]).exists()


def test_python_runs_isolated(monkeypatch: pytest.MonkeyPatch):
    # Given -I: no user site, no PYTHON* variables honoured / When run / Then sys.flags show isolation
    result, _ = run({"code": "import json, sys; print(json.dumps([sys.flags.isolated, sys.flags.no_user_site]))",
                     "env": {"PYTHONPATH": "/evil"}})
    assert result.output == [1, 1]


def test_timeout_kills_the_whole_process_group(tmp_path: Path):
    # Given a script that starts a grandchild, records both pids, then hangs
    pids_file = tmp_path / "pids.json"
    code = (
        "import json, os, subprocess, sys, time\n"
        "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pids_file)!r}, 'w').write(json.dumps([os.getpid(), grandchild.pid]))\n"
        "time.sleep(60)\n"
    )
    # When the step times out (unsandboxed: the sandboxed case is in tests/security)
    started = time.monotonic()
    error = fail({"code": code, "timeout": "1s"}, executor=UNSANDBOXED)
    # Then it is States.Timeout (retryable), on time, and both processes are gone
    assert (error.error, error.retryable) == ("States.Timeout", True)
    assert time.monotonic() - started < 5
    pids = json.loads(pids_file.read_text())
    assert wait_gone(pids), f"processes still alive: {[p for p in pids if alive(p)]}"


def test_background_helpers_are_killed_when_the_script_exits(tmp_path: Path):
    # Given a bash script that leaves a background sleeper behind and exits at once
    pid_file = tmp_path / "bg.pid"
    started = time.monotonic()
    result, _ = run({"runtime": "bash", "code": f"sleep 60 & echo $! > {pid_file}; echo '{{\"done\": true}}'"},
                    executor=UNSANDBOXED)
    # Then the step returns promptly (the sleeper's open stdout does not hold it) and the sleeper is gone
    assert result.output == {"done": True} and time.monotonic() - started < 5
    assert wait_gone([int(pid_file.read_text())])


def test_step_timeout_bounds_the_config_timeout():
    # Given a step timeout shorter than the config's / When the script hangs / Then the step timeout wins
    started = time.monotonic()
    error = fail({"runtime": "bash", "code": "sleep 30", "timeout": "1m"}, ctx=StepContext("e", "s", timeout_seconds=0.5))
    assert error.error == "States.Timeout" and time.monotonic() - started < 3


def test_output_cap():
    # Given a script that prints 2 MiB and a 64 KiB cap / When run / Then Script.OutputTooLarge, not retryable
    error = fail({"code": "import sys\nsys.stdout.write('x' * (2 * 1024 * 1024))", "max_output_bytes": 65536})
    assert (error.error, error.retryable) == ("Script.OutputTooLarge", False)


def test_endless_output_is_stopped_by_the_cap():
    # Given a script that never stops printing / When capped / Then it is killed quickly, not timed out
    started = time.monotonic()
    error = fail({"runtime": "bash", "code": "yes", "max_output_bytes": 100_000, "timeout": "20s"})
    assert error.error == "Script.OutputTooLarge" and time.monotonic() - started < 5


def test_stderr_flood_is_truncated_not_fatal():
    # Given a script that writes far more stderr than the cap / When run / Then it succeeds with a note
    code = "import sys\nfor i in range(5000): print('noise line', i, file=sys.stderr)\nprint('{\"ok\": 1}')"
    result, ctx = run({"code": code, "max_output_bytes": 2000})
    assert result.output == {"ok": 1}
    assert "[stderr] ... more than 2000 bytes; the rest was dropped" in ctx.logs
    assert len(ctx.logs) < 200


def test_large_input_to_a_script_that_does_not_read_it():
    # Given 3 MiB of inputs (more than a pipe holds) and a script that ignores stdin
    # When run / Then no deadlock: the script's output comes back
    result, _ = run({"runtime": "bash", "code": "echo '[1]'", "timeout": "10s"}, inputs={"blob": "x" * (3 * 1024 * 1024)})
    assert result.output == [1]


def test_large_input_is_delivered_whole():
    # Given 3 MiB of inputs / When a script reads them / Then all of it arrives
    result, _ = run({"code": "import json, sys; print(len(json.load(sys.stdin)['blob']))"},
                    inputs={"blob": "x" * (3 * 1024 * 1024)})
    assert result.output == 3 * 1024 * 1024


@pytest.mark.parametrize(
    ("code", "fatal_codes", "exit_code", "retryable"),
    [
        ("exit 1", [], 1, True),  # an ordinary failure: maybe transient
        ("exit 2", [], 2, False),  # usage / syntax error: always fatal
        ("exit 127", [], 127, False),  # command not found: always fatal
        ("exit 3", [3], 3, False),  # declared fatal by the workflow
        ("kill -KILL $$", [], -9, True),  # killed from outside (OOM killer): retry
    ],
)
def test_exit_codes_are_classified(code: str, fatal_codes: list[int], exit_code: int, retryable: bool):
    # Given a script that exits with a code / When run / Then Script.ExitCode with the code and retryability
    error = fail({"runtime": "bash", "code": f"echo partial; echo 'it broke' >&2; {code}", "fatal_exit_codes": fatal_codes})
    assert error.error == "Script.ExitCode" and error.retryable is retryable
    assert error.output == {"exit_code": exit_code, "stdout": {"stdout": "partial\n"}}
    if exit_code > 0:
        assert f"exited with code {exit_code}" in error.cause and "it broke" in error.cause
    else:
        assert "SIGKILL" in error.cause


def test_python_exception_is_a_retryable_exit_code_with_the_traceback_in_logs():
    # Given a script that raises / When run / Then exit code 1, the traceback's last line named
    error = fail({"code": "raise RuntimeError('database is locked')"})
    assert error.output["exit_code"] == 1 and error.retryable is True
    assert "RuntimeError: database is locked" in error.cause


@pytest.mark.parametrize(
    "bad",
    [{}, {"code": "x", "script": "y.py"}, {"code": "x", "runtime": "ruby"}, {"code": "x", "env": {"A=B": "1"}},
     {"code": "x", "max_output_bytes": 0}, {"code": "x", "timeout": "-1s"}],
)
def test_bad_configs_are_refused_at_validation(bad: dict):
    with pytest.raises(ValueError):
        ScriptConfig.model_validate(bad)


def test_missing_runtime_is_not_retryable(monkeypatch: pytest.MonkeyPatch):
    # Given a host without node / When a node script runs / Then Script.RuntimeNotFound
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    error = fail({"runtime": "node", "code": "console.log(1)"})
    assert (error.error, error.retryable) == ("Script.RuntimeNotFound", False)
