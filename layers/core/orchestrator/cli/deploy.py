"""`orchestrator deploy`: a workflow file sent to a running orchestrator's API, self-contained.

A server runs steps far from the file: a `script` step's `script: transform.py` means nothing there. So
the workflow is validated here first (every problem, with its location, before anything is sent) and
each script file is read and inlined as `code`, with its runtime made explicit from the file's suffix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.cli.api_client import ApiClient, CliError
from orchestrator.domain.templates import is_template
from orchestrator.domain.workflow import TaskStep, WorkflowDefinition
from orchestrator.steps.script import ScriptConfig


class DeployError(CliError):
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


__all__ = ["ApiClient", "DeployError", "bundle"]
