"""Agent profiles: where they are found, what they must hold, and how errors name them."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.steps.agent import AgentConfig, http_arguments
from orchestrator.steps.agent_profiles import load_profile
from orchestrator.steps.base import StepError


def write(directory: Path, name: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)


def test_profile_by_file_name_with_tool_forms(tmp_path: Path) -> None:
    # Given agents/analyst.yaml with a bare tool id and a tool mapping
    write(tmp_path / "agents", "analyst.yaml",
          "model: gpt-4o\nrole: analyst\ntools: [fetch, {step: save, description: Save it}]\n")
    # When it is loaded
    profile = load_profile("analyst", tmp_path)
    # Then both tool forms are normalised and defaults apply
    assert profile.id == "analyst" and profile.max_turns == 10
    assert [(t.step, t.description) for t in profile.tools] == [("fetch", None), ("save", "Save it")]
    assert profile.tools[0].parameters == {"type": "object", "additionalProperties": True}


def test_workflow_directory_wins_over_the_env_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the same agent in the workflow's agents/ and in ORCHESTRATOR_AGENTS_DIR
    write(tmp_path / "wf" / "agents", "a.yaml", "model: local-model\n")
    write(tmp_path / "shared", "a.yaml", "model: shared-model\n")
    monkeypatch.setenv("ORCHESTRATOR_AGENTS_DIR", str(tmp_path / "shared"))
    # Then the workflow's own profile is used; without it, the shared one
    assert load_profile("a", tmp_path / "wf").model == "local-model"
    assert load_profile("a", None).model == "shared-model"


def test_json_profiles_and_ids_inside_files(tmp_path: Path) -> None:
    write(tmp_path / "agents", "team.json", '{"id": "data-analyst", "model": "m"}')
    write(tmp_path / "agents", "broken.yaml", "model: [unclosed\n")  # a broken neighbour is skipped
    assert load_profile("data-analyst", tmp_path).model == "m"


def test_invalid_profile_lists_its_problems(tmp_path: Path) -> None:
    write(tmp_path / "agents", "bad.yaml", "model: m\nmax_turns: 0\ncolour: blue\n")
    with pytest.raises(StepError) as caught:
        load_profile("bad", tmp_path)
    error = caught.value
    assert error.error == "Agent.InvalidProfile" and not error.retryable
    assert "max_turns" in error.cause and "colour" in error.cause and "bad.yaml" in error.cause


@pytest.mark.parametrize("agent_id", ["../secrets", "a/b", ".hidden", ""])
def test_ids_that_are_paths_are_refused(tmp_path: Path, agent_id: str) -> None:
    with pytest.raises(StepError) as caught:
        load_profile(agent_id, tmp_path)
    assert caught.value.error == "Agent.NotFound"


def test_missing_everywhere_says_where_it_looked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCHESTRATOR_AGENTS_DIR", raising=False)
    with pytest.raises(StepError, match="ORCHESTRATOR_AGENTS_DIR is not set"):
        load_profile("ghost", None)


def test_seed_002_agent_step_is_valid() -> None:
    config = AgentConfig.model_validate({"agent_id": "data-analyst", "task": "analyze_sales_data", "timeout": "10m"})
    assert config.timeout == 600.0 and config.max_turns is None


def test_http_tool_arguments_become_query_or_json() -> None:
    # Given the model's arguments for a GET and for a POST step
    get = http_arguments({"url": "http://h/x", "query": {"page": 1}}, {"q": "books"})
    post = http_arguments({"method": "post", "url": "http://h/x", "json": {"a": 1}}, {"b": 2})
    # Then GET gets them as query parameters and POST as JSON keys, over the step's own
    assert get["query"] == {"page": 1, "q": "books"}
    assert post["json"] == {"a": 1, "b": 2}
    with pytest.raises(StepError, match="not an object"):
        http_arguments({"method": "POST", "url": "http://h", "json": [1]}, {"b": 2})
