"""Named agent profiles: who an ``agent`` step's ``agent_id`` is.

A profile is a YAML (or JSON) file in ``agents/`` next to the workflow file, or in the directory named by
the environment variable ``ORCHESTRATOR_AGENTS_DIR``; the workflow's own directory wins. The file is
``<agent_id>.yaml`` (``.yml``/``.json``), or any file there whose ``id`` key is the agent id::

    # agents/data-processor.yaml
    role: Data processing assistant
    system_prompt: You validate and load files. Use the tools; answer with a short JSON summary.
    model: gpt-4o-mini
    base_url: https://api.openai.com/v1     # default: env ORCHESTRATOR_LLM_BASE_URL, else OpenAI's
    api_key_secret: openai_api_key          # the NAME of a secret, resolved like {{secrets.openai_api_key}}
    tools: [fetch_data, {step: save_data, description: Save rows, parameters: {type: object}}]
    max_turns: 8
    tasks:                                  # optional: named instructions for the step's `task`
      process_data: Validate the file, then insert its rows with save_data.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator.domain import safe_yaml
from orchestrator.steps.base import StepError
from orchestrator.steps.chat_client import ApiType

AGENTS_DIR_ENV = "ORCHESTRATOR_AGENTS_DIR"
AGENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
_SUFFIXES = (".yaml", ".yml", ".json")


class ToolSpec(BaseModel):
    """A workflow step offered to the model as a function; ``parameters`` is its JSON Schema."""

    model_config = ConfigDict(extra="forbid")

    step: str
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "additionalProperties": True})


class AgentProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=AGENT_ID_PATTERN)
    role: str | None = None
    system_prompt: str | None = None
    model: str = Field(min_length=1)
    api_type: ApiType = "openai"
    base_url: str | None = None
    api_key_secret: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_./-]*$")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0)
    tools: list[ToolSpec] = Field(default_factory=list)
    max_turns: int = Field(10, ge=1, le=100)
    tasks: dict[str, str] = Field(default_factory=dict)

    @field_validator("tools", mode="before")
    @classmethod
    def _tool_names(cls, value: Any) -> Any:
        # a bare step id is the common case; the mapping form adds a description and a schema
        if isinstance(value, list):
            return [{"step": item} if isinstance(item, str) else item for item in value]
        return value


def profile_dirs(workflow_dir: Path | None) -> list[Path]:
    dirs = []
    if workflow_dir is not None:
        dirs.append(Path(workflow_dir) / "agents")
    env_dir = os.environ.get(AGENTS_DIR_ENV)
    if env_dir:
        dirs.append(Path(env_dir))
    return dirs


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else safe_yaml.safe_load(text)


def _invalid(agent_id: str, path: Path, problem: str) -> StepError:
    return StepError("Agent.InvalidProfile", f"agent {agent_id!r} in {path}: {problem}", retryable=False)


def _parse(agent_id: str, path: Path, data: Any) -> AgentProfile:
    if not isinstance(data, dict):
        raise _invalid(agent_id, path, "the file must hold a mapping")
    try:
        return AgentProfile.model_validate({"id": agent_id, **data})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in exc.errors())
        raise _invalid(agent_id, path, problems) from None


def load_profile(agent_id: str, workflow_dir: Path | None) -> AgentProfile:
    """The profile of ``agent_id``; ``Agent.NotFound`` names the id and every place that was searched."""
    if not re.match(AGENT_ID_PATTERN, agent_id):  # it becomes part of a file name: no paths, no dots first
        raise StepError("Agent.NotFound", f"agent id {agent_id!r} is not a valid profile name", retryable=False)
    dirs = profile_dirs(workflow_dir)
    for directory in dirs:
        for suffix in _SUFFIXES:
            path = directory / f"{agent_id}{suffix}"
            if path.is_file():
                return _parse(agent_id, path, _read(path))
    for directory in dirs:  # a profile may live in a file named otherwise, with `id: <agent_id>` inside
        if not directory.is_dir():
            continue
        for path in sorted(p for p in directory.iterdir() if p.suffix in _SUFFIXES and p.is_file()):
            try:
                data = _read(path)
            except (OSError, ValueError, yaml.YAMLError):
                continue  # a broken neighbour must not hide the profile we are looking for
            if isinstance(data, dict) and data.get("id") == agent_id:
                return _parse(agent_id, path, data)
    searched = ", ".join(str(d) for d in dirs) or (
        f"nowhere: the workflow has no directory and {AGENTS_DIR_ENV} is not set"
    )
    raise StepError(
        "Agent.NotFound",
        f"no profile for agent {agent_id!r}: looked for {agent_id}.yaml (or a file with id: {agent_id}) in {searched}",
        retryable=False,
    )
