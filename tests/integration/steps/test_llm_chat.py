"""The llm step against a local chat-completions server (tests/support/fake_openai.py on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.settings import Settings
from orchestrator.steps.base import StepContext, StepError
from orchestrator.steps.llm import LlmConfig, LlmExecutor
from support.fake_openai import FakeOpenAI, answer, error
from support.local_http import Reply

API_KEY = "sk-test-Very-Secret-key-123"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


def run(fake: FakeOpenAI, timeout_seconds: float | None = None, **config: object) -> dict:
    full = {"base_url": fake.base_url, "model": "gpt-4", "api_key": API_KEY, **config}
    ctx = StepContext(execution_id="exec-1", step_id="summary", timeout_seconds=timeout_seconds)
    return LlmExecutor().execute(LlmConfig.model_validate(full), {}, ctx).output


def test_plain_answer_and_the_request_it_sent(fake: FakeOpenAI) -> None:
    # Given a server with a plain answer
    fake.script(answer("A short summary.", model="gpt-4-0613"))

    # When the step asks with a system prompt, a prompt, a temperature and max_tokens (seed 002's shape)
    output = run(fake, system_prompt="You summarise.", prompt="Summarise: 1,2,3", temperature=0.2, max_tokens=500)

    # Then the output carries the answer, the model, usage and the finish reason
    assert output == {
        "content": "A short summary.",
        "model": "gpt-4-0613",
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "calls": 1},
        "finish_reason": "stop",
    }
    # And the server saw the bearer key, the model, the messages and the sampling settings
    [request] = fake.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = request.json()
    assert body["model"] == "gpt-4"
    assert body["messages"] == [
        {"role": "system", "content": "You summarise."},
        {"role": "user", "content": "Summarise: 1,2,3"},
    ]
    assert body["temperature"] == 0.2 and body["max_tokens"] == 500
    assert "response_format" not in body


def test_messages_then_prompt(fake: FakeOpenAI) -> None:
    # Given an earlier exchange as messages and a new prompt
    fake.script(answer("4"))
    # When the step runs
    run(fake, messages=[{"role": "user", "content": "2+1?"}, {"role": "assistant", "content": "3"}], prompt="3+1?")
    # Then the prompt is appended as the last user message
    assert [m["content"] for m in fake.bodies[0]["messages"]] == ["2+1?", "3", "3+1?"]


def test_json_answer_is_parsed(fake: FakeOpenAI) -> None:
    # Given a JSON answer wrapped in a code fence
    fake.script(answer('```json\n{"total": 6}\n```'))
    # When the step asks for json
    output = run(fake, prompt="Sum as JSON", response_format="json")
    # Then the request asked for a JSON object and the output carries the parsed value
    assert fake.bodies[0]["response_format"] == {"type": "json_object"}
    assert output["json"] == {"total": 6}


SCHEMA = {"type": "object", "properties": {"total": {"type": "integer"}}, "required": ["total"]}


def test_json_schema_invalid_answer_is_repaired_once(fake: FakeOpenAI) -> None:
    # Given a first answer that misses a required field and a corrected second one
    fake.script(answer('{"sum": 6}'), answer('{"total": 6}'))
    # When the step asks with a JSON Schema
    output = run(fake, prompt="Sum", response_format="json_schema", json_schema=SCHEMA)
    # Then the schema was sent, a repair turn showed the model its answer and the problem, and the fix is used
    first, second = fake.bodies
    assert first["response_format"]["type"] == "json_schema"
    assert first["response_format"]["json_schema"]["schema"] == SCHEMA
    assert second["messages"][-2] == {"role": "assistant", "content": '{"sum": 6}'}
    assert "'total' is a required property" in second["messages"][-1]["content"]
    assert output["json"] == {"total": 6}
    assert output["usage"]["calls"] == 2 and output["usage"]["total_tokens"] == 30


def test_json_schema_still_invalid_fails_not_retryable(fake: FakeOpenAI) -> None:
    # Given two answers that do not match the schema
    fake.script(answer('{"total": "six"}'), answer("six"))
    # When the step asks with a JSON Schema
    with pytest.raises(StepError) as caught:
        run(fake, prompt="Sum", response_format="json_schema", json_schema=SCHEMA)
    # Then it fails as an invalid response, not retryable
    assert caught.value.error == "Llm.InvalidResponse" and not caught.value.retryable
    assert "not valid JSON" in caught.value.cause


def test_rate_limit_then_ok_honours_retry_after(fake: FakeOpenAI) -> None:
    # Given a 429 with Retry-After: 0 and then an answer
    fake.script(error(429, "slow down", headers={"Retry-After": "0"}), answer("done"))
    # When the step runs
    output = run(fake, prompt="hi")
    # Then it retried in-step and succeeded
    assert output["content"] == "done" and len(fake.requests) == 2


def test_rate_limit_beyond_retries_is_retryable_with_retry_after(fake: FakeOpenAI) -> None:
    # Given more 429s than in-step retries allow
    fake.script(*[error(429, headers={"Retry-After": "0"})] * 2)
    # When the step runs with one in-step retry
    with pytest.raises(StepError) as caught:
        run(fake, prompt="hi", max_retries=1)
    # Then it fails retryable, keeping the server's Retry-After for the workflow's retry policy
    assert caught.value.error == "Llm.429" and caught.value.retryable
    assert caught.value.retry_after == 0.0  # type: ignore[attr-defined]


def test_long_retry_after_is_left_to_the_retry_policy(fake: FakeOpenAI) -> None:
    # Given a 429 asking for a minute's pause
    fake.script(error(429, headers={"Retry-After": "60"}))
    # When the step runs
    with pytest.raises(StepError) as caught:
        run(fake, prompt="hi")
    # Then it does not sleep a minute in-step: it fails retryable at once with retry_after 60
    assert caught.value.retryable and caught.value.retry_after == 60.0  # type: ignore[attr-defined]
    assert len(fake.requests) == 1


def test_server_error_is_retryable(fake: FakeOpenAI) -> None:
    # Given only 500s
    fake.script(error(500, "boom", headers={"Retry-After": "0"}), error(500, "boom"))
    # When the step runs with one in-step retry
    with pytest.raises(StepError) as caught:
        run(fake, prompt="hi", max_retries=1)
    # Then it fails retryable after two requests
    assert caught.value.error == "Llm.500" and caught.value.retryable and len(fake.requests) == 2


def test_unauthorized_is_final_and_never_shows_the_key(fake: FakeOpenAI) -> None:
    # Given a 401 whose message echoes the key (as some APIs do)
    fake.script(error(401, f"Incorrect API key provided: {API_KEY}"))
    # When the step runs
    with pytest.raises(StepError) as caught:
        run(fake, prompt="hi")
    # Then it fails at once, not retryable, and the key is masked in the cause
    error_ = caught.value
    assert error_.error == "Llm.401" and not error_.retryable and len(fake.requests) == 1
    assert API_KEY not in error_.cause and API_KEY not in str(error_)
    assert "***" in error_.cause


def test_bad_request_is_final(fake: FakeOpenAI) -> None:
    # Given a 400
    fake.script(error(400, "bad model"))
    # When the step runs
    with pytest.raises(StepError) as caught:
        run(fake, prompt="hi")
    # Then it is not retryable
    assert caught.value.error == "Llm.400" and not caught.value.retryable


def test_slow_server_times_out_retryably(fake: FakeOpenAI) -> None:
    # Given an answer that takes longer than the request timeout
    slow = answer("late")
    slow.delay = 2.0
    fake.script(slow)
    # When the step runs with a 300ms timeout
    with pytest.raises(StepError) as caught:
        run(fake, prompt="hi", timeout="300ms")
    # Then it is a retryable timeout, not retried in-step (it already spent a whole timeout)
    assert caught.value.error == "Llm.Timeout" and caught.value.retryable
    assert len(fake.requests) == 1


def test_not_a_chat_completion_is_reported(fake: FakeOpenAI) -> None:
    # Given a base_url that answers 200 with something else
    fake.server.route("POST", "/v1/chat/completions", Reply(200, json_body={"hello": "world"}))
    # When the step runs
    with pytest.raises(StepError) as caught:
        run(fake, prompt="hi")
    # Then the error says so and hints at base_url
    assert caught.value.error == "Llm.InvalidResponse" and "base_url" in caught.value.cause


def test_default_base_url_from_the_environment(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given ORCHESTRATOR_LLM_BASE_URL and no base_url in the config
    monkeypatch.setenv("ORCHESTRATOR_LLM_BASE_URL", fake.base_url)
    fake.script(answer("ok"))
    # When the step runs
    config = LlmConfig.model_validate({"model": "m", "prompt": "hi"})
    output = LlmExecutor().execute(config, {}, StepContext(execution_id="e", step_id="s")).output
    # Then it used that server, with no Authorization header since no key was given
    assert output["content"] == "ok"
    assert "authorization" not in fake.requests[0].headers


def test_egress_policy_applies_to_the_endpoint(fake: FakeOpenAI) -> None:
    # Given an egress allow list that does not include the local endpoint
    executor = LlmExecutor(settings=Settings(egress_allow=["api.openai.com"]))
    config = LlmConfig.model_validate({"base_url": fake.base_url, "model": "m", "prompt": "hi"})
    # When the step runs
    with pytest.raises(StepError) as caught:
        executor.execute(config, {}, StepContext(execution_id="e", step_id="s"))
    # Then the request never left: refused by policy, not retryable
    assert caught.value.error == "Egress.Denied" and not caught.value.retryable
    assert fake.requests == []
