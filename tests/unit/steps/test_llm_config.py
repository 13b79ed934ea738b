"""The llm step's config, JSON answer checking and request building (no network)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from orchestrator.steps.chat_client import Usage
from orchestrator.steps.llm import (
    InvalidAnswer,
    LlmConfig,
    build_messages,
    parse_json_answer,
    response_format_payload,
)

SCHEMA = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "integer"}}},
          "required": ["items"]}


def test_seed_002_llm_step_is_valid() -> None:
    # Given seed 002's llm step
    config = LlmConfig.model_validate({"model": "gpt-4", "prompt": "请为以下数据生成摘要: ...", "max_tokens": 500})
    # Then the defaults are the documented ones
    assert (config.api_type, config.response_format, config.timeout, config.max_retries) == ("openai", "text", 60.0, 2)


@pytest.mark.parametrize(("change", "message"), [
    ({"prompt": None}, "set `prompt`"),
    ({"response_format": "json_schema"}, "needs `json_schema`"),
    ({"response_format": "json_schema", "json_schema": {"type": "nope"}}, "not a valid JSON Schema"),
    ({"json_schema": SCHEMA}, "only used with"),
    ({"api_type": "azure"}, "openai"),
    ({"temperature": 3}, "less than or equal to 2"),
    ({"max_tokens": 0}, "greater than 0"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "role"),
])
def test_config_mistakes_are_reported(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LlmConfig.model_validate({"model": "m", "prompt": "p", **change})


def test_api_key_is_hidden_in_repr() -> None:
    config = LlmConfig.model_validate({"model": "m", "prompt": "p", "api_key": "sk-very-secret"})
    assert "sk-very-secret" not in repr(config)


def test_messages_are_system_then_history_then_prompt() -> None:
    config = LlmConfig.model_validate({"model": "m", "system_prompt": "S", "prompt": "P",
                                       "messages": [{"role": "user", "content": "U"}]})
    assert build_messages(config) == [{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
                                      {"role": "user", "content": "P"}]


def test_response_format_payloads() -> None:
    as_json = LlmConfig.model_validate({"model": "m", "prompt": "p", "response_format": "json"})
    with_schema = LlmConfig.model_validate({"model": "m", "prompt": "p", "response_format": "json_schema",
                                            "json_schema": SCHEMA, "schema_name": "items"})
    assert response_format_payload(as_json) == {"type": "json_object"}
    assert response_format_payload(with_schema) == {"type": "json_schema",
                                                    "json_schema": {"name": "items", "schema": SCHEMA}}


@pytest.mark.parametrize("content", ['{"items": [1, 2]}', '```json\n{"items": [1, 2]}\n```', '```\n{"items": [1, 2]}```'])
def test_json_answers_with_or_without_fences(content: str) -> None:
    assert parse_json_answer(content, SCHEMA) == {"items": [1, 2]}


def test_schema_violation_names_the_place() -> None:
    with pytest.raises(InvalidAnswer, match=r"at items/1: 'two' is not of type 'integer'"):
        parse_json_answer('{"items": [1, "two"]}', SCHEMA)


def test_prose_is_not_json() -> None:
    with pytest.raises(InvalidAnswer, match="not valid JSON"):
        parse_json_answer("Sure! Here it is: {}", None)


def test_usage_is_summed_and_tolerates_missing_fields() -> None:
    usage = Usage()
    usage.add({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5})
    usage.add(None)
    usage.add({"total_tokens": 7})
    assert usage.as_dict() == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 12, "calls": 3}
