"""The ``llm`` step: one chat completion from an OpenAI-compatible API (seed 002's model/prompt/max_tokens,
seed 003's api_type/base_url/model).

``response_format: json`` or ``json_schema`` asks the model for JSON and checks the answer. An answer that
is not valid JSON, or not valid against ``json_schema``, gets ``repair_attempts`` (default 1) follow-up
turns that show the model its answer and the exact problem; models usually fix a stray sentence or a
missing field when told, and that costs one call instead of the whole step. If the answer is still
invalid the step fails with ``Llm.InvalidResponse``, not retryable: re-asking the same question from
scratch is no more likely to succeed than the repair turn was.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, ClassVar, Literal

import jsonschema
from pydantic import Field, SecretStr, model_validator

from orchestrator.domain.durations import Duration
from orchestrator.steps.base import StepConfig, StepContext, StepError, StepResult
from orchestrator.steps.chat_client import ApiType, ChatClient, ChatReply, Usage
from orchestrator.steps.egress import EgressBoundExecutor


class ChatMessage(StepConfig):
    role: Literal["system", "user", "assistant"]
    content: str


class LlmConfig(StepConfig):
    api_type: ApiType = "openai"
    base_url: str | None = Field(None, description="Default: env ORCHESTRATOR_LLM_BASE_URL, else OpenAI's.")
    model: str = Field(min_length=1)
    api_key: SecretStr | None = Field(None, description="Sent as a Bearer token; write {{secrets.name}}.")
    system_prompt: str | None = None
    prompt: str | None = Field(None, description="The user message; appended after `messages` if both are set.")
    messages: list[ChatMessage] | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0)
    timeout: Duration = Field(60.0, description="Per request; the step's own timeout bounds the whole step.")
    max_retries: int = Field(2, ge=0, le=10, description="In-step retries of 429/5xx/connection errors.")
    response_format: Literal["text", "json", "json_schema"] = "text"
    json_schema: dict[str, Any] | None = Field(None, description="Required by response_format json_schema.")
    schema_name: str = Field("answer", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    repair_attempts: int = Field(1, ge=0, le=3, description="Follow-up turns that ask to fix invalid JSON.")

    @model_validator(mode="after")
    def _check(self) -> LlmConfig:
        if not self.prompt and not self.messages:
            raise ValueError("set `prompt` (the user message) or `messages`")
        if self.response_format == "json_schema":
            if self.json_schema is None:
                raise ValueError("response_format json_schema needs `json_schema`")
            try:
                jsonschema.validators.validator_for(self.json_schema).check_schema(self.json_schema)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"json_schema is not a valid JSON Schema: {exc.message}") from None
        elif self.json_schema is not None:
            raise ValueError("`json_schema` is only used with response_format json_schema")
        return self


class InvalidAnswer(ValueError):
    """The model's content is not the JSON that was asked for; the message says why, for the model too."""


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(?P<body>.*?)\n?```\s*$", re.DOTALL | re.IGNORECASE)


def parse_json_answer(content: str, schema: dict[str, Any] | None) -> Any:
    """The JSON value in ``content`` (a ```json fence around it is tolerated), checked against ``schema``."""
    fenced = _FENCE.match(content)
    text = fenced["body"] if fenced else content
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidAnswer(f"the answer is not valid JSON ({exc})") from None
    if schema is not None:
        validator = jsonschema.validators.validator_for(schema)(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            raise InvalidAnswer(f"the answer does not match the JSON Schema at {where}: {error.message}")
    return value


def build_messages(config: LlmConfig) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if config.system_prompt:
        messages.append({"role": "system", "content": config.system_prompt})
    messages.extend(m.model_dump() for m in config.messages or ())
    if config.prompt:
        messages.append({"role": "user", "content": config.prompt})
    return messages


def response_format_payload(config: LlmConfig) -> dict[str, Any] | None:
    if config.response_format == "json":
        return {"type": "json_object"}
    if config.response_format == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": config.schema_name, "schema": config.json_schema}}
    return None


class LlmExecutor(EgressBoundExecutor):
    type_name: ClassVar[str] = "llm"
    config_model: ClassVar[type[LlmConfig]] = LlmConfig

    def execute(self, config: LlmConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        started = time.time()
        client = ChatClient(
            base_url=config.base_url,
            api_key=config.api_key.get_secret_value() if config.api_key else None,
            api_type=config.api_type,
            timeout=config.timeout,
            max_retries=config.max_retries,
            deadline=ctx.deadline(),
            mask=ctx.mask,
            log=ctx.log,
            policy=self.egress_policy(),
        )
        messages = build_messages(config)
        payload: dict[str, Any] = {"model": config.model, "messages": messages}
        if config.temperature is not None:
            payload["temperature"] = config.temperature
        if config.max_tokens is not None:
            payload["max_tokens"] = config.max_tokens
        response_format = response_format_payload(config)
        if response_format is not None:
            payload["response_format"] = response_format
        usage = Usage()
        ctx.log(f"chat completion: model={config.model} url={client.url}")
        reply = client.complete(payload)
        usage.add(reply.usage)

        output: dict[str, Any] = {}
        if config.response_format != "text":
            output["json"], reply = self._parsed(config, client, payload, reply, usage, ctx)
        output = {
            "content": reply.content,
            **output,
            "model": reply.model,
            "usage": usage.as_dict(),
            "finish_reason": reply.finish_reason,
        }
        return StepResult(output=output, started_at=started, finished_at=time.time())

    def _parsed(
        self,
        config: LlmConfig,
        client: ChatClient,
        payload: dict[str, Any],
        reply: ChatReply,
        usage: Usage,
        ctx: StepContext,
    ) -> tuple[Any, ChatReply]:
        """The parsed JSON of ``reply``, after up to ``repair_attempts`` follow-up turns to fix it."""
        messages = list(payload["messages"])
        for repair in range(config.repair_attempts + 1):
            try:
                return parse_json_answer(reply.content, config.json_schema), reply
            except InvalidAnswer as problem:
                if repair == config.repair_attempts:
                    raise StepError(
                        "Llm.InvalidResponse",
                        f"model {config.model} did not answer valid JSON after {repair} repair turn(s): {problem}",
                        retryable=False,
                    ) from None
                ctx.log(f"{problem}; asking the model to fix it (repair {repair + 1}/{config.repair_attempts})")
                messages += [
                    {"role": "assistant", "content": reply.content},
                    {
                        "role": "user",
                        "content": f"Your answer was rejected: {problem}. Reply again with only the corrected "
                        "JSON, no prose and no code fences.",
                    },
                ]
                reply = client.complete({**payload, "messages": messages})
                usage.add(reply.usage)
        raise AssertionError("unreachable: the loop returns or raises")
