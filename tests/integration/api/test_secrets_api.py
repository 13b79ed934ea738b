"""/api/v1/secrets: each owner's own, write-only secrets."""

from __future__ import annotations

from api_harness import Api


def test_put_list_delete_never_shows_the_value(api: Api):
    # Given alice puts a secret
    alice = api.as_owner("alice")
    put = api.client.put("/api/v1/secrets/api_token", json={"value": "alice-s3cret-value"}, headers=alice)
    # Then the answer names it, with timestamps, and holds no value
    assert put.status_code == 200
    assert set(put.json()) == {"name", "created_at", "updated_at"}
    # And listing shows names only
    listed = api.client.get("/api/v1/secrets", headers=alice)
    assert [item["name"] for item in listed.json()["items"]] == ["api_token"]
    assert "alice-s3cret-value" not in put.text + listed.text
    # When deleted / Then it is gone, and a second delete is a 404
    assert api.client.delete("/api/v1/secrets/api_token", headers=alice).status_code == 204
    assert api.client.get("/api/v1/secrets", headers=alice).json()["items"] == []
    assert api.client.delete("/api/v1/secrets/api_token", headers=alice).status_code == 404


def test_owners_see_and_delete_only_their_own(api: Api):
    # Given alice's secret
    api.client.put("/api/v1/secrets/token", json={"value": "alice-value-1"}, headers=api.as_owner("alice"))
    bob = api.as_owner("bob")
    # When bob lists, deletes, or asks for alice's by owner_id / Then nothing of alice's is reachable
    assert api.client.get("/api/v1/secrets", headers=bob).json()["items"] == []
    assert api.client.delete("/api/v1/secrets/token", headers=bob).status_code == 404
    forbidden = api.client.get("/api/v1/secrets?owner_id=alice", headers=bob)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    assert api.client.put("/api/v1/secrets/token?owner_id=alice", json={"value": "bob-overwrites"},
                          headers=bob).status_code == 403
    # And an admin key may act for alice
    admin_view = api.client.get("/api/v1/secrets?owner_id=alice", headers=api.admin).json()["items"]
    assert [item["name"] for item in admin_view] == ["token"]


def test_reserved_and_malformed_names_and_bad_values_are_located_errors(api: Api):
    alice = api.as_owner("alice")
    # Given names that spell server settings / Then 400 naming why
    for name in ("ORCHESTRATOR_ADMIN_KEY", "aws_secret_access_key"):
        response = api.client.put(f"/api/v1/secrets/{name}", json={"value": "v-value"}, headers=alice)
        assert response.status_code == 400, response.text
        assert "reserved" in response.json()["error"]["message"]
    # And malformed names, empty values and unknown fields are 422 with their location
    assert api.client.put("/api/v1/secrets/has%20space", json={"value": "v"}, headers=alice).status_code == 422
    empty = api.client.put("/api/v1/secrets/ok_name", json={"value": ""}, headers=alice)
    assert empty.status_code == 422 and "empty" in empty.text
    extra = api.client.put("/api/v1/secrets/ok_name", json={"value": "v-value", "note": 1}, headers=alice)
    assert extra.status_code == 422
    # And a failed write changed nothing
    assert api.client.get("/api/v1/secrets", headers=alice).json()["items"] == []


def test_secrets_need_a_key(api: Api):
    assert api.client.get("/api/v1/secrets").status_code == 401
    assert api.client.put("/api/v1/secrets/x_name", json={"value": "v-value"}).status_code == 401
