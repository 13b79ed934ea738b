"""A small client of the orchestrator's API for the CLI (`deploy`, `secrets`): errors worded for a person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote


class CliError(Exception):
    """What went wrong, worded for the person at the terminal."""


@dataclass
class ApiClient:
    base_url: str
    api_key: str
    timeout: float = 30.0

    def create_workflow(self, definition: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", "/api/v1/workflows", {"definition": definition})

    def activate(self, workflow_id: str) -> dict[str, Any]:
        return self._send("POST", f"/api/v1/workflows/{workflow_id}/activate", None)

    def put_secret(self, name: str, value: str) -> dict[str, Any]:
        return self._send("PUT", f"/api/v1/secrets/{quote(name, safe='')}", {"value": value})

    def list_secrets(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self._send("GET", "/api/v1/secrets" + (f"?cursor={quote(cursor, safe='')}" if cursor else ""), None)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def delete_secret(self, name: str) -> None:
        self._send("DELETE", f"/api/v1/secrets/{quote(name, safe='')}", None)

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        import httpx  # not at import time: every `orchestrator` command loads this module

        url = self.base_url.rstrip("/") + path
        try:
            response = httpx.request(method, url, json=body, timeout=self.timeout,
                                     headers={"Authorization": f"Bearer {self.api_key}"})
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {self.base_url}: {exc} (is `orchestrator serve` running?)") from None
        if response.is_success:
            return response.json() if response.content else {}
        raise CliError(f"{method} {path} answered {response.status_code}: {_error_text(response)}")


def _error_text(response: Any) -> str:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return response.text[:500]
    lines = [f"{error.get('code')}: {error.get('message')}"]
    details = error.get("details") or {}
    lines += [f"  {problem.get('location')}: {problem.get('message')}" for problem in details.get("problems", [])]
    return "\n".join(lines)
