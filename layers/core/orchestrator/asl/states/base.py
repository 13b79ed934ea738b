"""What every compiled state has, and the Retry/Catch loop of Task, Map and Parallel."""

from __future__ import annotations

from typing import Any, ClassVar

from orchestrator.asl.errors import StatesError
from orchestrator.asl.retry import Catcher, Retrier, first_matching
from orchestrator.asl.runtime import StateRun


class State:
    """A compiled state. ``flow`` is its data flow (JSONPath or JSONata), ``next`` None when it ends."""

    type_name: ClassVar[str] = ""
    is_sync: ClassVar[bool] = False

    def __init__(self, name: str, next_state: str | None, flow: Any) -> None:
        self.name = name
        self.next = next_state
        self.flow = flow
        self.entered_event_type = f"{self.type_name}StateEntered"
        self.exited_event_type: str | None = f"{self.type_name}StateExited"

    def run_sync(self, run: StateRun, data: Any) -> tuple[str | None, Any]:
        raise NotImplementedError

    async def run(self, run: StateRun, data: Any) -> tuple[str | None, Any]:
        return self.run_sync(run, data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class RecoverableState(State):
    """A state whose failures go through its Retriers, then its Catchers."""

    def __init__(
        self,
        name: str,
        next_state: str | None,
        flow: Any,
        retriers: tuple[Retrier, ...] = (),
        catchers: tuple[Catcher, ...] = (),
    ) -> None:
        super().__init__(name, next_state, flow)
        self.retriers = retriers
        self.catchers = catchers

    async def attempt(self, run: StateRun, data: Any) -> tuple[Any, dict[str, Any] | None]:
        """One attempt of the state's work: (output, variables to assign), or raises StatesError."""
        raise NotImplementedError

    async def run(self, run: StateRun, data: Any) -> tuple[str | None, Any]:
        retries_by_retrier = [0] * len(self.retriers)
        while True:
            try:
                output, assigned = await self.attempt(run, data)
            except StatesError as error:
                run.fail(error)
                if error.ends_execution:
                    raise
                matched = first_matching(self.retriers, error)
                if matched is not None:
                    index, retrier = matched
                    retries = retries_by_retrier[index]
                    if retries < retrier.max_attempts:
                        retries_by_retrier[index] = retries + 1
                        delay = retrier.delay(retries, run.execution.rng)
                        await run.execution.sleep(f"{run.attempt_key}~retry", delay)
                        run.next_attempt()
                        continue
                caught = first_matching(self.catchers, error)
                if caught is None:
                    raise
                catcher = caught[1]
                output, assigned = self.flow.caught_output(catcher, data, error, run)
                return catcher.next, run.exit(output, assigned)
            return self.next, run.exit(output, assigned)
