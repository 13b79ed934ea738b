"""The OpenAPI document: every operation tagged, typed and with its errors, so tools can exercise the API."""

from __future__ import annotations

from api_harness import Api

_METHODS = {"get", "post", "put", "delete", "patch"}


def test_every_operation_has_a_tag_a_typed_success_and_documented_errors(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    assert document["info"]["title"] == "Orchestrator API"
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in _METHODS
    ]
    assert len(operations) >= 35
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("tags"), where
        success = next(code for code in operation["responses"] if code.startswith("2"))
        if success != "204":
            assert operation["responses"][success].get("content"), where
        if path.startswith("/api/v1/") and path != "/api/v1/events":
            assert "401" in operation["responses"], where
            error = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorResponse"}, where
            assert operation.get("security"), where  # both key headers are declared
    schemes = document["components"]["securitySchemes"]
    assert {scheme["type"] for scheme in schemes.values()} == {"http", "apiKey"}


def test_docs_page_is_served(api: Api) -> None:
    response = api.client.get("/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()
