"""From a workflow's dependency graph to the order it runs in, and to a Mermaid picture of it.

``plan`` groups steps into topological levels: every step of a group depends only on steps of earlier
groups, so a group's steps may run side by side. Inside a group higher ``priority`` comes first, then the
id, so the same workflow always plans the same way. Linear time: 10,000 steps plan in milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TypeVar

from orchestrator.domain.expressions import compile_expression
from orchestrator.domain.workflow import (
    ConditionStep,
    LoopStep,
    ParallelStep,
    StepDefinition,
    WorkflowDefinition,
)


class PlanError(ValueError):
    """A step list that cannot be ordered (unknown dependency, duplicate id, cycle)."""


class CycleError(PlanError):
    def __init__(self, path: list[str]) -> None:
        super().__init__(f"dependency cycle: {format_cycle(path)}")
        self.path = path


def format_cycle(path: Sequence[str]) -> str:
    """``a -> b -> a``: each step waits for the one before it."""
    return " -> ".join(path)


def plan(definition: WorkflowDefinition) -> list[list[StepDefinition]]:
    """The workflow's top-level steps as ordered parallel groups (nested lists: ``plan_steps``)."""
    return plan_steps(definition.steps)


def plan_steps(steps: Sequence[StepDefinition]) -> list[list[StepDefinition]]:
    """One step list (the workflow's, a loop body, a branch) as ordered parallel groups."""
    by_id: dict[str, StepDefinition] = {}
    for step in steps:
        if step.id in by_id:
            raise PlanError(f"duplicate step id {step.id!r}")
        by_id[step.id] = step
    graph = dependency_graph({step.id: step.depends_on for step in steps})
    waiting_on = {step.id: len(set(step.depends_on)) for step in steps}

    groups: list[list[StepDefinition]] = []
    ready = [step_id for step_id, count in waiting_on.items() if count == 0]
    planned = 0
    while ready:
        group = sorted((by_id[step_id] for step_id in ready), key=_run_order)
        groups.append(group)
        planned += len(group)
        ready = []
        for step in group:
            for dependent in graph[step.id]:
                waiting_on[dependent] -= 1
                if waiting_on[dependent] == 0:
                    ready.append(dependent)
    if planned < len(by_id):
        raise CycleError(find_cycles(graph)[0])
    return groups


def _run_order(step: StepDefinition) -> tuple[int, str]:
    return (-step.priority, step.id)


def dependency_graph(depends_on: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Step id -> the ids of the steps that wait for it (each once), in the mapping's order."""
    graph: dict[str, list[str]] = {step_id: [] for step_id in depends_on}
    for step_id, dependencies in depends_on.items():
        for dependency in dict.fromkeys(dependencies):
            if dependency not in graph:
                raise PlanError(f"step {step_id!r} depends on unknown step {dependency!r}")
            graph[dependency].append(step_id)
    return graph


Node = TypeVar("Node")


def find_cycles(graph: Mapping[Node, Sequence[Node]]) -> list[list[Node]]:
    """One cycle per strongly connected group of steps, as a path that ends where it starts.

    Tarjan's algorithm, iteratively (a 10,000-step chain must not hit Python's recursion limit); each
    cycle is the shortest one through the group's first node in the graph's order.
    """
    order = {node: position for position, node in enumerate(graph)}
    index: dict[Node, int] = {}
    lowlink: dict[Node, int] = {}
    on_stack: set[Node] = set()
    stack: list[Node] = []
    components: list[list[Node]] = []
    for root in graph:
        if root in index:
            continue
        work: list[tuple[Node, int]] = [(root, 0)]
        while work:
            node, next_child = work.pop()
            if next_child == 0:
                index[node] = lowlink[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            children = graph[node]
            descended = False
            for position in range(next_child, len(children)):
                child = children[position]
                if child not in index:
                    work.append((node, position + 1))
                    work.append((child, 0))
                    descended = True
                    break
                if child in on_stack:
                    lowlink[node] = min(lowlink[node], index[child])
            if descended:
                continue
            if lowlink[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    components.append(component)
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
    cycles = [_shortest_cycle(graph, component, order) for component in components]
    return sorted(cycles, key=lambda cycle: order[cycle[0]])


def _shortest_cycle(
    graph: Mapping[Node, Sequence[Node]], component: list[Node], order: Mapping[Node, int]
) -> list[Node]:
    members = set(component)
    start = min(component, key=order.__getitem__)
    previous: dict[Node, Node] = {}
    frontier = [start]
    while frontier:  # breadth first inside the component, back to start
        following = []
        for node in frontier:
            for child in graph[node]:
                if child == start:
                    path = [start, node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1]
                if child in members and child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError("a strongly connected component always holds a cycle")


# --- Mermaid --------------------------------------------------------------------------------------------

_SAFE_NODE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_GENERATED_NODE_ID = re.compile(r"node_\d+")
# words Mermaid's flowchart grammar reads as keywords, so they cannot be node ids
_MERMAID_KEYWORDS = frozenset(
    {"end", "graph", "flowchart", "subgraph", "style", "class", "classdef", "click", "linkstyle", "direction",
     "default", "call", "href", "interpolate"}
)  # fmt: skip
_WHEN_LABEL_CHARS = 40


def mermaid(definition: WorkflowDefinition) -> str:
    """A Mermaid flowchart of the workflow: steps, dependencies, loops and parallel branches as subgraphs."""
    return _MermaidWriter(definition).write()


class _MermaidWriter:
    def __init__(self, definition: WorkflowDefinition) -> None:
        self.definition = definition
        self.lines = ["flowchart TD"]
        self.node_ids: dict[str, str] = {}
        for step in definition.iter_steps():
            safe = _SAFE_NODE_ID.fullmatch(step.id) and step.id.lower() not in _MERMAID_KEYWORDS
            if safe and not _GENERATED_NODE_ID.fullmatch(step.id):
                self.node_ids[step.id] = step.id
            else:
                self.node_ids[step.id] = f"node_{len(self.node_ids)}"

    def write(self) -> str:
        self.step_list(self.definition.steps, "    ")
        return "\n".join(self.lines) + "\n"

    def step_list(self, steps: Sequence[StepDefinition], indent: str) -> None:
        for step in steps:
            self.node(step, indent)
        for step in steps:
            self.edges(step, indent)

    def node(self, step: StepDefinition, indent: str) -> None:
        node_id = self.node_ids[step.id]
        lines = [step.id] if step.name is None else [step.name, step.id]
        label = "<br/>".join(_escape(line) for line in [*lines, step.type])
        if step.when and not self.when_dependencies(step):
            label += f"<br/>when {_escape(_shorten(step.when))}"
        if isinstance(step, LoopStep):
            self.lines.append(f'{indent}subgraph {node_id} ["{label}<br/>for each {step.config.item_var}"]')
            self.step_list(step.config.steps, indent + "    ")
            self.lines.append(f"{indent}end")
        elif isinstance(step, ParallelStep):
            self.lines.append(f'{indent}subgraph {node_id} ["{label}"]')
            for number, branch in enumerate(step.config.branches, start=1):
                self.lines.append(f'{indent}    subgraph {node_id}_branch_{number} ["branch {number}"]')
                self.step_list(branch, indent + "        ")
                self.lines.append(f"{indent}    end")
            self.lines.append(f"{indent}end")
        elif isinstance(step, ConditionStep):
            self.lines.append(f'{indent}{node_id}{{"{label}"}}')
        else:
            self.lines.append(f'{indent}{node_id}["{label}"]')

    def edges(self, step: StepDefinition, indent: str) -> None:
        when_from = self.when_dependencies(step)
        for dependency in dict.fromkeys(step.depends_on):
            source, target = self.node_ids.get(dependency, dependency), self.node_ids[step.id]
            if dependency in when_from:
                assert step.when is not None
                self.lines.append(f'{indent}{source} -->|"{_escape(_shorten(step.when))}"| {target}')
            else:
                self.lines.append(f"{indent}{source} --> {target}")

    def when_dependencies(self, step: StepDefinition) -> set[str]:
        """The dependencies a step's ``when`` reads: its edges from them carry the condition."""
        if not step.when:
            return set()
        referenced = {
            str(reference.path[0])
            for reference in compile_expression(step.when).references()
            if reference.root == "steps" and reference.path
        }
        return referenced & set(step.depends_on)


def _shorten(text: str) -> str:
    return text if len(text) <= _WHEN_LABEL_CHARS else text[: _WHEN_LABEL_CHARS - 3] + "..."


def _escape(text: str) -> str:
    # Mermaid's entity codes: a raw quote ends the label, < and > would be read as HTML
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
