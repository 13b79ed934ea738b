"""The ``agent`` step (seed 002's ``agent_id`` + ``task``): a chat-completions tool-calling loop.

The agent's profile (``agent_profiles.py``) names its model, endpoint, key and the workflow steps it may
use as tools. Only ``http`` and ``database`` steps can be tools: they are request/response operations
whose config the workflow author already reviewed; the model only supplies their inputs. A tool call runs
that step's executor with the step's config rendered now (``ctx.render``) and the call's JSON arguments
as inputs, merged over the step's own rendered ``input_mapping``. A database step binds inputs as its
``:name`` parameters (or takes ``data`` to insert); the http executor reads no inputs, so for an http
tool the arguments also go into the request: query parameters for GET/HEAD/DELETE/OPTIONS, keys of the
JSON body otherwise. URL, headers and SQL stay what the author wrote. A failing tool does not fail the agent:
its error goes back to the model as the tool's answer, so the model can correct its arguments or give up.
The loop is bounded: more than ``max_turns`` model calls is ``Agent.MaxTurnsExceeded``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field, ValidationError

from orchestrator.domain.durations import Duration, parse_duration
from orchestrator.observability import logger
from orchestrator.steps.agent_profiles import AgentProfile, load_profile
from orchestrator.steps.base import StepConfig, StepContext, StepError, StepResult, StepTimeout
from orchestrator.steps.chat_client import ChatClient, Usage, dumps_for_model
from orchestrator.steps.config_secrets import secret_lookup
from orchestrator.steps.egress import EgressBoundExecutor
from orchestrator.steps.json_safe import json_safe

#: step types an agent may call: request/response operations with a reviewed config
TOOL_STEP_TYPES = frozenset({"http", "database"})
#: what one tool result may cost in the conversation
TOOL_RESULT_CHARS = 20_000
_TOOL_NAME = re.compile(r"[^A-Za-z0-9_-]")


class AgentConfig(StepConfig):
    agent_id: str = Field(min_length=1)
    task: str = Field(min_length=1, description="Instructions, or the name of one of the profile's `tasks`.")
    timeout: Duration | None = Field(None, description="Budget of the whole agent run (seed 002 writes '10m').")
    max_turns: int | None = Field(None, ge=1, le=100, description="Overrides the profile's max_turns.")
    request_timeout: Duration = Field(120.0, description="Per model request.")
    max_retries: int = Field(2, ge=0, le=10, description="In-step retries of 429/5xx/connection errors.")


@dataclass
class Tool:
    name: str  # the function name the model sees (a step id made safe for the API)
    step_id: str
    spec: dict[str, Any]


class AgentExecutor(EgressBoundExecutor):
    type_name: ClassVar[str] = "agent"
    config_model: ClassVar[type[AgentConfig]] = AgentConfig

    def execute(self, config: AgentConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        started = time.time()
        profile = load_profile(config.agent_id, ctx.workflow_dir)
        deadline = _earliest(ctx.deadline(), None if config.timeout is None else time.monotonic() + config.timeout)
        client = ChatClient(
            base_url=profile.base_url,
            api_key=self._api_key(profile, ctx),
            api_type=profile.api_type,
            timeout=config.request_timeout,
            max_retries=config.max_retries,
            deadline=deadline,
            mask=ctx.mask,
            log=ctx.log,
            policy=self.egress_policy(),
            error_prefix="Agent",
        )
        tools = self._tools(profile, ctx)
        messages = self._opening(profile, config, inputs)
        max_turns = config.max_turns or profile.max_turns
        usage = Usage()
        summaries: list[dict[str, Any]] = []
        ctx.log(f"agent {profile.id}: model={profile.model} tools={[t.step_id for t in tools]} max_turns={max_turns}")

        for turn in range(1, max_turns + 1):
            payload: dict[str, Any] = {"model": profile.model, "messages": messages}
            if tools:
                payload["tools"] = [t.spec for t in tools]
            if profile.temperature is not None:
                payload["temperature"] = profile.temperature
            if profile.max_tokens is not None:
                payload["max_tokens"] = profile.max_tokens
            reply = client.complete(payload)
            usage.add(reply.usage)
            if not reply.tool_calls:
                output = {"result": reply.content, "turns": turn, "tool_calls": summaries, "usage": usage.as_dict()}
                return StepResult(output=output, started_at=started, finished_at=time.time())
            if turn == max_turns:
                break  # running tools whose answers the model will never read would only add side effects
            messages.append({"role": "assistant", "content": reply.message.get("content"), "tool_calls": reply.tool_calls})
            for call in reply.tool_calls:
                answer, summary = self._call_tool(call, tools, ctx, deadline, turn)
                summaries.append(summary)
                messages.append({"role": "tool", "tool_call_id": call.get("id", ""), "content": answer})

        raise StepError(
            "Agent.MaxTurnsExceeded",
            f"agent {profile.id!r} still wanted tools after {max_turns} turns (max_turns {max_turns})",
            retryable=False,
            output={"turns": max_turns, "tool_calls": summaries, "usage": usage.as_dict()},
        )

    # -- set-up -------------------------------------------------------------------------------------

    @staticmethod
    def _api_key(profile: AgentProfile, ctx: StepContext) -> str | None:
        """The key named by the profile, resolved through the execution's own secrets."""
        if profile.api_key_secret is None:
            return None
        value = secret_lookup(ctx)(profile.api_key_secret)
        if value is None:
            raise StepError("Agent.SecretNotFound", f"secret {profile.api_key_secret!r}, named by agent "
                            f"{profile.id!r} as api_key_secret, cannot be resolved", retryable=False)
        return value

    @staticmethod
    def _tools(profile: AgentProfile, ctx: StepContext) -> list[Tool]:
        tools: list[Tool] = []
        for spec in profile.tools:
            step = ctx.workflow_steps.get(spec.step)
            if step is None:  # profiles are shared between workflows: a tool may be absent from this one
                ctx.log(f"agent {profile.id}: tool {spec.step!r} is not a step of this workflow; not offered")
                continue
            if step.get("type") not in TOOL_STEP_TYPES:
                ctx.log(f"agent {profile.id}: step {spec.step!r} is a {step.get('type')!r} step; only "
                        f"{sorted(TOOL_STEP_TYPES)} steps can be tools; not offered")
                continue
            name = _TOOL_NAME.sub("_", spec.step)[:64]
            if any(t.name == name for t in tools):
                ctx.log(f"agent {profile.id}: tool name {name!r} is taken; step {spec.step!r} not offered")
                continue
            description = spec.description or step.get("description") or step.get("name") or (
                f"Run the workflow step {spec.step!r} ({step['type']}); the arguments are its inputs."
            )
            function = {"name": name, "description": description, "parameters": spec.parameters}
            tools.append(Tool(name=name, step_id=spec.step, spec={"type": "function", "function": function}))
        return tools

    @staticmethod
    def _opening(profile: AgentProfile, config: AgentConfig, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        system = "\n\n".join(
            part for part in (f"You are {profile.role}." if profile.role else None, profile.system_prompt) if part
        )
        task = profile.tasks.get(config.task, config.task)
        user = f"Task: {task}"
        if inputs:
            user += "\n\nInput (JSON):\n" + dumps_for_model(json_safe(inputs), TOOL_RESULT_CHARS)
        messages = [{"role": "system", "content": system}] if system else []
        return [*messages, {"role": "user", "content": user}]

    # -- tool calls ---------------------------------------------------------------------------------

    def _call_tool(
        self, call: dict[str, Any], tools: list[Tool], ctx: StepContext, deadline: float | None, turn: int
    ) -> tuple[str, dict[str, Any]]:
        """Run one tool call; the text for the model and a summary for the output. Never raises StepError."""
        function = call.get("function") or {}
        name = function.get("name", "")
        summary: dict[str, Any] = {"turn": turn, "id": call.get("id"), "tool": name}
        began = time.monotonic()
        try:
            tool = next((t for t in tools if t.name == name), None)
            if tool is None:
                raise StepError("Agent.UnknownTool", f"no tool named {name!r}; offered: {[t.name for t in tools]}",
                                retryable=False)
            summary["step"] = tool.step_id
            arguments = _arguments(function.get("arguments"))
            output = self._run_step(tool.step_id, arguments, ctx, deadline)
        except StepError as exc:
            if isinstance(exc, StepTimeout) and deadline is not None and time.monotonic() >= deadline:
                raise  # the agent's own time is up: nothing left to feed an answer to
            return self._failed(name, exc.error, exc.cause, summary, began, ctx)
        except Exception as exc:  # a bug in a tool's executor must not end the agent without the model knowing
            logger.exception("agent tool raised an unexpected error", extra={"step_id": ctx.step_id, "tool": name})
            return self._failed(name, "Agent.ToolFailed", f"{type(exc).__name__}: {exc}", summary, began, ctx)
        summary.update(ok=True, seconds=round(time.monotonic() - began, 3))
        # a response may echo a credential the tool step sent: the model must not receive it
        return ctx.mask(dumps_for_model(json_safe(output), TOOL_RESULT_CHARS)), summary

    @staticmethod
    def _failed(name: str, error: str, cause: str, summary: dict[str, Any], began: float,
                ctx: StepContext) -> tuple[str, dict[str, Any]]:
        cause = ctx.mask(cause)
        ctx.log(f"tool {name!r} failed: {error}: {cause}")
        summary.update(ok=False, error=error, seconds=round(time.monotonic() - began, 3))
        return json.dumps({"error": error, "cause": cause}), summary

    @staticmethod
    def _run_step(step_id: str, arguments: dict[str, Any], ctx: StepContext, deadline: float | None) -> Any:
        # imported here: the registry imports executors lazily, and this module is one of them
        from orchestrator.steps.registry import get_executor

        step = ctx.workflow_steps[step_id]
        executor = get_executor(step["type"])
        if executor is None:
            raise StepError("Agent.ToolUnavailable", f"no executor for step type {step['type']!r}", retryable=False)
        try:
            rendered = ctx.render(step.get("config") or {})
            if step["type"] == "http":
                rendered = http_arguments(rendered, arguments)
            config = executor.config_model.model_validate(rendered)
            mapped = ctx.render(step.get("input_mapping") or {})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise StepError("Agent.ToolConfig", f"step {step_id!r} config is invalid: {problems}", retryable=False) from None
        except Exception as exc:  # a template that cannot render (missing secret, unknown step output)
            raise StepError("Agent.ToolConfig", f"step {step_id!r} config cannot be rendered: {exc}", retryable=False) from None
        timeout = _step_timeout(step.get("timeout"))
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise StepTimeout(f"the agent's time ran out before running tool step {step_id!r}")
        tool_ctx = StepContext(
            execution_id=ctx.execution_id,
            step_id=step_id,  # the executor may look up its own raw definition by id
            attempt=ctx.attempt,
            workflow_dir=ctx.workflow_dir,
            timeout_seconds=_earliest(timeout, remaining),
            workflow_steps=ctx.workflow_steps,
            render=ctx.render,
            mask=ctx.mask,
            owner_id=ctx.owner_id,  # a tool step runs with the agent's owner and trust, never more
            trusted=ctx.trusted,
        )
        try:
            result = executor.execute(config, {**(mapped if isinstance(mapped, dict) else {}), **arguments}, tool_ctx)
        finally:
            ctx.logs.extend(f"[{step_id}] {line}" for line in tool_ctx.logs)
        return result.output


def http_arguments(config: Any, arguments: dict[str, Any]) -> Any:
    """The http step's rendered config with the model's arguments applied: the http executor reads
    no inputs, so arguments become query parameters (GET, HEAD, DELETE, OPTIONS) or keys of the JSON
    body (other methods), over the step's own. URL and headers stay the author's."""
    if not arguments or not isinstance(config, dict):
        return config
    method = str(config.get("method", "GET")).upper()
    if method in ("GET", "HEAD", "DELETE", "OPTIONS"):
        query = config.get("query") if isinstance(config.get("query"), dict) else {}
        return {**config, "query": {**query, **arguments}}
    body = config.get("json")
    if body is not None and not isinstance(body, dict):
        raise StepError("Agent.ToolConfig", "the step's json body is not an object; arguments cannot be merged "
                        "into it", retryable=False)
    return {**config, "json": {**(body or {}), **arguments}}


def _arguments(raw: Any) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise StepError("Agent.InvalidToolArguments", f"arguments are not JSON: {exc}", retryable=False) from None
    if not isinstance(value, dict):
        raise StepError("Agent.InvalidToolArguments", "arguments must be a JSON object", retryable=False)
    return value


def _step_timeout(raw: Any) -> float | None:
    try:
        return None if raw is None else parse_duration(raw)
    except ValueError:
        return None  # the workflow validator reports a bad timeout; here it just does not bound the tool


def _earliest(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None
