"""Executions over HTTP: submit, list, detail, control (with 409 on invalid transitions), logs, steps."""

from __future__ import annotations

import json

from api_harness import Api

from orchestrator.domain.records import LogLine, StepExecutionRecord, StepStatus


def _running_execution(api: Api, owner: str = "alice") -> dict:
    workflow = api.create_workflow(owner=owner)
    execution = api.execute(workflow["id"], owner=owner, input={"input_file": "data.csv"}, priority=5)
    api.store.transition(execution["id"], "queued", "running")
    return execution


def test_execute_queues_an_execution_and_announces_it(api: Api) -> None:
    workflow = api.create_workflow()
    # When seed 002's execute request is sent
    response = api.client.post(f"/api/v1/workflows/{workflow['id']}/execute", headers=api.as_owner("alice"), json={
        "input": {"input_file": "data.csv", "parameters": {"batch_size": 1000}}, "priority": 5})
    # Then it is accepted (202) as a queued execution of version 1, and put on the queue
    assert response.status_code == 202, response.text
    execution = response.json()
    assert execution["status"] == "queued" and execution["workflow_version"] == 1 and execution["priority"] == 5
    assert execution["input"] == {"input_file": "data.csv", "parameters": {"batch_size": 1000}}
    assert response.headers["Location"] == f"/api/v1/executions/{execution['id']}"
    assert api.queue.sent == [execution["id"]]
    # And a misspelt field is refused rather than ignored
    typo = api.client.post(f"/api/v1/workflows/{workflow['id']}/execute", headers=api.as_owner("alice"),
                           json={"priorty": 9})
    assert typo.status_code == 422 and typo.json()["error"]["details"]["problems"][0]["location"] == "priorty"


def test_list_filters_by_workflow_and_status_and_pages_without_gaps(api: Api) -> None:
    first = api.create_workflow()
    second = api.create_workflow()
    ids = [api.execute(first["id"])["id"] for _ in range(5)]
    other = api.execute(second["id"])["id"]
    api.store.transition(ids[0], "queued", "running")
    headers = api.as_owner("alice")

    def listed(**params: object) -> list[str]:
        seen, cursor = [], None
        while True:
            page = api.client.get("/api/v1/executions", headers=headers,
                                  params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})}).json()
            seen.extend(e["id"] for e in page["items"])
            if (cursor := page["next_cursor"]) is None:
                return seen

    assert listed() == [other, *reversed(ids)]
    assert listed(workflow_id=first["id"]) == list(reversed(ids))
    assert listed(status="running") == [ids[0]]
    assert listed(workflow_id=first["id"], status="queued") == list(reversed(ids[1:]))


def test_detail_shows_the_step_executions(api: Api) -> None:
    execution = _running_execution(api)
    api.store.upsert_step_execution(StepExecutionRecord(execution_id=execution["id"], step_id="fetch",
                                                        status=StepStatus.SUCCEEDED, output={"rows": 3}))
    detail = api.client.get(f"/api/v1/executions/{execution['id']}", headers=api.as_owner("alice")).json()
    assert detail["status"] == "running"
    assert [(s["step_id"], s["status"], s["output"]) for s in detail["steps"]] == [("fetch", "succeeded", {"rows": 3})]


def test_pause_resume_cancel_and_the_409s_of_invalid_transitions(api: Api) -> None:
    execution = _running_execution(api)
    url = f"/api/v1/executions/{execution['id']}"
    headers = api.as_owner("alice")
    # Given a running execution: resume makes no sense
    refused = api.client.post(f"{url}/resume", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "invalid_transition"
    assert refused.json()["error"]["details"]["current"] == "running"
    # When it is paused, resumed and cancelled
    assert api.client.post(f"{url}/pause", headers=headers).json()["status"] == "paused"
    assert api.client.post(f"{url}/resume", headers=headers).json()["status"] == "running"
    cancelled = api.client.post(f"{url}/cancel", headers=headers).json()
    assert cancelled["status"] == "cancelled" and cancelled["ended_at"] is not None
    # Then a cancelled execution can be neither paused nor cancelled again
    for action in ("pause", "cancel", "resume"):
        response = api.client.post(f"{url}/{action}", headers=headers)
        assert response.status_code == 409, action
        assert response.json()["error"]["details"]["current"] == "cancelled"


def test_retry_makes_a_new_execution_of_a_finished_one(api: Api) -> None:
    execution = _running_execution(api)
    url = f"/api/v1/executions/{execution['id']}"
    headers = api.as_owner("alice")
    # Given a running execution: nothing to retry yet
    early = api.client.post(f"{url}/retry", headers=headers)
    assert early.status_code == 409 and early.json()["error"]["details"]["current"] == "running"
    # When it failed and is retried on the latest version
    api.store.transition(execution["id"], "running", "failed", error="Script.ExitCode")
    api.client.put(f"/api/v1/workflows/{execution['workflow_id']}",
                   json={"definition": {"name": "v2", "steps": [{"id": "s", "type": "script",
                                                                 "config": {"runtime": "python", "code": "1"}}]}},
                   headers=headers)
    response = api.client.post(f"{url}/retry", params={"version": "latest"}, headers=headers)
    # Then a new queued execution points back at it and runs version 2
    assert response.status_code == 202, response.text
    retried = response.json()
    assert retried["retry_of"] == execution["id"] and retried["status"] == "queued"
    assert retried["workflow_version"] == 2 and retried["input"] == execution["input"]
    assert api.client.post(f"{url}/retry", params={"version": "newest"}, headers=headers).status_code == 422


def test_logs_are_filtered_by_step_and_paged_in_order(api: Api) -> None:
    execution = _running_execution(api)
    api.store.append_logs(execution["id"], [
        LogLine(step_id="fetch" if n % 2 else "report", message=f"line {n}") for n in range(1, 8)
    ])
    headers = api.as_owner("alice")
    url = f"/api/v1/executions/{execution['id']}/logs"

    def messages(**params: object) -> list[str]:
        seen, cursor = [], None
        while True:
            page = api.client.get(url, headers=headers,
                                  params={**params, "limit": 3, **({"cursor": cursor} if cursor else {})}).json()
            seen.extend(line["message"] for line in page["items"])
            if (cursor := page["next_cursor"]) is None:
                return seen

    assert messages() == [f"line {n}" for n in range(1, 8)]
    assert messages(step_id="fetch") == ["line 1", "line 3", "line 5", "line 7"]
    assert api.client.get(url, params={"cursor": "x"}, headers=headers).status_code == 400


def test_step_execution_output_comes_from_blob_storage_when_large(api: Api) -> None:
    execution = _running_execution(api)
    ref = api.store.blobs.put(f"{execution['id']}/fetch.json", json.dumps({"rows": list(range(100))}).encode())
    step = api.store.upsert_step_execution(StepExecutionRecord(
        execution_id=execution["id"], step_id="fetch", status=StepStatus.SUCCEEDED, output_ref=ref))
    headers = api.as_owner("alice")
    read = api.client.get(f"/api/v1/step-executions/{step.id}", headers=headers).json()
    assert read["output"] is None and read["output_ref"] == ref
    output = api.client.get(f"/api/v1/step-executions/{step.id}/output", headers=headers).json()
    assert output == {"step_execution_id": step.id, "step_id": "fetch", "output": {"rows": list(range(100))}}


def test_retrying_a_step_reruns_the_execution_from_it(api: Api) -> None:
    execution = _running_execution(api)
    step = api.store.upsert_step_execution(StepExecutionRecord(
        execution_id=execution["id"], step_id="report", status=StepStatus.FAILED, error="Script.ExitCode"))
    headers = api.as_owner("alice")
    url = f"/api/v1/step-executions/{step.id}/retry"
    assert api.client.post(url, headers=headers).status_code == 409  # the execution still runs
    api.store.transition(execution["id"], "running", "failed")
    response = api.client.post(url, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["retry_of"] == execution["id"]
    assert api.store.step_results.get(response.json()["id"], "$retry") == {"from_step": "report"}
