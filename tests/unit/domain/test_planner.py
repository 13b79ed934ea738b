"""The planner: dependency levels as ordered parallel groups, deterministic, fast; and the Mermaid picture."""

from __future__ import annotations

import random
import time

import pytest

from orchestrator.domain.planner import CycleError, PlanError, find_cycles, mermaid, plan, plan_steps
from orchestrator.domain.workflow import WorkflowDefinition

from .builders import step, workflow


def definition(*steps, **fields) -> WorkflowDefinition:
    return WorkflowDefinition.model_validate(workflow(*steps, **fields))


def ids(groups) -> list[list[str]]:
    return [[s.id for s in group] for group in groups]


def test_steps_are_grouped_by_dependency_level():
    # Given a diamond a -> (b, c) -> d and an independent e
    flow = definition(
        step("d", depends_on=["b", "c"]),
        step("b", depends_on=["a"]),
        step("c", depends_on=["a"]),
        step("a"),
        step("e"),
    )
    # When planned / Then each group holds steps whose dependencies all ran in earlier groups
    assert ids(plan(flow)) == [["a", "e"], ["b", "c"], ["d"]]


def test_inside_a_group_higher_priority_comes_first_then_the_id():
    flow = definition(
        step("z"), step("m", priority=5), step("a"), step("k", priority=5), step("low", priority=-1)
    )
    assert ids(plan(flow)) == [["k", "m", "a", "z", "low"]]


def test_a_step_waits_for_its_slowest_dependency():
    # Given c depending on a (level 0) and on b (level 1) / When planned / Then c is at level 2
    flow = definition(step("a"), step("b", depends_on=["a"]), step("c", depends_on=["a", "b"]))
    assert ids(plan(flow)) == [["a"], ["b"], ["c"]]


def test_planning_is_deterministic_whatever_the_document_order():
    # Given the same DAG written in many shuffled orders / When planned / Then always the same plan
    steps = [
        step(f"s{i}", depends_on=[f"s{j}" for j in range(max(0, i - 3), i, 2)], priority=i % 3)
        for i in range(40)
    ]
    expected = ids(plan(definition(*steps)))
    for seed in range(10):
        shuffled = steps[:]
        random.Random(seed).shuffle(shuffled)
        assert ids(plan(definition(*shuffled))) == expected


def test_nested_step_lists_plan_on_their_own():
    flow = definition(
        step("each", "loop", config={"items": [1], "steps": [step("y", depends_on=["x"]), step("x")]})
    )
    assert ids(plan(flow)) == [["each"]]
    assert ids(plan_steps(flow.steps[0].config.steps)) == [["x"], ["y"]]


def test_a_cycle_cannot_be_planned_and_names_its_path():
    flow = definition(
        step("a", depends_on=["c"]), step("b", depends_on=["a"]), step("c", depends_on=["b"]), step("x")
    )
    with pytest.raises(CycleError, match=r"dependency cycle: a -> b -> c -> a") as raised:
        plan(flow)
    assert raised.value.path == ["a", "b", "c", "a"]


def test_an_unknown_dependency_cannot_be_planned():
    with pytest.raises(PlanError, match="step 'b' depends on unknown step 'nope'"):
        plan(definition(step("a"), step("b", depends_on=["nope"])))


def test_find_cycles_reports_each_cycle_once_as_a_closed_path():
    graph = {"a": ["b"], "b": ["c", "a"], "c": ["a"], "d": ["d"], "e": ["f"], "f": []}
    assert find_cycles(graph) == [["a", "b", "a"], ["d", "d"]]


def test_ten_thousand_steps_plan_in_well_under_a_second():
    # Given a 10,000-step chain (10,000 levels) and a 100-wide layered DAG
    chain = definition(step("s0"), *[step(f"s{i}", depends_on=[f"s{i - 1}"]) for i in range(1, 10_000)])
    layered = definition(
        *[
            step(
                f"s{i}",
                depends_on=[f"s{i - i % 100 - 100 + (i + k) % 100}" for k in range(3)] if i >= 100 else [],
            )
            for i in range(10_000)
        ]
    )
    for flow, levels in ((chain, 10_000), (layered, 100)):
        # When planned / Then quickly, and with the expected number of levels
        started = time.perf_counter()
        groups = plan(flow)
        assert time.perf_counter() - started < 0.5
        assert len(groups) == levels


# --- Mermaid ----------------------------------------------------------------------------------------------


def test_mermaid_draws_steps_and_dependencies():
    flow = definition(step("fetch", name="获取数据"), step("save", depends_on=["fetch"]))
    assert mermaid(flow) == (
        "flowchart TD\n"
        '    fetch["获取数据<br/>fetch<br/>noop"]\n'
        '    save["save<br/>noop"]\n'
        "    fetch --> save\n"
    )


def test_mermaid_draws_conditions_branches_loops_and_parallels():
    # Given a condition with a branch on its result, a loop and a parallel with two branches
    flow = definition(
        step("check", "condition", config={"expression": "input.n > 1"}),
        step("big", depends_on=["check"], when="steps.check.output.result"),
        step("small", depends_on=["check"], when='input.mode == "lite"'),
        step("each", "loop", depends_on=["big"], config={"items": [1], "steps": [step("one")]}),
        step("fan", "parallel", config={"branches": [[step("left")], [step("right")]]}),
    )
    # When drawn / Then the condition is a rhombus, its branch edge carries the `when`, containers are subgraphs
    assert mermaid(flow) == (
        "flowchart TD\n"
        '    check{"check<br/>condition"}\n'
        '    big["big<br/>noop"]\n'
        '    small["small<br/>noop<br/>when input.mode == #quot;lite#quot;"]\n'
        '    subgraph each ["each<br/>loop<br/>for each item"]\n'
        '        one["one<br/>noop"]\n'
        "    end\n"
        '    subgraph fan ["fan<br/>parallel"]\n'
        '        subgraph fan_branch_1 ["branch 1"]\n'
        '            left["left<br/>noop"]\n'
        "        end\n"
        '        subgraph fan_branch_2 ["branch 2"]\n'
        '            right["right<br/>noop"]\n'
        "        end\n"
        "    end\n"
        '    check -->|"steps.check.output.result"| big\n'
        "    check --> small\n"
        "    big --> each\n"
    )


def test_mermaid_renames_ids_it_cannot_use():
    # Given ids Mermaid would misread (a keyword, a dash) / When drawn / Then they get safe node names
    flow = definition(step("end"), step("build-image", depends_on=["end"]))
    assert mermaid(flow) == (
        "flowchart TD\n"
        '    node_0["end<br/>noop"]\n'
        '    node_1["build-image<br/>noop"]\n'
        "    node_0 --> node_1\n"
    )
