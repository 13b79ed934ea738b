"""`orchestrator deploy`: a workflow file sent to a running orchestrator's API, self-contained.

A server runs steps far from the file: a `script` step's `script: transform.py` means nothing there. So
the workflow is validated here first (every problem, with its location, before anything is sent) and
each script file is read and inlined as `code`, with its runtime made explicit from the file's suffix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from orchestrator.domain.templates import is_template
from orchestrator.domain.workflow import TaskStep, WorkflowDefinition
from orchestrator.steps.script import ScriptConfig


class DeployError(Exception):
    """What went wrong, worded for the person at the terminal."""


def bundle(definition: WorkflowDefinition, base: Path) -> dict[str, Any]:
    """``definition`` (loaded from a file in ``base``) as the API's ``definition``, script files inlined.

    Raises DeployError for a script file that cannot be read."""
    _inline_scripts(definition, base)
    return definition.model_dump(mode="json", exclude_unset=True, by_alias=True)


def _inline_scripts(definition: WorkflowDefinition, base: Path) -> None:
    for step in definition.iter_steps():
        script = step.config.get("script") if isinstance(step, TaskStep) and step.type == "script" else None
        if not isinstance(script, str) or is_template(script):
            continue
        path = (base / script).resolve()
        try:
            code = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DeployError(f"step {step.id!r}: cannot read its script {str(path)!r}: {exc}") from None
        # the executor's own rule (runtime from the suffix), applied while the file name is still known
        runtime = ScriptConfig.model_validate(step.config).runtime
        step.config = {key: value for key, value in step.config.items() if key != "script"} | {
            "code": code, "runtime": runtime}


@dataclass
class ApiClient:
    base_url: str
    api_key: str
    timeout: float = 30.0

    def create_workflow(self, definition: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", "/api/v1/workflows", {"definition": definition})

    def activate(self, workflow_id: str) -> dict[str, Any]:
        return self._send("POST", f"/api/v1/workflows/{workflow_id}/activate", None)

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        url = self.base_url.rstrip("/") + path
        try:
            response = httpx.request(method, url, json=body, timeout=self.timeout,
                                     headers={"Authorization": f"Bearer {self.api_key}"})
        except httpx.HTTPError as exc:
            raise DeployError(f"cannot reach {self.base_url}: {exc} (is `orchestrator serve` running?)") from None
        if response.is_success:
            return response.json()
        raise DeployError(f"{method} {path} answered {response.status_code}: {_error_text(response)}")


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return response.text[:500]
    lines = [f"{error.get('code')}: {error.get('message')}"]
    details = error.get("details") or {}
    lines += [f"  {problem.get('location')}: {problem.get('message')}" for problem in details.get("problems", [])]
    return "\n".join(lines)
