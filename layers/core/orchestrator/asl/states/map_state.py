"""Map (inline): runs its ItemProcessor (or legacy Iterator) for every item, concurrently."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from orchestrator.asl.errors import StatesError, runtime_error
from orchestrator.asl.paths import Reference, ReferenceNotFound, invalid_path_error
from orchestrator.asl.runtime import ItemFrame, StateRun
from orchestrator.asl.states.base import RecoverableState
from orchestrator.asl.states.fanout import FanOut
from orchestrator.asl.values import to_json


@dataclass(frozen=True, slots=True)
class CountSetting:
    """MaxConcurrency / ToleratedFailureCount / ToleratedFailurePercentage: literal, *Path, or expression."""

    field: str
    value: float | None = None
    path: Reference | None = None
    expression: Any = None  # (run, data) -> value
    allow_fraction: bool = False
    upper_bound: float | None = None

    def resolve(self, run: StateRun, data: Any) -> float | None:
        if self.value is not None:
            return self.value
        if self.path is not None:
            try:
                raw = self.path.resolve(data, run)
            except ReferenceNotFound as missing:
                raise invalid_path_error(self.path, missing) from None
            return self._checked(raw, self.path.text)
        if self.expression is not None:
            return self._checked(self.expression(run, data), self.field)
        return None

    def _checked(self, raw: Any, source: str) -> float:
        number = _as_number(raw, self.allow_fraction)
        kind = "number" if self.allow_fraction else "integer"
        shown = raw if isinstance(raw, str) else to_json(raw)
        if number is None:
            raise runtime_error(f'The {self.field}Path field refers to value "{shown}" which is not a valid {kind}: {source}')
        if number < 0 or (self.upper_bound is not None and number > self.upper_bound):
            bounds = f"from 0 to {self.upper_bound:g}" if self.upper_bound is not None else "of 0 or more"
            raise runtime_error(f"Expected {self.field} to be a {kind} {bounds}, got '{shown}' instead: {source}")
        return number


def _as_number(raw: Any, allow_fraction: bool) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and (allow_fraction or raw.is_integer()):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        try:
            return int(text)
        except ValueError:
            if allow_fraction:
                try:
                    return float(text)
                except ValueError:
                    return None
    return None


class MapState(RecoverableState):
    type_name = "Map"

    def __init__(
        self,
        name: str,
        next_state: str | None,
        flow: Any,
        *,
        processor: Any,
        items_path: Reference | None,
        items_expression: Any,
        item_selector: Any,
        max_concurrency: CountSetting | None,
        tolerated_count: CountSetting | None,
        tolerated_percentage: CountSetting | None,
        retriers: tuple = (),
        catchers: tuple = (),
    ) -> None:
        super().__init__(name, next_state, flow, retriers, catchers)
        self.processor = processor
        self.items_path = items_path
        self.items_expression = items_expression  # JSONata Items: (run, data) -> list
        self.item_selector = item_selector  # (frame, selected input) -> item input, or None
        self.max_concurrency = max_concurrency
        self.tolerated_count = tolerated_count
        self.tolerated_percentage = tolerated_percentage

    def _items(self, run: StateRun, selected: Any) -> list[Any]:
        if self.items_expression is not None:
            return self.items_expression(run, selected)
        if self.items_path is None:
            items = selected
        else:
            try:
                items = self.items_path.resolve(selected, run)
            except ReferenceNotFound as missing:
                raise invalid_path_error(self.items_path, missing) from None
        if not isinstance(items, list):
            raise runtime_error(f"Map state input must be an array but was: {to_json(items)}")
        return items

    async def attempt(self, run: StateRun, data: Any) -> tuple[Any, dict[str, Any] | None]:
        execution = run.execution
        selected = self.flow.select_input(data, run)
        items = self._items(run, selected)
        limit = self.max_concurrency.resolve(run, selected) if self.max_concurrency else None
        count = self.tolerated_count.resolve(run, selected) if self.tolerated_count else None
        percentage = self.tolerated_percentage.resolve(run, selected) if self.tolerated_percentage else None
        fan_out = FanOut(len(items), int(limit or 0), None if count is None else int(count), percentage)
        run.emit("MapStateStarted", "mapStateStartedEventDetails", {"length": len(items)})
        prefix = f"{self.name}#{run.visit}.{run.retry_count}"

        async def iteration(index: int) -> Any:
            item = items[index]
            branch = run.branch.child(f"{prefix}[{index}]")
            if self.item_selector is not None:
                item = self.item_selector(ItemFrame(run, index, item), selected)
            details = {"name": self.name, "index": index}
            execution.emit(branch, "MapIterationStarted", "mapIterationStartedEventDetails", details)
            try:
                output = await execution.run_graph(self.processor, item, branch)
            except StatesError:
                execution.emit(branch, "MapIterationFailed", "mapIterationFailedEventDetails", details)
                raise
            except asyncio.CancelledError:
                execution.emit(branch, "MapIterationAborted", "mapIterationAbortedEventDetails", details)
                raise
            execution.emit(branch, "MapIterationSucceeded", "mapIterationSucceededEventDetails", details)
            return output

        try:
            results = await fan_out.run(iteration)
        except StatesError as error:
            if not error.ends_execution:
                run.emit("MapStateFailed")
            raise
        run.emit("MapStateSucceeded")
        return self.flow.output(data, results, run)
