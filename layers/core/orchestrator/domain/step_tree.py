"""Checks that need the whole tree of steps: ids, dependencies, cycles and who may reference whom.

They read the raw definition (dicts and lists as loaded) rather than the pydantic model, so that a
workflow with a shape error in one step still gets every other problem reported in the same run. Parts
that are malformed are skipped here: the model's own errors report them.

Visibility: a step may reference (``{{steps.x...}}``, ``steps.x`` in expressions) only the steps it
transitively depends on. Steps live in lists (the workflow's, a loop's body, each parallel branch) and
depend only on steps of their own list. A step nested in a loop or branch also sees what its enclosing
step sees. Steps inside a parallel branch are visible to whatever depends on the parallel step (they all
ran once); steps inside a loop are not visible outside it (they ran once per item).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.domain.expressions import EXPRESSION_ROOTS, ExpressionError, compile_expression
from orchestrator.domain.planner import find_cycles, format_cycle
from orchestrator.domain.problems import Location, did_you_mean, format_location
from orchestrator.domain.templates import (
    SCOPE_ROOTS,
    SECRETS_ROOT,
    Reference,
    TemplateError,
    iter_strings,
    references_in,
)

_TEMPLATE_ROOTS = SCOPE_ROOTS | {SECRETS_ROOT}
_OUTPUT_ROOT = "output"  # output_mapping reads the step's own raw output under this name

Found = tuple[Location, str]  # a problem before formatting: where, what


@dataclass(eq=False)
class StepNode:
    """One step as found in the raw definition, nested ones included."""

    index: int  # position in the document, depth first: its bit in the ancestor sets
    location: Location  # ("steps", 1, "config", "steps", 0)
    raw: dict[str, Any]
    list_location: Location  # the list the step sits in: ("steps",) or ("steps", 1, "config", "steps")
    parent: StepNode | None
    id: str | None = None
    type: str | None = None
    dependencies: list[StepNode] = field(default_factory=list)  # resolved, same list, no self

    def enclosing(self) -> Iterator[StepNode]:
        """This step, then every step that contains it, innermost first."""
        node: StepNode | None = self
        while node is not None:
            yield node
            node = node.parent

    def standing_for(self) -> Iterator[StepNode]:
        """This step, then the parallel steps whose completion implies it ran exactly once."""
        node = self
        yield node
        while node.parent is not None and node.parent.type == "parallel":
            node = node.parent
            yield node

    def innermost_loop(self) -> StepNode | None:
        """The closest loop this step runs inside (not the step itself)."""
        enclosing = self.parent.enclosing() if self.parent else iter(())
        return next((node for node in enclosing if node.type == "loop"), None)


class StepTree:
    """The raw steps of a workflow, with the checks that span steps."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        variables = raw.get("variables", {})
        self.variables: Mapping[str, Any] | None = variables if isinstance(variables, Mapping) else None
        self.nodes: list[StepNode] = []
        self.by_id: dict[str, StepNode] = {}
        self.found: list[Found] = []
        steps = raw.get("steps")
        if isinstance(steps, list):
            self._collect(steps, ("steps",), None)
        self._ancestors: dict[StepNode, int] | None = None

    # --- building the tree ------------------------------------------------------------------------------

    def _collect(self, steps: list[Any], list_location: Location, parent: StepNode | None) -> None:
        for position, raw_step in enumerate(steps):
            if not isinstance(raw_step, dict):
                continue
            location = (*list_location, position)
            node = StepNode(len(self.nodes), location, raw_step, list_location, parent)
            node.id = raw_step.get("id") if isinstance(raw_step.get("id"), str) else None
            node.type = raw_step.get("type") if isinstance(raw_step.get("type"), str) else None
            self.nodes.append(node)
            if node.id is not None:
                first = self.by_id.setdefault(node.id, node)
                if first is not node:
                    self.found.append(
                        (
                            (*location, "id"),
                            f"duplicate step id '{node.id}' (first used at {format_location(first.location)})",
                        )
                    )
            config = raw_step.get("config")
            if not isinstance(config, dict):
                continue
            if node.type == "loop" and isinstance(config.get("steps"), list):
                self._collect(config["steps"], (*location, "config", "steps"), node)
            elif node.type == "parallel" and isinstance(config.get("branches"), list):
                for branch_number, branch in enumerate(config["branches"]):
                    if isinstance(branch, list):
                        self._collect(branch, (*location, "config", "branches", branch_number), node)

    # --- dependencies and cycles ------------------------------------------------------------------------

    def check_dependencies(self) -> None:
        for node in self.nodes:
            depends_on = node.raw.get("depends_on")
            if isinstance(depends_on, str):
                entries: list[tuple[Location, Any]] = [((*node.location, "depends_on"), depends_on)]
            elif isinstance(depends_on, list):
                entries = [((*node.location, "depends_on", i), dep) for i, dep in enumerate(depends_on)]
            else:
                continue
            for location, dependency_id in entries:
                if isinstance(dependency_id, str):
                    self._resolve_dependency(node, location, dependency_id)
        self._check_cycles()

    def _resolve_dependency(self, node: StepNode, location: Location, dependency_id: str) -> None:
        dependency = self.by_id.get(dependency_id)
        if dependency is None:
            self.found.append(
                (location, f"unknown step '{dependency_id}'{did_you_mean(dependency_id, self.by_id)}")
            )
        elif dependency is node:
            self.found.append((location, f"step '{dependency_id}' cannot depend on itself"))
        elif dependency in node.enclosing():
            self.found.append((location, f"step '{dependency_id}' contains this step; it cannot wait for it"))
        elif dependency.list_location != node.list_location:
            self.found.append(
                (
                    location,
                    f"step '{dependency_id}' is in another step list ({format_location(dependency.list_location)}); "
                    "a step depends only on steps of its own list (make the enclosing step depend on it instead)",
                )
            )
        elif dependency not in node.dependencies:
            node.dependencies.append(dependency)

    def _check_cycles(self) -> None:
        graph: dict[StepNode, list[StepNode]] = {node: [] for node in self.nodes}
        for node in self.nodes:
            for dependency in node.dependencies:
                graph[dependency].append(node)
        for cycle in find_cycles(graph):
            first = cycle[0]
            path = format_cycle([step.id or "?" for step in cycle])
            self.found.append(((*first.location, "depends_on"), f"dependency cycle: {path}"))

    def ancestors(self, node: StepNode) -> int:
        """The steps ``node`` transitively depends on, as a bit set over ``StepNode.index``."""
        if self._ancestors is None:
            self._ancestors = self._compute_ancestors()
        return self._ancestors[node]

    def _compute_ancestors(self) -> dict[StepNode, int]:
        # iterative post-order DFS over dependencies; a cycle (reported elsewhere) just stops the walk
        ancestors: dict[StepNode, int] = {}
        visiting: set[StepNode] = set()
        for start in self.nodes:
            if start in ancestors:
                continue
            visiting.add(start)
            stack = [(start, iter(start.dependencies))]
            while stack:
                node, pending = stack[-1]
                for dependency in pending:
                    if dependency not in ancestors and dependency not in visiting:
                        visiting.add(dependency)
                        stack.append((dependency, iter(dependency.dependencies)))
                        break
                else:
                    stack.pop()
                    visiting.discard(node)
                    bits = 0
                    for dependency in node.dependencies:
                        bits |= (1 << dependency.index) | ancestors.get(dependency, 0)
                    ancestors[node] = bits
        return ancestors

    def can_see(self, reader: StepNode, target: StepNode) -> bool:
        """Whether ``target`` has surely finished (once) whenever ``reader`` runs."""
        for stand_in in target.standing_for():
            for waiting in reader.enclosing():
                if (
                    stand_in is not waiting
                    and stand_in.list_location == waiting.list_location
                    and self.ancestors(waiting) >> stand_in.index & 1
                ):
                    return True
        return False

    # --- references -------------------------------------------------------------------------------------

    def check_references(self) -> None:
        for node in self.nodes:
            for location, text, roots in self._template_strings(node):
                try:
                    references = references_in(text)
                except TemplateError as error:
                    self.found.append((location, str(error)))
                    continue
                for reference in references:
                    self._check_reference(node, location, reference, roots, f"in {reference.text}")
            for location, text in self._expressions(node):
                try:
                    expression = compile_expression(text)
                except ExpressionError:
                    continue  # the model reports syntax errors at the same location
                for reference in expression.references():
                    self._check_reference(
                        node, location, reference, EXPRESSION_ROOTS, f"in expression {text!r}"
                    )

    def _template_strings(self, node: StepNode) -> Iterator[tuple[Location, str, frozenset[str]]]:
        raw = node.raw
        parts: list[tuple[str, Any, frozenset[str]]] = [
            ("input_mapping", raw.get("input_mapping"), _TEMPLATE_ROOTS),
            ("output_mapping", raw.get("output_mapping"), _TEMPLATE_ROOTS | {_OUTPUT_ROOT}),
        ]
        config = raw.get("config")
        if isinstance(config, dict):
            if node.type == "loop":
                parts.append(("config", {"items": config.get("items")}, _TEMPLATE_ROOTS))
            elif node.type not in ("condition", "parallel"):
                parts.append(("config", config, _TEMPLATE_ROOTS))
        for key, value, roots in parts:
            if isinstance(value, dict | list):
                for path, text in iter_strings(value):
                    yield (*node.location, key, *path), text, roots

    def _expressions(self, node: StepNode) -> Iterator[tuple[Location, str]]:
        when = node.raw.get("when")
        if isinstance(when, str):
            yield (*node.location, "when"), when
        config = node.raw.get("config")
        if (
            node.type == "condition"
            and isinstance(config, dict)
            and isinstance(config.get("expression"), str)
        ):
            yield (*node.location, "config", "expression"), config["expression"]

    def _check_reference(
        self, node: StepNode, location: Location, reference: Reference, roots: frozenset[str], where: str
    ) -> None:
        problem = self._reference_problem(node, reference, roots)
        if problem:
            message, hint = problem
            self.found.append((location, f"{message} {where}{'; ' + hint if hint else ''}"))

    def _reference_problem(
        self, node: StepNode, reference: Reference, roots: frozenset[str]
    ) -> tuple[str, str] | None:
        """What is wrong with one reference, and how to fix it; None when it is fine."""
        root, path = reference.root, reference.path
        if root not in roots:
            return (
                f"unknown name '{root}'{did_you_mean(root, roots)}",
                f"names are {', '.join(sorted(roots))}",
            )
        first = path[0] if path else None
        if root == "variables":
            if not isinstance(first, str):
                return "a variable without a name", "write variables.<name>"
            if self.variables is not None and first not in self.variables:
                return f"unknown variable '{first}'{did_you_mean(first, self.variables)}", ""
        elif root == "loop":
            return self._loop_problem(node, first)
        elif root == "steps":
            if not isinstance(first, str):
                return "a step output without a step id", "write steps.<id>.output"
            return self._step_problem(node, first)
        return None

    def _loop_problem(self, node: StepNode, name: str | int | None) -> tuple[str, str] | None:
        loop = node.innermost_loop()
        if loop is None:
            return (
                "'loop' used outside a loop",
                "only the steps inside a loop's config.steps have loop.item and loop.index",
            )
        config = loop.raw.get("config")
        item_var = config.get("item_var", "item") if isinstance(config, dict) else "item"
        if name not in ("index", item_var):
            return f"loop '{loop.id}' has no 'loop.{name}'", f"it provides loop.{item_var} and loop.index"
        return None

    def _step_problem(self, node: StepNode, target_id: str) -> tuple[str, str] | None:
        target = self.by_id.get(target_id)
        if target is None:
            return f"unknown step '{target_id}'{did_you_mean(target_id, self.by_id)}", ""
        if target is node:
            return f"step '{target_id}' reads its own output", "output_mapping reads it as {{output...}}"
        if target in node.enclosing():
            return f"step '{target_id}' contains this step", "its output exists only after this step has run"
        if self.can_see(node, target):
            return None
        loop = target.innermost_loop()
        if loop is not None and loop not in node.enclosing():
            return (
                f"step '{target_id}' runs once per item of loop '{loop.id}'",
                f"read steps.{loop.id}.output instead",
            )
        return (
            f"step '{target_id}' is not upstream of '{node.id}'",
            "add it to depends_on (directly or through a dependency)",
        )
