"""The live view of `orchestrator run` stays readable and cheap on big workflows (issue 9).

A 1,000-step workflow collapses to a summary line per parallel group with counts by status, and keeps the
rows of failed, retrying and running steps visible; a small one keeps a row per step. The view is built
when rich.Live draws, not on every step event: the cases count the builds (not wall-clock time, which
depends on the machine) and require far fewer than the events.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from rich.console import Console

from orchestrator.cli.live_view import LiveStepView
from orchestrator.domain.workflow import WorkflowDefinition

FAILING = "g5_s050"
RETRYING = "g3_s007"


def _condition(step_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "condition", "config": {"expression": "true"}, **extra}


def _groups_of_100(groups: int = 10) -> WorkflowDefinition:
    """``groups`` x 100 steps: every step of group g waits for the first step of group g-1."""
    return WorkflowDefinition.model_validate({"name": "big", "steps": [
        _condition(f"g{group}_s{index:03d}", **({"depends_on": [f"g{group - 1}_s000"]} if group else {}))
        for group in range(groups) for index in range(100)]})


def _chain(length: int) -> WorkflowDefinition:
    """A planner group per step."""
    return WorkflowDefinition.model_validate({"name": "chain", "steps": [
        _condition(f"c{index}", **({"depends_on": [f"c{index - 1}"]} if index else {})) for index in range(length)]})


def _console(out: io.StringIO, **options: Any) -> Console:
    return Console(file=out, width=120, force_terminal=False, **options)


def _run_step(view: LiveStepView, step_id: str) -> int:
    """Reports one step as the engine would; FAILING fails, RETRYING is retried once. Returns the events sent."""
    view.on_step(step_id, "running", None)
    if step_id == RETRYING:
        view.on_step(step_id, "retry", {"error": "Flaky", "wait_seconds": 2})
        view.on_step(step_id, "running", None)
        view.on_step(step_id, "succeeded", {})
        return 4
    if step_id == FAILING:
        view.on_step(step_id, "failed", {"error": "Boom", "cause": "it broke"})
    else:
        view.on_step(step_id, "succeeded", {})
    return 2


def _counting_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls of the view's builder (what each redraw of the view costs)."""
    calls: list[int] = []
    build: Callable[..., Any] = LiveStepView._build

    def counting(self: LiveStepView, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return build(self, *args, **kwargs)

    monkeypatch.setattr(LiveStepView, "_build", counting)
    return calls


def _draw(view: LiveStepView) -> list[str]:
    """What Live would draw at its next refresh, as plain lines."""
    out = io.StringIO()
    _console(out).print(view._renderable())
    return out.getvalue().splitlines()


def _lines_with(lines: list[str], *words: str) -> list[str]:
    return [line for line in lines if all(word in line for word in words)]


# -- 1,000 steps ---------------------------------------------------------------------------------------------


def test_a_1000_step_run_shows_a_summary_per_group_and_its_failed_step(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the live view of 10 groups x 100 steps, writing to a file
    definition = _groups_of_100()
    out = io.StringIO()
    builds = _counting_builds(monkeypatch)
    # When every step runs and ends (one fails, one is retried once)
    with LiveStepView(definition, _console(out)) as view:
        events = sum(_run_step(view, step.id) for step in definition.steps)
    lines = out.getvalue().splitlines()
    # Then there is one summary line per group, with its counts by status
    assert _lines_with(lines, "steps: 1000 in 10 parallel groups: 999 succeeded, 1 failed"), lines
    for group in range(1, 11):
        counts = "99 succeeded, 1 failed" if group == 6 else "100 succeeded"
        assert f"group {group} (100 steps): {counts}" in lines, lines
    # And the failed step's row is visible, with its error; steps that went well have no row
    assert len(_lines_with(lines, FAILING, "failed", "Boom")) == 1, lines
    assert not _lines_with(lines, "g0_s001") and not _lines_with(lines, RETRYING)
    # And the whole view fits a terminal
    assert len(lines) < 60, len(lines)
    # And the view was built a handful of times, not once per event
    assert events == 2002
    assert len(builds) * 100 < events, len(builds)


def test_a_terminal_is_redrawn_at_a_fixed_rate_not_per_event(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the live view of 1,000 steps on a terminal (where Live redraws while the run goes)
    definition = _groups_of_100()
    out = io.StringIO()
    console = Console(file=out, width=120, height=50, force_terminal=True, color_system=None)
    builds = _counting_builds(monkeypatch)
    # When every step runs and ends
    with LiveStepView(definition, console) as view:
        events = sum(_run_step(view, step.id) for step in definition.steps)
    # Then the view was built far fewer times than there were events
    assert len(builds) * 100 < events, len(builds)
    # And its last drawing shows the final state
    assert "group 6 (100 steps): 99 succeeded, 1 failed" in out.getvalue()


def test_running_and_retrying_steps_stay_visible_with_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a 1,000-step run half way: groups 1-4 done, in group 5 one step failed, one waits for its
    # retry and 30 are running
    definition = _groups_of_100()
    view = LiveStepView(definition, _console(io.StringIO()))
    for step in definition.steps[:400]:
        _run_step(view, step.id)
    view.on_step("g4_s000", "running", None)
    view.on_step("g4_s000", "failed", {"error": "Boom"})
    view.on_step("g4_s001", "running", None)
    view.on_step("g4_s001", "retry", {"error": "Flaky", "wait_seconds": 5})
    for index in range(2, 32):
        view.on_step(f"g4_s{index:03d}", "running", None)
    # When Live draws it
    lines = _draw(view)
    # Then group 5's line has its counts, the others theirs
    assert "group 5 (100 steps): 30 running, 1 retry, 1 failed, 68 pending" in lines, lines
    assert "group 4 (100 steps): 100 succeeded" in lines and "group 6 (100 steps): 100 pending" in lines
    # And the failed step comes first, then the retrying one with when it runs again, then running steps
    rows = [line for line in lines if re.match(r"^│ g\d", line)]
    assert "g4_s000" in rows[0] and "failed" in rows[0]
    assert "g4_s001" in rows[1] and "retry" in rows[1] and "again in 5s" in rows[1]
    assert all("running" in row for row in rows[2:])
    # And at most 20 rows are shown, the rest counted
    assert len(rows) == 20
    assert _lines_with(lines, "+12 more: 12 running"), lines


def test_the_counts_stay_right_when_steps_report_from_many_threads() -> None:
    # Given the live view of 1,000 steps
    definition = _groups_of_100()
    out = io.StringIO()
    # When the steps report from 8 threads at once
    with LiveStepView(definition, _console(out)) as view, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda step: _run_step(view, step.id), definition.steps))
    # Then each group's counts add up to its steps
    lines = out.getvalue().splitlines()
    assert "group 6 (100 steps): 99 succeeded, 1 failed" in lines, lines
    assert all(f"group {group} (100 steps): 100 succeeded" in lines for group in (1, 2, 3, 4, 5, 7, 8, 9, 10))
    assert view.statuses()[FAILING] == "failed"


def test_a_long_chain_merges_the_groups_done_and_the_groups_waiting() -> None:
    # Given a chain of 1,000 steps (1,000 groups of one step) half way, its 500th step running
    view = LiveStepView(_chain(1000), _console(io.StringIO()))
    for index in range(499):
        view.on_step(f"c{index}", "running", None)
        view.on_step(f"c{index}", "succeeded", {})
    view.on_step("c499", "running", None)
    # When Live draws it
    lines = _draw(view)
    # Then the groups done share a line, the running one has its own, the waiting ones share one
    assert "groups 1-499 (499 steps): 499 succeeded" in lines, lines
    assert "group 500 (1 step): 1 running" in lines
    assert "groups 501-1000 (500 steps): 500 pending" in lines
    assert len(lines) < 60


def test_leaving_a_big_view_early_counts_the_steps_it_closed() -> None:
    # Given a 1,000-step run that ends (an exception, say) after group 1, with a step still running
    definition = _groups_of_100()
    out = io.StringIO()
    with LiveStepView(definition, _console(out)) as view:
        for step in definition.steps[:100]:
            _run_step(view, step.id)
        view.on_step("g1_s000", "running", None)
    lines = out.getvalue().splitlines()
    # Then the steps that never ended are counted cancelled, as the small table's rows would be
    assert "group 1 (100 steps): 100 succeeded" in lines, lines
    assert "group 2 (100 steps): 100 cancelled" in lines
    assert set(view.statuses().values()) == {"succeeded", "cancelled"}


# -- small workflows: the full table ---------------------------------------------------------------------------


def test_a_small_workflow_keeps_a_row_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the live view of a 3-step workflow
    definition = WorkflowDefinition.model_validate({"name": "small", "steps": [
        _condition("first"), _condition("second", depends_on=["first"]), _condition("third", depends_on=["first"])]})
    out = io.StringIO()
    builds = _counting_builds(monkeypatch)
    # When its steps run (third fails)
    with LiveStepView(definition, _console(out)) as view:
        for step_id in ("first", "second", "third"):
            view.on_step(step_id, "running", None)
            view.on_step(step_id, "failed" if step_id == "third" else "succeeded", {"error": "Boom"} if step_id == "third" else {})
    lines = out.getvalue().splitlines()
    # Then the table has one row per step, with its status in words, and no group summary
    assert len(_lines_with(lines, "│ first ", "succeeded")) == 1, lines
    assert len(_lines_with(lines, "│ second ", "succeeded")) == 1
    assert len(_lines_with(lines, "│ third ", "failed", "Boom")) == 1
    assert not _lines_with(lines, "group")
    assert len(builds) < 6


@pytest.mark.parametrize(("steps", "compact"), [(30, False), (31, True)])
def test_the_compact_view_starts_past_30_steps(steps: int, compact: bool) -> None:
    # Given a workflow of `steps` independent steps, none started
    definition = WorkflowDefinition.model_validate({"name": "n", "steps": [_condition(f"s{i}") for i in range(steps)]})
    # When Live draws its view
    lines = _draw(LiveStepView(definition, _console(io.StringIO())))
    # Then up to 30 steps it is the full table, past 30 the summary
    assert (f"group 1 ({steps} steps): {steps} pending" in lines) is compact, lines
    assert bool(_lines_with(lines, "│ s0 ", "pending")) is not compact


def test_a_short_terminal_gets_the_compact_view_sooner() -> None:
    # Given a 25-step workflow on a terminal 24 lines high (its full table would be 30 lines)
    definition = WorkflowDefinition.model_validate({"name": "n", "steps": [_condition(f"s{i}") for i in range(25)]})
    console = Console(file=io.StringIO(), width=120, height=24, force_terminal=True, color_system=None)
    view = LiveStepView(definition, console)
    # When Live draws its view
    out = io.StringIO()
    Console(file=out, width=120, force_terminal=False).print(view._renderable())
    # Then it is the summary
    assert "group 1 (25 steps): 25 pending" in out.getvalue().splitlines()
