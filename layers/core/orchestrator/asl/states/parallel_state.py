"""Parallel: runs every branch on the same input, concurrently; the result is the array of outputs."""

from __future__ import annotations

from typing import Any

from orchestrator.asl.errors import StatesError
from orchestrator.asl.runtime import StateRun
from orchestrator.asl.states.base import RecoverableState
from orchestrator.asl.states.fanout import FanOut


class ParallelState(RecoverableState):
    type_name = "Parallel"

    def __init__(
        self,
        name: str,
        next_state: str | None,
        flow: Any,
        *,
        branches: tuple[Any, ...],
        retriers: tuple = (),
        catchers: tuple = (),
    ) -> None:
        super().__init__(name, next_state, flow, retriers, catchers)
        self.branches = branches

    async def attempt(self, run: StateRun, data: Any) -> tuple[Any, dict[str, Any] | None]:
        execution = run.execution
        effective = self.flow.effective_input(data, run)
        run.emit("ParallelStateStarted")
        prefix = f"{self.name}#{run.visit}.{run.retry_count}"

        async def branch(index: int) -> Any:
            child = run.branch.child(f"{prefix}({index})")
            return await execution.run_graph(self.branches[index], effective, child)

        try:
            results = await FanOut(len(self.branches)).run(branch)
        except StatesError as error:
            if not error.ends_execution:
                run.emit("ParallelStateFailed")
            raise
        run.emit("ParallelStateSucceeded")
        return self.flow.output(data, results, run)
