"""The StateMachines port on the project's ASL interpreter: Step Functions' API, in-process and durable."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from orchestrator.asl import (
    ExecutionAlreadyExists,
    ExecutionHandle,
    ExecutionResult,
    Interpreter,
    StateMachine,
    TaskDoesNotExist,
)
from orchestrator.asl.checkpoints import END
from orchestrator.observability import logger
from orchestrator.ports.state_machines import (
    ExecutionDescription,
    ExecutionNameConflict,
    ExecutionNotFound,
    StateMachineNotFound,
    TaskNotFound,
)
from orchestrator.services import cancellation

REPORTER_THREADS = 4

#: called with the execution's name and its result when an execution ends
FinishedCallback = Callable[[str, ExecutionResult], None]


class LocalStateMachines:
    def __init__(self, interpreter: Interpreter, machines: list[StateMachine],
                 on_finished: FinishedCallback | None = None) -> None:
        self.interpreter = interpreter
        self._machines = {key: machine for machine in machines for key in (machine.name, machine.arn)}
        self.on_finished = on_finished
        self._handles: dict[str, ExecutionHandle] = {}
        self._lock = threading.Lock()
        # a few long-lived threads record the ends (each keeps its store connection), not one per execution
        self._reporters = ThreadPoolExecutor(max_workers=REPORTER_THREADS, thread_name_prefix="execution-end")

    def machine(self, state_machine: str) -> StateMachine:
        try:
            return self._machines[state_machine]
        except KeyError:
            raise StateMachineNotFound(state_machine) from None

    def start_execution(self, state_machine: str, name: str, input: dict[str, Any]) -> str:
        machine = self.machine(state_machine)
        try:
            handle = self.interpreter.start(machine, input, name=name)
        except ExecutionAlreadyExists:
            arn = machine.execution_arn(name)
            started = next(iter(self.interpreter.checkpoints.load(arn)), {})
            if started and json.loads(started.get("input", "null")) != input:
                raise ExecutionNameConflict(name, arn) from None
            return arn
        self._watch(handle)
        return handle.execution_arn

    def resume_unfinished(self) -> list[str]:
        """After a restart: every execution the checkpoints say was running goes on where it stopped."""
        machines = {machine.arn: machine for machine in self._machines.values()}
        handles = self.interpreter.resume_unfinished(machines)
        for handle in handles:
            self._watch(handle)
        return [handle.name for handle in handles]

    def stop_execution(self, execution_arn: str, error: str | None = None, cause: str | None = None) -> None:
        if execution_arn not in self._handles and not self.interpreter.checkpoints.load(execution_arn):
            raise ExecutionNotFound(execution_arn)
        cancellation.cancel(execution_arn.rsplit(":", 1)[-1])  # its running steps stop too (scripts are killed)
        self.interpreter.stop(execution_arn, error, cause)

    def describe_execution(self, execution_arn: str) -> ExecutionDescription:
        handle = self._handles.get(execution_arn)
        if handle is None:
            return self._describe_from_checkpoints(execution_arn)
        if not handle.done():
            return self._describe_from_checkpoints(execution_arn)
        result = handle.wait()
        return ExecutionDescription(execution_arn, result.name, execution_arn.split(":")[-2], result.status, None,
                                    result.output, result.error, result.cause, result.start_date, result.stop_date)

    def send_task_success(self, task_token: str, output: Any) -> None:
        try:
            self.interpreter.send_task_success(task_token, output)
        except TaskDoesNotExist as exc:
            raise TaskNotFound(str(exc)) from None

    def send_task_failure(self, task_token: str, error: str | None = None, cause: str | None = None) -> None:
        try:
            self.interpreter.send_task_failure(task_token, error, cause)
        except TaskDoesNotExist as exc:
            raise TaskNotFound(str(exc)) from None

    def send_task_heartbeat(self, task_token: str) -> None:
        try:
            self.interpreter.send_task_heartbeat(task_token)
        except TaskDoesNotExist as exc:
            raise TaskNotFound(str(exc)) from None

    def _describe_from_checkpoints(self, execution_arn: str) -> ExecutionDescription:
        """An execution of an earlier process: what its checkpoint log says (ended, or still to resume)."""
        records = self.interpreter.checkpoints.load(execution_arn)
        if not records:
            raise ExecutionNotFound(execution_arn)
        started, last = records[0], records[-1]
        start_date = datetime.fromisoformat(started["startTime"]) if "startTime" in started else None
        name, machine = execution_arn.split(":")[-1], execution_arn.split(":")[-2]
        if last.get("kind") != END:
            return ExecutionDescription(execution_arn, name, machine, "RUNNING", None, None, None, None, start_date, None)
        output = json.loads(last["output"]) if last.get("output") else None
        return ExecutionDescription(execution_arn, name, machine, last["status"], None, output, last.get("error"),
                                    last.get("cause"), start_date, datetime.fromisoformat(last["stopDate"]))

    def _watch(self, handle: ExecutionHandle) -> None:
        with self._lock:
            self._handles[handle.execution_arn] = handle
        handle.add_done_callback(lambda done: self._reporters.submit(self._report_end, done))

    def _report_end(self, handle: ExecutionHandle) -> None:
        try:
            result = handle.wait()
        except Exception:  # the interpreter was closed under it: a restart resumes the execution
            logger.info("execution abandoned at shutdown", extra={"execution": handle.name})
            return
        try:
            if self.on_finished is not None:
                self.on_finished(handle.name, result)
        except Exception:
            logger.exception("recording the end of an execution failed", extra={"execution": handle.name})
        finally:
            # ended executions are described from their checkpoints: the handle (and its history) can go
            with self._lock:
                self._handles.pop(handle.execution_arn, None)

