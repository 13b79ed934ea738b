"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, built on ``LocalHttpServer``.

Each request to ``POST /v1/chat/completions`` takes the next scripted reply; the requests' JSON bodies
and headers are recorded for the test to assert on. A request beyond the script is a 500 naming that
fact, so a test that makes an unexpected call fails loudly.

    fake.script(answer("hello"), rate_limited(retry_after="0"), tool_call_answer([call("fetch", {"id": 1})]))
    base_url = fake.base_url          # http://127.0.0.1:<port>/v1
    fake.bodies[0]["messages"]
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any

from support.local_http import LocalHttpServer, Recorded, Reply

PATH = "/v1/chat/completions"
_ids = itertools.count(1)


def completion(message: dict[str, Any], *, finish_reason: str = "stop", model: str = "fake-model",
               usage: dict[str, int] | None = None) -> Reply:
    body = {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": usage or {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
    return Reply(200, json_body=body)


def answer(content: str, **kwargs: Any) -> Reply:
    """A plain assistant answer."""
    return completion({"role": "assistant", "content": content}, **kwargs)


def call(name: str, arguments: Any, call_id: str | None = None) -> dict[str, Any]:
    """One tool call as the API writes it (arguments are JSON text; a str is sent as is)."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id or f"call_{next(_ids)}", "type": "function", "function": {"name": name, "arguments": text}}


def tool_call_answer(calls: list[dict[str, Any]], **kwargs: Any) -> Reply:
    return completion({"role": "assistant", "content": None, "tool_calls": calls}, finish_reason="tool_calls",
                      **kwargs)


def error(status: int, message: str = "error", headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json_body={"error": {"message": message, "type": "test"}}, headers=headers or {})


class FakeOpenAI:
    def __init__(self) -> None:
        self.server = LocalHttpServer()
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self.server.route("POST", PATH, self._next)

    def _next(self, _request: Recorded) -> Reply:
        with self._lock:
            if not self._script:
                return Reply(500, body="fake_openai: no scripted reply left for this request")
            return self._script.pop(0)

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    @property
    def base_url(self) -> str:
        return self.server.url("/v1")

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests_to(PATH)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.requests]

    @property
    def unused(self) -> int:
        return len(self._script)

    def start(self) -> FakeOpenAI:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
