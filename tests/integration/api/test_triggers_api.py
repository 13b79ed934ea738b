"""Triggers over HTTP: configs checked with locations, schedules armed, seed 002's partial update."""

from __future__ import annotations

from api_harness import Api, definition


def _triggers_url(workflow_id: str) -> str:
    return f"/api/v1/workflows/{workflow_id}/triggers"


def test_a_schedule_trigger_is_created_armed_and_updated_like_seed_002(api: Api) -> None:
    workflow = api.create_workflow()
    headers = api.as_owner("alice")
    # When seed 002's schedule trigger is added
    response = api.client.post(_triggers_url(workflow["id"]), headers=headers, json={
        "type": "schedule", "name": "每日数据处理", "config": {"cron": "0 2 * * *", "timezone": "Asia/Shanghai"},
        "is_enabled": True,
    })
    # Then it is stored with its next fire time (02:00 Shanghai is 18:00 UTC)
    assert response.status_code == 201, response.text
    trigger = response.json()
    assert trigger["trigger_count"] == 0 and trigger["last_triggered"] is None
    assert trigger["next_fire_at"].endswith("T18:00:00.000+00:00")
    # When seed 002's update changes the cron and disables it
    updated = api.client.put(f"/api/v1/triggers/{trigger['id']}", headers=headers,
                             json={"config": {"cron": "0 3 * * *"}, "is_enabled": False})
    # Then the time zone is kept (the config is merged), and a disabled schedule has no next fire
    assert updated.status_code == 200, updated.text
    assert updated.json()["config"] == {"cron": "0 3 * * *", "timezone": "Asia/Shanghai"}
    assert updated.json()["is_enabled"] is False and updated.json()["next_fire_at"] is None
    assert api.client.get(f"/api/v1/triggers/{trigger['id']}", headers=headers).json()["config"]["cron"] == "0 3 * * *"
    # When it is deleted, it is gone
    assert api.client.delete(f"/api/v1/triggers/{trigger['id']}", headers=headers).status_code == 204
    assert api.client.get(f"/api/v1/triggers/{trigger['id']}", headers=headers).status_code == 404


def test_invalid_configs_are_422_with_each_location(api: Api) -> None:
    workflow = api.create_workflow()
    headers = api.as_owner("alice")
    cases = [
        ({"type": "schedule", "config": {"cron": "61 * * *", "timezone": "Mars/Base"}},
         {"config.cron", "config.timezone"}),
        ({"type": "event", "config": {"pattern": {"source": "orders"}}}, {"config.pattern"}),
        ({"type": "webhook", "config": {"path": "no-slash", "method": "POST"}}, {"config.path"}),
        ({"type": "cron", "config": {}}, {"type"}),
    ]
    for body, locations in cases:
        response = api.client.post(_triggers_url(workflow["id"]), headers=headers, json=body)
        assert response.status_code == 422, (body, response.text)
        problems = response.json()["error"]["details"]["problems"]
        assert {problem["location"] for problem in problems} >= locations, (body, problems)
    # And nothing was stored
    assert api.client.get(_triggers_url(workflow["id"]), headers=headers).json()["items"] == []
    # And an update that breaks the config is refused without changing it
    trigger = api.client.post(_triggers_url(workflow["id"]), headers=headers,
                              json={"type": "schedule", "config": {"cron": "0 2 * * *"}}).json()
    refused = api.client.put(f"/api/v1/triggers/{trigger['id']}", headers=headers, json={"config": {"cron": "bad"}})
    assert refused.status_code == 422
    assert api.client.get(f"/api/v1/triggers/{trigger['id']}", headers=headers).json()["config"]["cron"] == "0 2 * * *"


def test_a_workflow_files_triggers_are_created_with_it_and_checked_before(api: Api) -> None:
    headers = api.as_owner("alice")
    # Given a definition whose second trigger has a broken cron
    broken = definition(triggers=[{"type": "manual"}, {"type": "schedule", "config": {"cron": "0 2 * *"}}])
    response = api.client.post("/api/v1/workflows", json={"definition": broken}, headers=headers)
    # Then the problem is located in the definition and nothing is stored
    assert response.status_code == 422
    assert response.json()["error"]["details"]["problems"][0]["location"].startswith("definition.triggers[1]")
    assert api.client.get("/api/v1/workflows", headers=headers).json()["items"] == []
    # When the triggers are fine, the workflow comes with them
    good = definition(triggers=[{"type": "webhook", "name": "手动触发", "config": {"path": "/webhook/data-process"}}])
    workflow = api.create_workflow(definition=good)
    [trigger] = api.client.get(_triggers_url(workflow["id"]), headers=headers).json()["items"]
    assert trigger["type"] == "webhook" and trigger["config"]["path"] == "/webhook/data-process"


def test_trigger_lists_are_paged_oldest_first_and_literal_secrets_never_shown(api: Api) -> None:
    workflow = api.create_workflow()
    headers = api.as_owner("alice")
    created = [
        api.client.post(_triggers_url(workflow["id"]), headers=headers,
                        json={"type": "manual", "name": f"t{n}"}).json()["id"]
        for n in range(5)
    ]
    hook = api.client.post(_triggers_url(workflow["id"]), headers=headers, json={
        "type": "webhook", "config": {"path": "/hooks/secret", "secret": "hunter2-literal"}}).json()
    created.append(hook["id"])
    assert hook["config"]["secret"] == "***" and "hunter2" not in str(hook)
    seen, cursor = [], None
    while True:
        page = api.client.get(_triggers_url(workflow["id"]), headers=headers,
                              params={"limit": 4, **({"cursor": cursor} if cursor else {})}).json()
        seen.extend(t["id"] for t in page["items"])
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == created


def test_deleting_a_workflow_hides_its_triggers(api: Api) -> None:
    workflow = api.create_workflow()
    headers = api.as_owner("alice")
    trigger = api.client.post(_triggers_url(workflow["id"]), headers=headers, json={"type": "manual"}).json()
    api.client.delete(f"/api/v1/workflows/{workflow['id']}", headers=headers)
    assert api.client.get(f"/api/v1/triggers/{trigger['id']}", headers=headers).status_code == 404
    assert api.store.get_trigger(trigger["id"]).is_enabled is False
