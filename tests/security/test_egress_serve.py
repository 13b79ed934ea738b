"""Issue 7, egress, end to end: a workflow run by `orchestrator serve` (default settings) cannot call the
server's own loopback API, nor anything else on this machine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e.server_process import ServerProcess

from support.counting_listener import CountingListener

ADMIN_KEY = "ork_egress-serve-admin-key"
TERMINAL = {"completed", "failed", "cancelled", "timed_out"}


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    # the server's own defaults: nothing in its environment opens private addresses
    for name in ("ORCHESTRATOR_EGRESS_ALLOW_PRIVATE", "ORCHESTRATOR_EGRESS_ALLOW"):
        monkeypatch.delenv(name, raising=False)
    with ServerProcess.running(tmp_path / "home", ADMIN_KEY) as server:
        yield server


def _execute(client: httpx.Client, url: str) -> dict[str, Any]:
    definition = {"version": "1.0", "name": "reach-home",
                  "steps": [{"id": "call", "type": "http", "retry": {"max_attempts": 1},
                             "config": {"url": url, "timeout": 5}}]}
    created = client.post("/api/v1/workflows", json={"definition": definition})
    workflow_id = created.raise_for_status().json()["id"]
    client.post(f"/api/v1/workflows/{workflow_id}/activate").raise_for_status()
    execution_id = client.post(f"/api/v1/workflows/{workflow_id}/execute", json={"input": {}}).raise_for_status().json()["id"]
    deadline = time.monotonic() + 30
    while True:
        detail = client.get(f"/api/v1/executions/{execution_id}").raise_for_status().json()
        if detail["status"] in TERMINAL:
            return detail
        assert time.monotonic() < deadline, detail
        time.sleep(0.05)


def test_a_served_workflow_cannot_call_the_servers_own_api_or_this_machine(server: ServerProcess):
    listener = CountingListener().start()
    try:
        with server.client() as client:
            # Given `orchestrator serve` with default settings
            # When a workflow's http step calls the server's own API on loopback
            own_api = _execute(client, f"http://127.0.0.1:{server.port}/api/v1/api-keys")
            # Then the execution fails with Egress.Denied
            assert own_api["status"] == "failed", own_api
            assert own_api["error"] == "Egress.Denied", (own_api["error"], own_api["cause"])
            # When another spelling of this machine is used / Then it is refused too, and no connection was made
            other = _execute(client, f"http://0x7f000001:{listener.port}/")
            assert other["status"] == "failed" and other["error"] == "Egress.Denied", (other["error"], other["cause"])
        assert listener.connections == 0
    finally:
        listener.stop()
