"""How many executions per second `orchestrator serve` accepts over HTTP, and how fast it answers.

    .venv/bin/python benchmarks/api.py                    # 10 s of load at 16, 32 and 64 connections
    .venv/bin/python benchmarks/api.py --quick            # 3 s at 32 connections
    .venv/bin/python benchmarks/api.py --profile DIR      # also py-spy the server (needs py-spy on PATH)
    .venv/bin/python benchmarks/api.py --server-pythonpath DIR   # e.g. a dir with uvloop + httptools

It starts the server itself, as a user would: ``python -m orchestrator.cli serve`` on a free port, with a
temporary ORCHESTRATOR_HOME (SQLite) and a known admin key. One workflow with one trivial step (a
``condition``: no child process) is created and activated. Then, for each concurrency level:

* acceptance: N asyncio clients (one keep-alive HTTP/1.1 connection each) POST
  /api/v1/workflows/{id}/execute back to back for the window; every 202 is an accepted execution (saved
  as queued in the store, announced to the worker pool). Reported: accepted per second, p50/p99 latency.
* reads: the same N clients GET /api/v1/executions/{id} of accepted executions for half the window.

The server also runs what it accepts (its engine process, with the worker pool and the interpreter, shares
the 2 cores with the API process): the output says how many executions completed during the acceptance
window, and the CPU figure is both processes'.

The goal line: at least 500 accepted per second (best concurrency level) on a 2-core machine with SQLite.
Exit status 0 on PASS, 1 on FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
ADMIN_KEY = "ork_benchmark-admin-key"
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
GOAL_PER_SECOND = 500.0

WORKFLOW = {
    "version": "1.0",
    "name": "api-benchmark",
    "steps": [{"id": "check", "type": "condition", "config": {"expression": "input.n >= 0"}}],
}


# -- the server ---------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    home: Path
    port: int
    extra_pythonpath: str | None = None
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.home.parent / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "ORCHESTRATOR_HOME": str(self.home), "ORCHESTRATOR_ADMIN_KEY": ADMIN_KEY,
               "ORCHESTRATOR_STORE": "sqlite", "POWERTOOLS_METRICS_DISABLED": "true"}
        if self.extra_pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [self.extra_pythonpath, env.get("PYTHONPATH")]))
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "orchestrator.cli", "serve", "--port", str(self.port)],
                cwd=ROOT, stdout=log, stderr=log, env=env,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"the server did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def cpu_seconds(self) -> float | None:
        """User + system CPU so far of the server and its engine child (Linux /proc), None elsewhere."""
        assert self.process is not None
        pids = [self.process.pid]
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            pids += [int(child) for child in children]
            total = 0.0
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return None
        return total


# -- load ---------------------------------------------------------------------------------------------------------


@dataclass
class Window:
    label: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def error(self, key: str) -> None:
        self.errors[key] = self.errors.get(key, 0) + 1


class Connection:
    """One keep-alive HTTP/1.1 connection on asyncio streams: a load client that costs little CPU.

    httpx's AsyncClient spends milliseconds of CPU per request once 32+ requests share its pool; on a
    2-core machine that CPU is taken from the server under test, so the load is sent this way.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._auth = HEADERS["Authorization"]

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        payload = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: {self._auth}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
        self._writer.write(head.encode() + payload)
        try:
            header = await self._reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        status = int(header[9:12])
        length = 0
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
                length = -1 if length == 0 else length
        content = await self._reader.readexactly(length) if length > 0 else b""
        return status, content

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


async def _run_clients(url: str, concurrency: int, seconds: float, window: Window, request: Any) -> None:
    parsed = httpx.URL(url)
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()

    async def one_client(number: int) -> None:
        rng = random.Random(number)
        connection = Connection(parsed.host, parsed.port or 80)
        try:
            while time.perf_counter() < deadline:
                await request(connection, window, rng)
        finally:
            await connection.close()

    await asyncio.gather(*(one_client(number) for number in range(concurrency)))
    window.seconds = time.perf_counter() - started


def accept_load(url: str, workflow_id: str, concurrency: int, seconds: float) -> Window:
    window = Window(f"POST execute x{concurrency}")
    path = f"/api/v1/workflows/{workflow_id}/execute"

    async def post(connection: Connection, window: Window, rng: random.Random) -> None:
        began = time.perf_counter()
        try:
            status, content = await connection.request("POST", path, {"input": {"n": rng.randrange(1000)}})
        except (OSError, asyncio.IncompleteReadError) as exc:
            window.error(type(exc).__name__)
            return
        if status == 202:
            window.latencies.append(time.perf_counter() - began)
            window.ids.append(json.loads(content)["id"])
        else:
            window.error(str(status))

    asyncio.run(_run_clients(url, concurrency, seconds, window, post))
    return window


def read_load(url: str, ids: list[str], concurrency: int, seconds: float) -> Window:
    window = Window(f"GET execution x{concurrency}")

    async def get(connection: Connection, window: Window, rng: random.Random) -> None:
        began = time.perf_counter()
        try:
            status, _ = await connection.request("GET", f"/api/v1/executions/{rng.choice(ids)}")
        except (OSError, asyncio.IncompleteReadError) as exc:
            window.error(type(exc).__name__)
            return
        if status == 200:
            window.latencies.append(time.perf_counter() - began)
        else:
            window.error(str(status))

    asyncio.run(_run_clients(url, concurrency, seconds, window, get))
    return window


def counts(client: httpx.Client, workflow_id: str) -> dict[str, int]:
    stats = client.get(f"/api/v1/workflows/{workflow_id}/statistics").raise_for_status().json()
    by_status = stats.get("executions_by_status") or {}
    return {str(key): int(value) for key, value in by_status.items()}


# -- main ---------------------------------------------------------------------------------------------------------


def start_profiler(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy")
    if spy is None:
        print("--profile: py-spy is not on PATH (pip install py-spy); not profiling", file=sys.stderr)
        return None
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(int(seconds) + 1), "--rate", "200",
         "--format", "raw", "--output", str(out / "server.folded"), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="3 s at 32 connections")
    parser.add_argument("--seconds", type=float, default=None, help="length of each acceptance window")
    parser.add_argument("--concurrency", type=int, nargs="+", default=None, help="connections (default 16 32 64)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="py-spy the server during the first acceptance window; folded stacks in DIR")
    parser.add_argument("--server-pythonpath", default=None,
                        help="prepended to the server's PYTHONPATH (try uvloop/httptools without installing them)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    levels = args.concurrency or ([32] if args.quick else [16, 32, 64])

    workdir = Path(tempfile.mkdtemp(prefix="orchestrator-api-bench-"))
    server = Server(workdir / "home", free_port(), args.server_pythonpath)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
          f"server home {server.home} (SQLite)")
    server.start()
    results: list[tuple[Window, Window, dict[str, Any]]] = []
    try:
        with httpx.Client(base_url=server.url, headers=HEADERS, timeout=30) as client:
            workflow_id = client.post("/api/v1/workflows", json={"definition": WORKFLOW}).raise_for_status().json()["id"]
            client.post(f"/api/v1/workflows/{workflow_id}/activate").raise_for_status()
            accept_load(server.url, workflow_id, 8, 1.0)  # warm-up: imports, caches, the SQLite file
            for index, concurrency in enumerate(levels):
                before = counts(client, workflow_id)
                cpu_before, client_before = server.cpu_seconds(), _own_cpu()
                profiler = (start_profiler(server.process.pid, args.profile, seconds)  # type: ignore[union-attr]
                            if args.profile and index == 0 else None)
                accepted = accept_load(server.url, workflow_id, concurrency, seconds)
                cpu_after, client_after = server.cpu_seconds(), _own_cpu()
                after = counts(client, workflow_id)
                if profiler is not None:
                    profiler.wait(timeout=60)
                reads = read_load(server.url, accepted.ids or [""], concurrency, seconds / 2)
                extra = {
                    "completed": after.get("completed", 0) - before.get("completed", 0),
                    "server_cpu": (cpu_after - cpu_before) if cpu_before is not None and cpu_after is not None else None,
                    "client_cpu": client_after - client_before,
                }
                results.append((accepted, reads, extra))
                _print_level(accepted, reads, extra)
    finally:
        server.stop()
    best = max(accepted.per_second for accepted, _, _ in results)
    verdict = "PASS" if best >= GOAL_PER_SECOND else "FAIL"
    print(f"goal: at least {GOAL_PER_SECOND:.0f} executions accepted per second on this machine with SQLite: "
          f"best {best:.0f}/s -> {verdict}")
    if args.profile:
        print(f"py-spy folded stacks: {args.profile / 'server.folded'}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if verdict == "PASS" else 1


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _print_level(accepted: Window, reads: Window, extra: dict[str, Any]) -> None:
    errors = f", errors {accepted.errors}" if accepted.errors else ""
    cpu = extra["server_cpu"]
    server_cpu = f"server CPU {cpu / accepted.seconds:.2f} cores" if cpu is not None else "server CPU n/a"
    print(f"{accepted.label:>22}: {len(accepted.latencies):6d} accepted in {accepted.seconds:5.1f} s = "
          f"{accepted.per_second:7.1f}/s   p50 {accepted.percentile(0.5):6.1f} ms   p99 {accepted.percentile(0.99):7.1f} ms"
          f"{errors}")
    print(f"{'':>22}  {extra['completed']} executions completed in that window; {server_cpu}, "
          f"load client CPU {extra['client_cpu'] / accepted.seconds:.2f} cores")
    read_errors = f", errors {reads.errors}" if reads.errors else ""
    print(f"{reads.label:>22}: {len(reads.latencies):6d} answered in {reads.seconds:5.1f} s = "
          f"{reads.per_second:7.1f}/s   p50 {reads.percentile(0.5):6.1f} ms   p99 {reads.percentile(0.99):7.1f} ms"
          f"{read_errors}")


if __name__ == "__main__":
    sys.exit(main())
