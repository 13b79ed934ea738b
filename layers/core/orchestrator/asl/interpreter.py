"""The public face of the ASL interpreter.

    interpreter = Interpreter(invoke=resolver, clock=FakeClock(), checkpoints=store)
    result = interpreter.run(machine, {"x": 1})            # blocking
    handle = interpreter.start(machine, {"x": 1})          # returns at once; handle.wait()
    interpreter.send_task_success(token, {"ok": True})     # from any thread
    interpreter.resume_unfinished({machine.arn: machine})  # after a restart

Executions run as coroutines on one event loop owned by the interpreter (a daemon thread), so ``run``
works from any thread (with or without an event loop of its own) and from many threads at once. A sync
``invoke`` runs in a thread pool, so Map iterations and Parallel branches call functions concurrently;
an ``async def`` invoke is awaited on the loop.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import uuid
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orchestrator.asl.callbacks import TaskTokenRegistry
from orchestrator.asl.checkpoints import END, START, CheckpointWriter, MemoryCheckpointStore, ReplayLog
from orchestrator.asl.child_executions import ChildExecutions
from orchestrator.asl.clock import Clock, SystemClock
from orchestrator.asl.errors import STATES_RUNTIME, STATES_TIMEOUT, StatesError
from orchestrator.asl.invoke_pool import InvokePool
from orchestrator.asl.model import StateMachine
from orchestrator.asl.runtime import Branch, Execution, Invoke, Listener, Scope, race_with_alarm
from orchestrator.asl.values import NOT_TRUNCATED, exceeds_payload_quota, to_json
from orchestrator.observability import logger
from orchestrator.ports.checkpoints import CheckpointStore

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
ABORTED = "ABORTED"
TIMED_OUT = "TIMED_OUT"
DEFAULT_ROLE_ARN = "arn:aws:iam::{account}:role/orchestrator-local-states"


class ExecutionInputError(ValueError):
    """The execution input is not JSON, or exceeds the 256 KiB payload quota (StartExecution refuses it)."""


class ExecutionAbandoned(BaseException):  # noqa: N818 -- like CancelledError: not an error of the execution
    """A child execution stopped without an end (the interpreter is closing or the process dying)."""


class ExecutionAlreadyExists(ValueError):
    pass


class ExecutionDoesNotExist(LookupError):
    pass


@dataclass
class ExecutionResult:
    execution_arn: str
    name: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    start_date: datetime | None = None
    stop_date: datetime | None = None

    @property
    def execution_id(self) -> str:
        return self.execution_arn


class ExecutionHandle:
    """A started execution; ``wait()`` blocks for its result."""

    def __init__(self, execution_arn: str, name: str, future: Future[ExecutionResult], start_date: datetime) -> None:
        self.execution_arn = execution_arn
        self.name = name
        self.start_date = start_date
        self._future = future

    @property
    def execution_id(self) -> str:
        return self.execution_arn

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> ExecutionResult:
        return self._future.result(timeout)

    def add_done_callback(self, callback: Callable[[ExecutionHandle], None]) -> None:
        """``callback(self)`` once the execution has ended (at once if it has): on the interpreter's loop
        thread, so it must hand any blocking work to another thread."""
        self._future.add_done_callback(lambda _future: callback(self))


@dataclass
class _Running:
    """An execution this interpreter is running (reserved by start() before its coroutine begins)."""

    execution: Execution | None = None
    task: asyncio.Task[Any] | None = None


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="asl-interpreter-loop", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coroutine: Coroutine[Any, Any, ExecutionResult]) -> Future[ExecutionResult]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def call(self, callback: Any, *args: Any) -> None:
        self.loop.call_soon_threadsafe(callback, *args)

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


class Interpreter:
    def __init__(
        self,
        invoke: Invoke | None = None,
        clock: Clock | None = None,
        checkpoints: CheckpointStore | None = None,
        *,
        max_workers: int = 64,
        rng: random.Random | None = None,
        role_arn: str | None = None,
        machines: Mapping[str, StateMachine] | None = None,
    ) -> None:
        self.invoke = invoke or _no_functions
        #: what a startExecution Task may start besides its own machine, by ARN
        self.machines: dict[str, StateMachine] = dict(machines or {})
        self._children = ChildExecutions(self)
        self.clock: Clock = clock or SystemClock()
        self.checkpoints: CheckpointStore = checkpoints if checkpoints is not None else MemoryCheckpointStore()
        self.rng = rng or random.Random()
        self.role_arn = role_arn
        self._max_workers = max_workers
        self._tokens = TaskTokenRegistry()
        self._lock = threading.Lock()
        self._loop_thread: _LoopThread | None = None
        self._executor: InvokePool | None = None
        self._running: dict[str, _Running] = {}
        self._abort_requests: dict[str, tuple[str | None, str | None]] = {}

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def _ensure_started(self) -> _LoopThread:
        with self._lock:
            if self._loop_thread is None:
                self._loop_thread = _LoopThread()
                self._executor = InvokePool(self._max_workers)
            return self._loop_thread

    def close(self) -> None:
        """Stop the event loop and the invoke threads. Running executions are abandoned: they record
        nothing more and stay unfinished in the checkpoint store, for ``resume_unfinished``."""
        with self._lock:
            loop_thread, self._loop_thread = self._loop_thread, None
            executor, self._executor = self._executor, None
            for running in self._running.values():
                if running.execution is not None:
                    running.execution.abandon()
        if loop_thread is not None:
            cancelled = asyncio.run_coroutine_threadsafe(_cancel_all_tasks(), loop_thread.loop)
            try:
                cancelled.result(timeout=10)
            except Exception:  # a task that refuses to unwind must not block the shutdown
                logger.warning("ASL interpreter: some executions did not unwind on close", exc_info=True)
            loop_thread.stop()
        if executor is not None:
            executor.shutdown()

    def __enter__(self) -> Interpreter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- executions ----------------------------------------------------------------------------------------------

    def run(
        self, machine: StateMachine, input: Any = None, name: str | None = None, listener: Listener | None = None
    ) -> ExecutionResult:
        """Run an execution to its end and return its result (blocking)."""
        loop_thread = self._ensure_started()
        if threading.current_thread() is loop_thread.thread:
            raise RuntimeError("Interpreter.run cannot be called from the interpreter's own event loop (a listener)")
        return self.start(machine, input, name=name, listener=listener).wait()

    def start(
        self, machine: StateMachine, input: Any = None, name: str | None = None, listener: Listener | None = None
    ) -> ExecutionHandle:
        """Start an execution and return at once."""
        loop_thread = self._ensure_started()
        try:
            input_json = to_json({} if input is None else input)
        except (TypeError, ValueError) as invalid:
            raise ExecutionInputError(f"execution input is not JSON: {invalid}") from None
        if exceeds_payload_quota(input_json):
            raise ExecutionInputError("execution input exceeds the maximum size of 262144 bytes")
        execution_name = name or str(uuid.uuid4())
        execution_arn = machine.execution_arn(execution_name)
        with self._lock:
            if execution_arn in self._running or (name is not None and self.checkpoints.load(execution_arn)):
                raise ExecutionAlreadyExists(f"an execution named {execution_name!r} already exists")
            self._running[execution_arn] = _Running()
        start_time = self.clock.now()
        writer = CheckpointWriter(self.checkpoints, execution_arn)
        writer.add(
            {
                "kind": START,
                "executionArn": execution_arn,
                "name": execution_name,
                "stateMachineArn": machine.arn,
                "definitionHash": machine.definition_hash,
                "input": input_json,
                "startTime": start_time.isoformat(),
            }
        )
        writer.flush()  # a started execution is durable: a restart resumes it even before its first state
        execution = self._execution(machine, execution_arn, execution_name, input_json, start_time, writer, listener)
        future = loop_thread.submit(self._drive(execution))
        return ExecutionHandle(execution_arn, execution_name, future, start_time)

    def resume_unfinished(
        self, machines_by_arn: Mapping[str, StateMachine], listener: Listener | None = None
    ) -> list[ExecutionHandle]:
        """Resume every execution whose checkpoint log has no end (after a restart).

        Executions of machines not in ``machines_by_arn``, or whose definition changed since they started,
        are left unfinished (and logged): replaying them against another definition would be wrong.
        """
        handles = []
        for execution_arn in self.checkpoints.unfinished():
            records = self.checkpoints.load(execution_arn)
            if not records:
                continue
            start = records[0]
            machine = machines_by_arn.get(start.get("stateMachineArn", ""))
            if machine is None:
                logger.warning("cannot resume %s: state machine %s not given", execution_arn, start.get("stateMachineArn"))
                continue
            handle = self.resume_one(execution_arn, machine, listener)
            if handle is not None:
                handles.append(handle)
        return handles

    def resume_one(
        self, execution_arn: str, machine: StateMachine, listener: Listener | None = None
    ) -> ExecutionHandle | None:
        """Resume one unfinished execution of ``machine``; None if it runs already or cannot be resumed."""
        loop_thread = self._ensure_started()
        with self._lock:
            if execution_arn in self._running:
                return None
        records = self.checkpoints.load(execution_arn)
        if not records:
            return None
        replay = ReplayLog.from_records(records)
        start = replay.start
        if machine.definition_hash != start["definitionHash"]:
            logger.warning("cannot resume %s: the definition of %s changed since it started", execution_arn, machine.arn)
            return None
        with self._lock:
            if execution_arn in self._running:
                return None
            self._running[execution_arn] = _Running()
        writer = CheckpointWriter(self.checkpoints, execution_arn)
        start_time = datetime.fromisoformat(start["startTime"])
        execution = self._execution(
            machine, execution_arn, start["name"], start["input"], start_time, writer, listener, replay
        )
        return ExecutionHandle(execution_arn, start["name"], loop_thread.submit(self._drive(execution)), start_time)

    # -- what child executions need (asl/child_executions.py) ------------------------------------------------------

    def is_running(self, execution_arn: str) -> bool:
        with self._lock:
            return execution_arn in self._running

    def abort_requested(self, execution_arn: str) -> bool:
        with self._lock:
            return execution_arn in self._abort_requests

    async def wait_for(self, execution_arn: str) -> ExecutionResult:
        """The result of an execution of this interpreter, awaited on its loop (running or ended)."""
        while True:
            with self._lock:
                running = self._running.get(execution_arn)
            if running is not None and running.task is not None:
                return await asyncio.shield(running.task)
            if running is None:
                ended = self.ended(execution_arn)
                if ended is not None:
                    return ended
                # neither running nor ended: it was abandoned (shutdown, or the process dying), and so is its parent
                raise ExecutionAbandoned(execution_arn)
            await asyncio.sleep(0.005)  # reserved by start()/resume but not begun yet

    def ended(self, execution_arn: str) -> ExecutionResult | None:
        """The result of an execution that has ended, from its checkpoint log (None if it has not)."""
        records = self.checkpoints.load(execution_arn)
        if not records or records[-1].get("kind") != END:
            return None
        start, end = records[0], records[-1]
        output = end.get("output")
        return ExecutionResult(
            execution_arn=execution_arn,
            name=start["name"],
            status=end["status"],
            output=json.loads(output) if output is not None else None,
            error=end.get("error"),
            cause=end.get("cause"),
            start_date=datetime.fromisoformat(start["startTime"]),
            stop_date=datetime.fromisoformat(end["stopDate"]) if end.get("stopDate") else None,
        )

    def _execution(
        self,
        machine: StateMachine,
        execution_arn: str,
        name: str,
        input_json: str,
        start_time: datetime,
        writer: CheckpointWriter,
        listener: Listener | None,
        replay: ReplayLog | None = None,
    ) -> Execution:
        assert self._executor is not None
        return Execution(
            machine=machine,
            execution_arn=execution_arn,
            name=name,
            input_value=json.loads(input_json),
            input_json=input_json,
            start_time=start_time,
            clock=self.clock,
            invoke=self.invoke,
            executor=self._executor,
            writer=writer,
            tokens=self._tokens,
            rng=self.rng,
            role_arn=self.role_arn or DEFAULT_ROLE_ARN.format(account=machine.account),
            listener=listener,
            replay=replay,
            children=self._children,
        )

    # -- callbacks and control ------------------------------------------------------------------------------------

    def send_task_success(self, token: str, output: Any) -> None:
        """Complete a ``.waitForTaskToken`` task. ``output`` is JSON text or a JSON value."""
        self._tokens.send_success(token, output)

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        self._tokens.send_failure(token, error, cause)

    def send_task_heartbeat(self, token: str) -> None:
        self._tokens.send_heartbeat(token)

    def stop(self, execution_id: str, error: str | None = None, cause: str | None = None) -> None:
        """Abort an execution (ExecutionAborted). An unfinished one that is not running is closed as aborted."""
        with self._lock:
            running = self._running.get(execution_id)
            if running is not None:
                self._abort_requests[execution_id] = (error, cause)
        if running is not None:
            task = running.task
            loop_thread = self._loop_thread
            if task is not None and loop_thread is not None:
                loop_thread.call(task.cancel)
            return
        records = self.checkpoints.load(execution_id)
        if not records or execution_id not in self.checkpoints.unfinished():
            raise ExecutionDoesNotExist(f"no running execution {execution_id!r}")
        CheckpointWriter(self.checkpoints, execution_id).finish(
            {"status": ABORTED, "error": error, "cause": cause, "stopDate": self.clock.now().isoformat()}
        )

    # -- the execution coroutine -------------------------------------------------------------------------------------

    async def _drive(self, execution: Execution) -> ExecutionResult:
        with self._lock:
            self._running[execution.arn] = _Running(execution, asyncio.current_task())
            abort_requested = execution.arn in self._abort_requests
        try:
            if abort_requested:  # stop() arrived before the coroutine started
                raise asyncio.CancelledError
            return await self._run(execution)
        except asyncio.CancelledError:
            with self._lock:
                abort = self._abort_requests.pop(execution.arn, None)
            if abort is None:
                execution.abandon()  # the interpreter is shutting down: leave the execution resumable
                raise
            return self._finish(execution, ABORTED, error=abort[0], cause=abort[1])
        except BaseException:
            execution.abandon()  # the process is dying (a BaseException from a function): record no end
            raise
        finally:
            with self._lock:
                self._running.pop(execution.arn, None)
                self._abort_requests.pop(execution.arn, None)

    async def _run(self, execution: Execution) -> ExecutionResult:
        machine = execution.machine
        top = Branch("", 0, Scope())
        execution.emit(
            top,
            "ExecutionStarted",
            "executionStartedEventDetails",
            {"input": execution.input_json, "inputDetails": NOT_TRUNCATED, "roleArn": execution.role_arn},
        )
        # As in Step Functions' history, the first state's event does not point back at ExecutionStarted.
        top.last_event_id = 0
        top.last_output, top.last_output_json = execution.input_value, execution.input_json
        deadline = None
        if machine.timeout_seconds is not None:
            deadline = execution.timer_deadline(
                "~execution-timeout", lambda: execution.start_time + timedelta(seconds=machine.timeout_seconds or 0)
            )
        try:
            finished, output = await race_with_alarm(
                execution.run_graph(machine.graph, execution.input_value, top), execution.clock, deadline
            )
        except StatesError as error:
            return self._finish(execution, FAILED, error=error.error, cause=error.execution_cause(), branch=top)
        except asyncio.CancelledError:
            raise
        except Exception as bug:  # an interpreter defect must still end the execution, visibly
            logger.exception("ASL interpreter error in %s", execution.arn)
            return self._finish(
                execution, FAILED, error=STATES_RUNTIME, cause=f"Internal interpreter error: {bug!r}", branch=top
            )
        if not finished:
            return self._finish(
                execution,
                TIMED_OUT,
                error=STATES_TIMEOUT,
                cause=f"The execution ran longer than its TimeoutSeconds ({machine.timeout_seconds}s).",
                branch=top,
            )
        return self._finish(execution, SUCCEEDED, output_json=top.to_json(output), branch=top)

    def _finish(
        self,
        execution: Execution,
        status: str,
        *,
        output_json: str | None = None,
        error: str | None = None,
        cause: str | None = None,
        branch: Branch | None = None,
    ) -> ExecutionResult:
        if branch is None:  # aborted before or outside the top-level branch: terminal events get their own
            branch = Branch("/~end", execution.history[-1]["id"] if execution.history else 0, Scope())
        if status == SUCCEEDED:
            execution.emit(
                branch,
                "ExecutionSucceeded",
                "executionSucceededEventDetails",
                {"output": output_json, "outputDetails": NOT_TRUNCATED},
            )
        else:
            details = {key: value for key, value in (("error", error), ("cause", cause)) if value is not None}
            event_type = {FAILED: "ExecutionFailed", ABORTED: "ExecutionAborted", TIMED_OUT: "ExecutionTimedOut"}[status]
            details_key = event_type[0].lower() + event_type[1:] + "EventDetails"
            execution.emit(branch, event_type, details_key, details)
        stop_date = execution.clock.now()
        execution.writer.finish(
            {"status": status, "output": output_json, "error": error, "cause": cause, "stopDate": stop_date.isoformat()}
        )
        return ExecutionResult(
            execution_arn=execution.arn,
            name=execution.name,
            status=status,
            # A fresh copy: the caller may change it without touching the machine's constants.
            output=json.loads(output_json) if output_json is not None else None,
            error=error,
            cause=cause,
            history=execution.history,
            start_date=execution.start_time,
            stop_date=stop_date,
        )


async def _cancel_all_tasks() -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _no_functions(resource: str, payload: Any) -> Any:
    raise LookupError(f"no invoke callable was given to the Interpreter: cannot call {resource}")
