"""The running side of an execution: variable scopes, branches of control, the per-state frame (which
builds the Context object), history emission, durable sleeps and Task outcomes (checkpoint + replay).

One ``Execution`` runs as a coroutine on the interpreter's event loop. Parallel branches and Map iterations
are child ``Branch``es running as concurrent tasks; each branch is sequential, which is what makes replay
keys deterministic: ``<branch path>/<state>#<visit>.<attempt>``.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from orchestrator.asl import checkpoints
from orchestrator.asl.checkpoints import CheckpointWriter, Outcome, ReplayLog, event_record
from orchestrator.asl.clock import Clock
from orchestrator.asl.errors import STATES_DATA_LIMIT_EXCEEDED, StatesError, runtime_error
from orchestrator.asl.invoke_pool import InvokePool
from orchestrator.asl.lambda_invoke import await_capturing_errors, call_capturing_errors
from orchestrator.asl.timestamps import format_timestamp
from orchestrator.asl.values import (
    MAX_PAYLOAD_BYTES,
    NOT_TRUNCATED,
    exceeds_payload_quota,
    to_json,
    utf8_size,
)
from orchestrator.observability import logger

if TYPE_CHECKING:
    from orchestrator.asl.callbacks import TaskTokenRegistry
    from orchestrator.asl.child_executions import ChildExecutions
    from orchestrator.asl.model import StateGraph, StateMachine
    from orchestrator.asl.states.base import State

#: Step Functions' quota on one Standard execution's history
MAX_HISTORY_EVENTS = 25_000
_EXECUTION_END_EVENTS = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})

Listener = Callable[[dict[str, Any]], None]
Invoke = Callable[[str, Any], Any]


class Scope:
    """Workflow variables of one branch. Inner scopes (Parallel branches, Map iterations) read the outer
    ones but may not assign a variable that an outer scope defines."""

    __slots__ = ("values", "parent")

    def __init__(self, parent: Scope | None = None) -> None:
        self.values: dict[str, Any] = {}
        self.parent = parent

    def lookup(self, name: str) -> Any:
        scope: Scope | None = self
        while scope is not None:
            values = scope.values
            if name in values:
                return values[name]
            scope = scope.parent
        raise KeyError(name)

    def visible(self) -> dict[str, Any]:
        """Every variable in scope (inner values over outer ones), for JSONata's bindings."""
        if self.parent is None:
            return self.values
        merged = dict(self.parent.visible())
        merged.update(self.values)
        return merged

    def _outer_defines(self, name: str) -> bool:
        scope = self.parent
        while scope is not None:
            if name in scope.values:
                return True
            scope = scope.parent
        return False

    def assign(self, bindings: dict[str, Any]) -> None:
        if self.parent is not None:
            for name, value in bindings.items():
                if self._outer_defines(name):
                    raise runtime_error(
                        f"Cannot bind value '{to_json(value)}' to variable '{name}' as it belongs to an outer scope."
                    )
        self.values.update(bindings)


class Branch:
    """A sequential thread of control: the top level, one Parallel branch or one Map iteration."""

    __slots__ = ("path", "seq", "last_event_id", "visits", "scope", "last_output", "last_output_json")

    def __init__(self, path: str, last_event_id: int, scope: Scope) -> None:
        self.path = path
        self.seq = 0
        self.last_event_id = last_event_id
        self.visits: dict[str, int] = {}
        self.scope = scope
        # The JSON text of the last state output: the next state's input is usually that same object.
        self.last_output: Any = None
        self.last_output_json: str | None = None

    def child(self, suffix: str) -> Branch:
        return Branch(f"{self.path}/{suffix}", self.last_event_id, Scope(self.scope))

    def to_json(self, value: Any) -> str:
        if value is self.last_output and self.last_output_json is not None:
            return self.last_output_json
        return to_json(value)


class StateRun:
    """One visit of one state: the Frame that references resolve against."""

    __slots__ = (
        "execution",
        "branch",
        "state",
        "visit",
        "retry_count",
        "entered_event_id",
        "entered_time",
        "task_token",
        "known",
        "_context",
    )

    def __init__(self, execution: Execution, branch: Branch, state: State, data: Any) -> None:
        self.execution = execution
        self.branch = branch
        self.state = state
        visit = branch.visits.get(state.name, 0) + 1
        branch.visits[state.name] = visit
        self.visit = visit
        self.retry_count = 0  # also numbers the attempt: 0 is the first
        self.task_token: str | None = None
        # (value, JSON text) of a result already serialised (a function's result): exit() reuses the text.
        self.known: tuple[Any, str] | None = None
        self._context: dict[str, Any] | None = None
        input_json = branch.to_json(data)
        # Remember the input's JSON: a state whose output is its input (Pass, Choice, Wait) reuses it.
        branch.last_output = data
        branch.last_output_json = input_json
        event = execution.emit(
            branch,
            state.entered_event_type,
            "stateEnteredEventDetails",
            {"name": state.name, "input": input_json, "inputDetails": NOT_TRUNCATED},
        )
        self.entered_event_id: int = event["id"]
        self.entered_time: datetime = event["timestamp"]

    # -- Frame protocol ------------------------------------------------------------------------------------

    @property
    def context(self) -> dict[str, Any]:
        context = self._context
        if context is None:
            context = self.execution.context_object(self)
            self._context = context
        return context

    def variable(self, name: str) -> Any:
        return self.branch.scope.lookup(name)

    def variables(self) -> dict[str, Any]:
        return self.branch.scope.visible()

    # -- helpers for states --------------------------------------------------------------------------------

    @property
    def key(self) -> str:
        """Identifies this visit of the state within the execution, stable across replays."""
        return f"{self.branch.path}/{self.state.name}#{self.visit}"

    @property
    def attempt_key(self) -> str:
        return f"{self.key}.{self.retry_count}"

    def next_attempt(self) -> None:
        self.retry_count += 1
        self._context = None

    def set_task_token(self, token: str | None) -> None:
        self.task_token = token
        self._context = None

    def emit(self, event_type: str, details_key: str | None = None, details: Any = None) -> dict[str, Any]:
        return self.execution.emit(self.branch, event_type, details_key, details)

    def fail(self, error: StatesError) -> StatesError:
        return error.located(self.state.name, self.entered_event_id)

    def exit(self, output: Any, assigned: dict[str, Any] | None) -> Any:
        """Finish the state: size quota, variable assignment, the Exited event."""
        state = self.state
        known = self.known
        output_json = known[1] if known is not None and known[0] is output else self.branch.to_json(output)
        execution = self.execution
        if execution.exceeds_quota(output_json):
            raise self.fail(execution.data_limit_error(state.name))
        details: dict[str, Any] = {"name": state.name, "output": output_json, "outputDetails": NOT_TRUNCATED}
        if assigned:
            assigned_json = {name: to_json(value) for name, value in assigned.items()}
            # Step Functions limits what one Assign stores to the payload quota (256 KiB) as well.
            if sum(utf8_size(text) for text in assigned_json.values()) >= MAX_PAYLOAD_BYTES:
                raise self.fail(
                    StatesError(
                        STATES_DATA_LIMIT_EXCEEDED,
                        f"The variables assigned by the state '{state.name}' exceed the maximum size of "
                        f"{MAX_PAYLOAD_BYTES} bytes.",
                    )
                )
            self.branch.scope.assign(assigned)
            details["assignedVariables"] = assigned_json
            details["assignedVariablesDetails"] = NOT_TRUNCATED
        if state.exited_event_type is not None:
            self.emit(state.exited_event_type, "stateExitedEventDetails", details)
        self.branch.last_output = output
        self.branch.last_output_json = output_json
        return output


class ItemFrame:
    """The Frame of a Map ItemSelector: the Map's frame plus ``$$.Map.Item``."""

    __slots__ = ("run", "index", "value", "_context")

    def __init__(self, run: StateRun, index: int, value: Any) -> None:
        self.run = run
        self.index = index
        self.value = value
        self._context: dict[str, Any] | None = None

    @property
    def context(self) -> dict[str, Any]:
        if self._context is None:
            context = dict(self.run.context)
            context["Map"] = {"Item": {"Index": self.index, "Value": self.value}}
            self._context = context
        return self._context

    def variable(self, name: str) -> Any:
        return self.run.variable(name)

    def variables(self) -> dict[str, Any]:
        return self.run.variables()


class Execution:
    """One execution of a state machine (fresh or resumed)."""

    def __init__(
        self,
        *,
        machine: StateMachine,
        execution_arn: str,
        name: str,
        input_value: Any,
        input_json: str,
        start_time: datetime,
        clock: Clock,
        invoke: Invoke,
        executor: InvokePool,
        writer: CheckpointWriter,
        tokens: TaskTokenRegistry,
        rng: Any,
        role_arn: str,
        listener: Listener | None = None,
        replay: ReplayLog | None = None,
        children: ChildExecutions | None = None,
    ) -> None:
        self.children = children
        self.machine = machine
        self.arn = execution_arn
        self.name = name
        self.input_value = input_value
        self.input_json = input_json
        self.start_time = start_time
        self.clock = clock
        self.invoke_callable = invoke
        # A coroutine function, or an object whose __call__ is one, is awaited on the loop.
        self.invoke_is_async = inspect.iscoroutinefunction(invoke) or inspect.iscoroutinefunction(
            type(invoke).__call__
        )
        self.executor = executor
        self.writer = writer
        self.tokens = tokens
        self.rng = rng
        self.role_arn = role_arn
        self.listener = listener
        self.replay = replay
        self.history: list[dict[str, Any]] = list(replay.ordered_events) if replay else []
        self._next_event_id = (replay.last_event_id if replay else 0) + 1
        self._execution_context = {
            "Id": execution_arn,
            "Input": input_value,
            "Name": name,
            "RoleArn": role_arn,
            "StartTime": format_timestamp(start_time),
            "RedriveCount": 0,
        }
        self._machine_context = {"Id": machine.arn, "Name": machine.name}

    def abandon(self) -> None:
        """The process is going away: record nothing more, tell nobody; the log stays resumable."""
        self.writer.close()
        self.listener = None

    # -- history -----------------------------------------------------------------------------------------

    def emit(
        self, branch: Branch, event_type: str, details_key: str | None = None, details: Any = None
    ) -> dict[str, Any]:
        branch.seq += 1
        key = f"{branch.path}~{branch.seq}"
        replay = self.replay
        if replay is not None:
            recorded = replay.events.get(key)
            if recorded is not None and recorded["type"] == event_type:
                branch.last_event_id = recorded["id"]
                return recorded
        event_id = self._next_event_id
        if event_id > MAX_HISTORY_EVENTS and event_type not in _EXECUTION_END_EVENTS:
            # Step Functions fails the execution, and no Catch can stop it (States.Runtime ends executions)
            raise runtime_error(f"The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS}).")
        self._next_event_id = event_id + 1
        event: dict[str, Any] = {
            "timestamp": self.clock.now(),
            "type": event_type,
            "id": event_id,
            "previousEventId": branch.last_event_id,
        }
        if details_key is not None:
            event[details_key] = details
        self.history.append(event)
        branch.last_event_id = event_id
        self.writer.add(event_record(key, event, details_key, details))
        if self.listener is not None:
            try:
                self.listener(event)
            except Exception:  # a broken listener must not break the execution
                logger.exception("history listener failed on event %s", event_type)
        return event

    # -- Context object ------------------------------------------------------------------------------------

    def context_object(self, run: StateRun) -> dict[str, Any]:
        context: dict[str, Any] = {
            "Execution": self._execution_context,
            "State": {
                "EnteredTime": format_timestamp(run.entered_time),
                "Name": run.state.name,
                "RetryCount": run.retry_count,
            },
            "StateMachine": self._machine_context,
        }
        if run.task_token is not None:
            context["Task"] = {"Token": run.task_token}
        return context

    # -- quotas ------------------------------------------------------------------------------------------------

    exceeds_quota = staticmethod(exceeds_payload_quota)

    @staticmethod
    def data_limit_error(subject: str) -> StatesError:
        return StatesError(
            STATES_DATA_LIMIT_EXCEEDED,
            f"The state/task '{subject}' returned a result with a size exceeding the maximum number of bytes "
            "service limit.",
        )

    # -- side effects: invoke, sleep, callbacks (all checkpointed) -----------------------------------------

    async def call_function(self, resource: str, payload: Any) -> Any:
        """Call the ``invoke`` callable: the sync one in the thread pool so branches run concurrently.

        Returns the function's result, or a FunctionFailure if it raised.
        """
        self.writer.flush()
        if self.invoke_is_async:
            return await await_capturing_errors(self.invoke_callable, resource, payload)
        return await self.executor.submit(call_capturing_errors, self.invoke_callable, resource, payload)

    async def sleep(self, key: str, seconds: float) -> None:
        """A durable sleep: a resumed execution wakes at the originally recorded deadline."""
        deadline = self.timer_deadline(key, lambda: self.clock.now() + timedelta(seconds=seconds))
        self.writer.flush()
        await self.clock.sleep_until(deadline)

    async def sleep_until(self, key: str, deadline: datetime) -> None:
        deadline = self.timer_deadline(key, lambda: deadline)
        self.writer.flush()
        await self.clock.sleep_until(deadline)

    def timer_deadline(self, key: str, compute: Callable[[], datetime]) -> datetime:
        if self.replay is not None:
            recorded = self.replay.timers.get(key)
            if recorded is not None:
                return recorded
        deadline = compute()
        self.writer.add({"kind": checkpoints.TIMER, "key": key, "deadline": deadline.isoformat()})
        return deadline

    def task_token(self, key: str) -> str:
        if self.replay is not None:
            recorded = self.replay.tokens.get(key)
            if recorded is not None:
                return recorded
        token = uuid.uuid4().hex + uuid.uuid4().hex
        self.writer.add({"kind": checkpoints.TOKEN, "key": key, "token": token})
        return token

    def recorded_outcome(self, key: str) -> Outcome | None:
        if self.replay is None:
            return None
        return self.replay.outcomes.get(key)

    def record_result(self, key: str, result_json: str) -> None:
        self.writer.add({"kind": checkpoints.OUTCOME, "key": key, "result": result_json})

    def record_failure(self, key: str, error: StatesError) -> None:
        self.writer.add(
            {
                "kind": checkpoints.OUTCOME,
                "key": key,
                "error": error.error,
                "cause": error.cause,
                "fromTask": error.from_task,
            }
        )

    # -- control flow ----------------------------------------------------------------------------------------

    async def run_graph(self, graph: StateGraph, data: Any, branch: Branch) -> Any:
        """Run states from StartAt until one ends the branch; returns the branch output."""
        states = graph.states
        name: str | None = graph.start_at
        while name is not None:
            state = states[name]
            run = StateRun(self, branch, state, data)
            try:
                if state.is_sync:
                    name, data = state.run_sync(run, data)
                else:
                    name, data = await state.run(run, data)
            except StatesError as error:
                raise run.fail(error) from None
        return data


async def race_with_alarm(work: Awaitable[Any], clock: Clock, deadline: datetime | None) -> tuple[bool, Any]:
    """(True, result) if ``work`` finishes before ``deadline``, else (False, None) once ``work`` is cancelled."""
    if deadline is None:
        return True, await work
    work_task = asyncio.ensure_future(work)
    alarm_task = asyncio.ensure_future(clock.alarm(deadline))
    try:
        await asyncio.wait({work_task, alarm_task}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        await _cancel_and_settle(work_task)
        raise
    finally:
        if not alarm_task.done():
            alarm_task.cancel()
    # The alarm wins a tie: with a FakeClock the work may advance time past the deadline and then finish.
    if work_task.done() and not (alarm_task.done() and not alarm_task.cancelled()):
        return True, work_task.result()
    await _cancel_and_settle(work_task)
    return False, None


async def _cancel_and_settle(task: asyncio.Future[Any]) -> None:
    """Cancel a task and wait until it has unwound (its Map iterations record their abort first)."""
    task.cancel()
    await asyncio.wait({task})
