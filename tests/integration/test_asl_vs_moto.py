"""The local ASL interpreter and moto's Step Functions interpreter run the same cases and must agree.

Cases live in tests/conformance/extra/*.json (Lambda tasks, callbacks, Retry timing, MaxConcurrency: what
the AWS-recorded corpus lacks). ``${fn:name}`` in a definition is the ARN of the fake function ``name``
below. moto runs no Lambda code by itself: tests/support/moto_lambda.py patches its private
``LambdaFunction._invoke_lambda`` to call the same Python handlers (moto is pinned to 5.2.5 in
pyproject.toml for that reason).

Where moto contradicts the AWS documentation, the case follows AWS; its ``moto`` entry holds what moto
does instead and a note, and the test asserts that instead (so a moto upgrade that fixes it shows up).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.asl import FakeClock, Interpreter, load_state_machine

pytest.importorskip("boto3")
pytest.importorskip("moto")
from support.moto_lambda import MotoStepFunctions  # noqa: E402

CASES_DIR = Path(__file__).parents[1] / "conformance" / "extra"
CASES = sorted(CASES_DIR.glob("*.json"))
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{{}}"
RUN_TIMEOUT_SECONDS = 30


class ValidationFailed(Exception):
    error = "Custom.ValidationFailed"


class FakeFunctions:
    """The Python handlers both engines call, with the state some cases observe (calls, overlap, tokens)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: dict[str, int] = {}
        self.active = 0
        self.peak = 0
        self.tokens: queue.Queue[str] = queue.Queue()

    def handler(self, name: str) -> Callable[[Any], Any]:
        return getattr(self, f"fn_{name}")

    def call(self, name: str, event: Any) -> Any:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
        return self.handler(name)(event)

    # -- the functions -----------------------------------------------------------------------------------

    def fn_double(self, event: Any) -> Any:
        return {"value": event["n"] * 2}

    def fn_echo(self, event: Any) -> Any:
        return event

    def fn_charge(self, event: Any) -> Any:
        if event["amount"] < 0:
            raise ValueError("amount must not be negative")
        return {"charged": event["amount"]}

    def fn_validate(self, event: Any) -> Any:
        raise ValidationFailed(f"order {event['order']} is incomplete")

    def fn_flaky(self, event: Any) -> Any:
        with self._lock:
            attempt = self.calls["flaky"]
        if attempt <= event["failures"]:
            raise ConnectionError(f"attempt {attempt} failed")
        return {"attempts": attempt}

    def fn_down(self, event: Any) -> Any:
        raise RuntimeError("service unavailable")

    def fn_slow(self, event: Any) -> Any:
        time.sleep(event["seconds"])
        return event

    def fn_square_slowly(self, event: Any) -> Any:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.15)
        with self._lock:
            self.active -= 1
        return event * event

    def fn_request_approval(self, event: Any) -> Any:
        self.tokens.put(event["token"])
        return {"queued": True}


# ---------------------------------------------------------------------------------------------------------
# Running a case on each engine


class Outcome(dict):
    """status, output, error, cause (+ elapsed seconds and, locally, the clock's sleeps)."""


def _respond_to_callbacks(case: dict[str, Any], functions: FakeFunctions, succeed: Callable, fail: Callable) -> threading.Thread | None:
    callback = case.get("callback")
    if callback is None or callback["action"] == "none":
        return None

    def respond() -> None:
        token = functions.tokens.get(timeout=RUN_TIMEOUT_SECONDS)
        time.sleep(0.1)  # answer a little later, as a person or service would
        if callback["action"] == "success":
            succeed(token, json.dumps(callback["output"]))
        else:
            fail(token, callback["error"], callback["cause"])

    responder = threading.Thread(target=respond, daemon=True)
    responder.start()
    return responder


def run_locally(case: dict[str, Any], functions: FakeFunctions) -> Outcome:
    names = _function_names(case)
    machine = load_state_machine(case["definition"], substitutions={f"fn:{n}": FUNCTION_ARN.format(n) for n in names})
    clock = FakeClock() if case.get("clock", "fake") == "fake" else None

    def invoke(resource: str, payload: Any) -> Any:
        return functions.call(resource.split(":function:")[-1].split(":")[0], payload)

    with Interpreter(invoke=invoke, clock=clock) as interpreter:
        started = time.monotonic()
        handle = interpreter.start(machine, case["input"])
        _respond_to_callbacks(case, functions, interpreter.send_task_success, interpreter.send_task_failure)
        result = handle.wait(RUN_TIMEOUT_SECONDS)
        elapsed = time.monotonic() - started
    return Outcome(
        status=result.status,
        output=result.output,
        error=result.error,
        cause=result.cause,
        elapsed=elapsed,
        sleeps=list(clock.sleeps) if clock is not None else None,
    )


@pytest.fixture
def moto_lambda() -> Iterator[Callable[[dict[str, Any], FakeFunctions], Outcome]]:
    """A moto account with Step Functions executing state machines and Lambda calling our handlers."""
    with MotoStepFunctions(REGION) as moto_sfn:

        def run_on_moto(case: dict[str, Any], functions: FakeFunctions) -> Outcome:
            definition = json.dumps(case["definition"])
            for name in _function_names(case):

                def handler(event: Any, context: Any, name: str = name) -> Any:
                    return functions.call(name, event)

                arn = moto_sfn.add_function(name, handler)
                definition = definition.replace("${fn:" + name + "}", arn)
            machine_arn = moto_sfn.create_state_machine("case", definition)
            started = time.perf_counter()
            execution_arn = moto_sfn.start(machine_arn, case["input"])
            _respond_to_callbacks(
                case,
                functions,
                lambda token, output: moto_sfn.sfn.send_task_success(taskToken=token, output=output),
                lambda token, error, cause: moto_sfn.sfn.send_task_failure(
                    taskToken=token, error=error, cause=cause
                ),
            )
            run = moto_sfn.wait(execution_arn, timeout=RUN_TIMEOUT_SECONDS, started=started)
            return Outcome(
                status=run.status,
                output=run.output,
                error=run.error,
                cause=run.cause,
                elapsed=run.seconds,
                sleeps=None,
            )

        yield run_on_moto


def _function_names(case: dict[str, Any]) -> list[str]:
    text = json.dumps(case["definition"])
    return sorted({part.split("}")[0] for part in text.split("${fn:")[1:]})


# ---------------------------------------------------------------------------------------------------------
# Comparing


def _without_stack_traces(value: Any) -> Any:
    """Lambda error payloads carry stack traces that differ between engines; compare the rest."""
    if isinstance(value, str) and value.startswith("{") and '"stackTrace"' in value:
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        if isinstance(decoded, dict):
            decoded.pop("stackTrace", None)
            return decoded
    if isinstance(value, dict):
        return {key: _without_stack_traces(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_stack_traces(item) for item in value]
    return value


def assert_matches(outcome: Outcome, expected: dict[str, Any]) -> None:
    assert outcome["status"] == expected["status"], (outcome["error"], outcome["cause"])
    if expected["status"] == "SUCCEEDED":
        assert _without_stack_traces(outcome["output"]) == _without_stack_traces(expected["output"])
    else:
        assert outcome["error"] == expected.get("error")
        assert _without_stack_traces(outcome["cause"]) == _without_stack_traces(expected.get("cause"))


def check_observations(case: dict[str, Any], outcome: Outcome, functions: FakeFunctions) -> None:
    checks = case.get("checks", {})
    if "max_concurrent_calls" in checks:
        assert functions.peak == checks["max_concurrent_calls"]
    if "calls" in checks:
        assert functions.calls == checks["calls"]
    if "min_elapsed_seconds" in checks and outcome["sleeps"] is None:
        # Real time (moto, or a real-clock local run) must include the retry intervals.
        assert outcome["elapsed"] >= checks["min_elapsed_seconds"] - 0.05
    if "retry_sleeps" in checks and outcome["sleeps"] is not None:
        assert outcome["sleeps"] == pytest.approx(checks["retry_sleeps"])


# ---------------------------------------------------------------------------------------------------------
# The tests


def test_there_are_extra_cases():
    assert len(CASES) >= 10


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_local_interpreter(path: Path):
    # Given a case written from the AWS documentation
    case = json.loads(path.read_text(encoding="utf-8"))
    functions = FakeFunctions()

    # When the local interpreter runs it
    outcome = run_locally(case, functions)

    # Then it behaves as AWS documents
    assert_matches(outcome, case["expected"])
    check_observations(case, outcome, functions)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_moto(path: Path, moto_lambda):
    # Given the same case
    case = json.loads(path.read_text(encoding="utf-8"))
    functions = FakeFunctions()

    # When moto runs it
    outcome = moto_lambda(case, functions)

    # Then moto agrees with AWS, or does what the case records as moto's known difference
    expected = case.get("moto", {}).get("expected", case["expected"])
    assert_matches(outcome, expected)
    check_observations(case, outcome, functions)
