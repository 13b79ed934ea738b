"""One `orchestrator serve` per ORCHESTRATOR_HOME (issue 7): a second one says so in one line and exits 2.

Before, the second server started its own engine on the first one's link socket, and died with a raw
AuthenticationError traceback (while the first one lost its engine). Real processes, as a user runs them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from e2e.server_process import PROJECT, ServerProcess, free_port

from orchestrator.composition.server import HomeInUse, lock_home

ADMIN_KEY = "ork_single-instance-admin-key"


def second_serve(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "serve", "--port", str(free_port())],
        cwd=PROJECT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "ORCHESTRATOR_HOME": str(home), "ORCHESTRATOR_ADMIN_KEY": ADMIN_KEY,
             "ORCHESTRATOR_STORE": "sqlite"},
    )


@pytest.mark.slow
def test_a_second_serve_on_the_same_home_exits_2_with_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # Given a server on a home
    with ServerProcess.running(home, ADMIN_KEY) as first:
        # When a second server is started on the same home (on another port)
        second = second_serve(home)
        # Then it exits with 2 and one line on stderr that says why, and no traceback
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert "already served by process" in lines[0] and str(home.resolve()) in lines[0]
        assert str(first.process.pid if first.process else "") in lines[0]
        assert "Traceback" not in second.stderr and second.stdout == ""
        # And the first server still serves, its engine included
        health = httpx.get(f"{first.base_url}/health", timeout=5).json()
        assert health["status"] == "healthy" and health["checks"]["executor"] == "ok"
    # When the first server has stopped, Then the home can be served again
    with ServerProcess.running(home, ADMIN_KEY) as again:
        assert httpx.get(f"{again.base_url}/health", timeout=5).status_code == 200


@pytest.mark.slow
def test_a_killed_server_leaves_no_lock_behind(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # Given a server killed with SIGKILL (no shutdown code runs)
    server = ServerProcess(home=home, admin_key=ADMIN_KEY).start()
    server.kill()
    # When the home is served again, Then it starts: the kernel dropped the lock with the process
    server.start()
    try:
        assert httpx.get(f"{server.base_url}/health", timeout=5).status_code == 200
    finally:
        server.stop()


def test_the_home_lock_is_exclusive_and_released_on_close(tmp_path: Path) -> None:
    # Given the lock taken (this process is "the server")
    held = lock_home(tmp_path)
    assert held is not None
    # When it is asked for again, Then HomeInUse names the holder's pid
    with pytest.raises(HomeInUse, match=f"process {os.getpid()}"):
        lock_home(tmp_path)
    # When the holder closes it, Then it can be taken again
    held.close()
    again = lock_home(tmp_path)
    assert again is not None
    again.close()
