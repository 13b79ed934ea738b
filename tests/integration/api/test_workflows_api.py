"""Workflows over HTTP: CRUD, immutable versions, lifecycle, templates, filters and pagination."""

from __future__ import annotations

from api_harness import Api, definition, script_step


def test_create_read_update_delete_a_workflow(api: Api) -> None:
    # Given seed 002's create request: the name beside a definition that has none
    seed_definition = {"version": "1.0", "variables": {"input_file": "", "output_dir": "/tmp/output"},
                       "steps": [script_step("step1")]}
    response = api.client.post("/api/v1/workflows", headers=api.as_owner("alice"), json={
        "name": "数据处理工作流", "description": "自动化数据处理和分析流程", "definition": seed_definition,
        "tags": ["数据处理", "自动化"],
    })
    # Then it is created as a draft at version 1, owned by the key's owner, its definition named after it
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "draft" and created["current_version"] == 1 and created["owner_id"] == "alice"
    assert created["definition"]["name"] == "数据处理工作流"
    assert created["variables"] == {"input_file": "", "output_dir": "/tmp/output"}
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/api/v1/workflows/{created['id']}"

    # When it is read, renamed, and deleted
    workflow_url = f"/api/v1/workflows/{created['id']}"
    assert api.client.get(workflow_url, headers=api.as_owner("alice")).json()["name"] == "数据处理工作流"
    renamed = api.client.put(workflow_url, json={"name": "renamed"}, headers=api.as_owner("alice")).json()
    assert renamed["name"] == "renamed" and renamed["current_version"] == 1  # no definition: no new version
    assert api.client.delete(workflow_url, headers=api.as_owner("alice")).status_code == 204

    # Then it is gone
    gone = api.client.get(workflow_url, headers=api.as_owner("alice"))
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_a_new_definition_makes_a_new_immutable_version(api: Api) -> None:
    # Given a workflow at version 1
    workflow = api.create_workflow()
    url = f"/api/v1/workflows/{workflow['id']}"
    # When a new definition is saved with the ETag read (If-Match)
    changed = definition(steps=[script_step("only")])
    response = api.client.put(url, json={"definition": changed}, headers={**api.as_owner("alice"), "If-Match": '"1"'})
    # Then it becomes version 2 and version 1 stays as it was
    assert response.status_code == 200, response.text
    assert response.json()["current_version"] == 2 and response.headers["ETag"] == '"2"'
    versions = api.client.get(f"{url}/versions", headers=api.as_owner("alice")).json()
    assert [v["version"] for v in versions["items"]] == [1, 2] and versions["next_cursor"] is None
    first = api.client.get(f"{url}/versions/1", headers=api.as_owner("alice")).json()
    assert [step["id"] for step in first["definition"]["steps"]] == ["fetch", "report"]
    assert api.client.get(f"{url}/versions/3", headers=api.as_owner("alice")).status_code == 404


def test_a_stale_version_is_a_conflict(api: Api) -> None:
    # Given a workflow someone already moved to version 2
    workflow = api.create_workflow()
    url = f"/api/v1/workflows/{workflow['id']}"
    api.client.put(url, json={"definition": definition()}, headers=api.as_owner("alice"))
    # When another client saves over version 1 (body field or If-Match)
    by_body = api.client.put(url, json={"description": "x", "expected_version": 1}, headers=api.as_owner("alice"))
    by_header = api.client.put(url, json={"definition": definition()},
                               headers={**api.as_owner("alice"), "If-Match": 'W/"1"'})
    # Then both get 409 with the version the workflow is at
    for response in (by_body, by_header):
        assert response.status_code == 409
        assert response.json()["error"] == {
            "code": "version_conflict", "message": response.json()["error"]["message"],
            "details": {"expected": 1, "current": 2},
        }


def test_an_invalid_definition_lists_every_problem_with_its_location(api: Api) -> None:
    # Given a definition with an unknown step type, a dangling dependency and a misspelt field
    broken = {"name": "broken", "steps": [
        {"id": "a", "type": "scrip", "config": {}},
        {"id": "b", "type": "script", "config": {"runtime": "python", "code": "1"}, "depends_on": ["zz"], "retyr": {}},
    ]}
    # When it is created
    response = api.client.post("/api/v1/workflows", json={"definition": broken}, headers=api.as_owner("alice"))
    # Then 422 names each problem where it is, from the body's top
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_definition"
    locations = {problem["location"] for problem in error["details"]["problems"]}
    assert {"definition.steps[0].type", "definition.steps[1].depends_on[0]", "definition.steps[1].retyr"} <= locations
    assert any("did you mean 'script'" in p["message"] for p in error["details"]["problems"])
    # And nothing was stored
    assert api.client.get("/api/v1/workflows", headers=api.as_owner("alice")).json()["items"] == []


def test_lifecycle_actions_and_invalid_ones(api: Api) -> None:
    workflow = api.create_workflow()
    url = f"/api/v1/workflows/{workflow['id']}"
    headers = api.as_owner("alice")
    # Given a draft: pausing it makes no sense
    refused = api.client.post(f"{url}/pause", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "invalid_transition"
    assert refused.json()["error"]["details"] == {"current": "draft"}
    # When it is activated, paused and resumed
    assert api.client.post(f"{url}/activate", headers=headers).json()["status"] == "active"
    assert api.client.post(f"{url}/pause", headers=headers).json()["status"] == "paused"
    # Then a paused workflow cannot be executed
    blocked = api.client.post(f"{url}/execute", json={}, headers=headers)
    assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "workflow_not_runnable"
    assert api.client.post(f"{url}/resume", headers=headers).json()["status"] == "active"
    assert api.client.post(f"{url}/resume", headers=headers).json()["error"]["details"] == {"current": "active"}


def test_templates_are_listed_and_instantiated_with_their_own_variables(api: Api) -> None:
    # Given a template and an ordinary workflow
    template = api.create_workflow(definition=definition("etl", variables={"region": "eu", "batch": 10}),
                                   is_template=True, tags=["etl"])
    api.create_workflow(definition=definition("plain"))
    headers = api.as_owner("alice")
    # When templates are listed
    templates = api.client.get("/api/v1/workflows", params={"is_template": "true"}, headers=headers).json()
    assert [w["id"] for w in templates["items"]] == [template["id"]]
    # And the template is instantiated with a name and one variable overridden
    response = api.client.post(f"/api/v1/workflows/{template['id']}/instantiate",
                               json={"name": "etl-us", "variables": {"region": "us"}}, headers=headers)
    # Then a new draft workflow has the template's steps and the merged variables
    assert response.status_code == 201, response.text
    instance = response.json()
    assert instance["id"] != template["id"] and instance["is_template"] is False and instance["name"] == "etl-us"
    assert instance["variables"] == {"region": "us", "batch": 10} and instance["tags"] == ["etl"]
    assert [s["id"] for s in instance["definition"]["steps"]] == ["fetch", "report"]
    # And an ordinary workflow is no template
    plain_id = api.client.get("/api/v1/workflows", params={"is_template": "false"}, headers=headers).json()["items"]
    refused = api.client.post(f"/api/v1/workflows/{plain_id[-1]['id']}/instantiate", json={}, headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_a_template"


def test_filters_by_status_tags_and_owner(api: Api) -> None:
    # Given workflows with different tags and statuses, of two owners
    a = api.create_workflow(tags=["数据处理", "自动化"])
    b = api.create_workflow(tags=["数据处理"])
    api.create_workflow(tags=["other"])
    api.create_workflow(owner="bob", tags=["数据处理"])
    api.client.post(f"/api/v1/workflows/{a['id']}/activate", headers=api.as_owner("alice"))

    def ids(headers: dict[str, str], **params: object) -> set[str]:
        response = api.client.get("/api/v1/workflows", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return {w["id"] for w in response.json()["items"]}

    alice = api.as_owner("alice")
    # Then tags match all given, comma-separated or repeated; status and owner filter too
    assert ids(alice, tags="数据处理") == {a["id"], b["id"]}
    assert ids(alice, tags="数据处理,自动化") == {a["id"]}
    assert ids(alice, tags=["数据处理", "自动化"]) == {a["id"]}
    assert ids(alice, status="active") == {a["id"]}
    assert ids(alice, owner_id="bob") == set()  # another owner's: nothing, whatever exists
    assert len(ids(api.admin, tags="数据处理")) == 3 and len(ids(api.admin, owner_id="bob")) == 1
    bad_status = api.client.get("/api/v1/workflows", params={"status": "sleeping"}, headers=alice)
    assert bad_status.status_code == 422
    assert bad_status.json()["error"]["details"]["problems"][0]["location"] == "query.status"


def test_pages_have_no_duplicates_and_no_gaps_even_while_workflows_are_added(api: Api) -> None:
    # Given 7 workflows
    created = [api.create_workflow(definition=definition(f"w{n}"))["id"] for n in range(7)]
    seen: list[str] = []
    cursor = None
    # When they are read 3 at a time, a new workflow being created between the pages
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/api/v1/workflows", params=params, headers=api.as_owner("alice")).json()
        seen.extend(w["id"] for w in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        api.create_workflow(definition=definition("late"))
    # Then each of the first 7 came exactly once, newest first
    assert seen == list(reversed(created))
    # And a cursor that is not one is refused
    bad = api.client.get("/api/v1/workflows", params={"cursor": "not-a-cursor"}, headers=api.as_owner("alice"))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"


def test_template_filter_pages_through_a_list_of_mostly_other_workflows(api: Api) -> None:
    # Given templates scattered among ordinary workflows
    templates = []
    for n in range(9):
        is_template = n % 3 == 0
        workflow = api.create_workflow(definition=definition(f"w{n}"), is_template=is_template)
        if is_template:
            templates.append(workflow["id"])
    # When templates are read two at a time
    seen, cursor = [], None
    while True:
        params = {"is_template": "true", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/api/v1/workflows", params=params, headers=api.as_owner("alice")).json()
        assert len(page["items"]) <= 2
        seen.extend(w["id"] for w in page["items"])
        if (cursor := page["next_cursor"]) is None:
            break
    # Then every template came once, and nothing else
    assert seen == list(reversed(templates))


def test_status_diagnostic_and_statistics(api: Api) -> None:
    # Given an active workflow with a schedule trigger and two executions, one of them finished
    workflow = api.create_workflow(definition=definition(triggers=[
        {"type": "schedule", "name": "每日执行", "config": {"cron": "0 2 * * *", "timezone": "Asia/Shanghai"}},
    ]))
    url = f"/api/v1/workflows/{workflow['id']}"
    headers = api.as_owner("alice")
    api.client.post(f"{url}/activate", headers=headers)
    first = api.execute(workflow["id"])
    api.store.transition(first["id"], "queued", "running")
    api.store.transition(first["id"], "running", "completed", duration=3.0)
    second = api.execute(workflow["id"])
    # When its status and statistics are read
    status = api.client.get(f"{url}/status", headers=headers).json()
    statistics = api.client.get(f"{url}/statistics", headers=headers).json()
    # Then the status shows what runs, what ran last and what starts it
    assert status["status"] == "active" and status["current_version"] == 1
    assert status["active_executions"] == {"queued": 1, "running": 0, "paused": 0}
    assert status["last_execution"]["id"] == second["id"]
    [trigger] = status["triggers"]
    assert trigger["type"] == "schedule" and trigger["next_fire_at"] is not None
    # And the statistics count, rate and time the executions
    assert statistics["executions_by_status"] == {"completed": 1, "queued": 1}
    assert statistics["success_rate"] == 1.0 and statistics["average_duration"] == 3.0
    assert statistics["p95_duration"] == 3.0 and statistics["total_executions"] == 2
