"""Open event streams wait on threads of their own: many of them cannot starve the API for other owners,
and one owner may hold only its share of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from e2e.server_process import ServerProcess

from orchestrator.api.stream_slots import StreamSlots, TooManyStreams

ADMIN_KEY = "ork_stream-starvation-admin-key"


def test_an_owner_gets_its_share_of_stream_slots_and_gives_them_back():
    slots = StreamSlots(per_owner=2)
    # Given mallory holding her two / When she asks for a third / Then she is refused; alice is not
    slots.take("mallory")
    slots.take("mallory")
    with pytest.raises(TooManyStreams, match="2"):
        slots.take("mallory")
    slots.take("alice")
    # And a closed stream gives its slot back
    slots.give_back("mallory")
    slots.take("mallory")
    assert slots.open_count("mallory") == 2 and slots.open_count("alice") == 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess.running(tmp_path_factory.mktemp("streams") / "home", ADMIN_KEY) as server:
        yield server


def test_many_open_streams_do_not_starve_the_api(server: ServerProcess):
    # Given mallory's long-running execution and her key
    with server.client() as admin:
        key = admin.post("/api/v1/api-keys", json={"owner_id": "mallory"}).json()["key"]
    headers = {"Authorization": f"Bearer {key}"}
    definition = {"name": "slow", "steps": [{"id": "wait", "type": "script", "config": {
        "runtime": "python", "code": "import time; time.sleep(30); print('{}')"}}]}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as mallory:
        workflow = mallory.post("/api/v1/workflows", json={"definition": definition}).json()
        mallory.post(f"/api/v1/workflows/{workflow['id']}/activate")
        execution = mallory.post(f"/api/v1/workflows/{workflow['id']}/execute", json={}).json()
        # When she opens 16 event streams (twice the API's 8 threads) and keeps them open
        opened, stop = [], threading.Event()

        def hold() -> None:
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client, \
                    client.stream("GET", f"/api/v1/executions/{execution['id']}/events") as response:
                opened.append(response.status_code)
                for _ in response.iter_lines():
                    if stop.is_set():
                        return

        holders = [threading.Thread(target=hold, daemon=True) for _ in range(16)]
        for holder in holders:
            holder.start()
        deadline = time.monotonic() + 15
        while len(opened) < 16 and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            assert opened == [200] * 16
            # Then the API still answers everyone at once
            started = time.monotonic()
            with server.client() as admin:
                assert admin.get("/api/v1/workflows?limit=1").status_code == 200
            assert httpx.get(f"{server.base_url}/health", timeout=10).status_code == 200
            assert time.monotonic() - started < 3
            # And a 17th stream of hers is refused with 429, saying why
            refused = mallory.get(f"/api/v1/executions/{execution['id']}/events")
            assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_streams"
        finally:
            stop.set()
            mallory.post(f"/api/v1/executions/{execution['id']}/cancel")
