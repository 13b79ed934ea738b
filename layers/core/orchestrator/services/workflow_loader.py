"""Read a workflow from YAML or JSON text and check it whole, or say exactly where it is wrong.

Syntax errors carry the line and column. YAML keys given twice are an error (plain YAML keeps the last
one silently, which hides a pasted-over step field). Alias bombs, recursive aliases and nesting deeper
than 64 levels are refused before anything is built (``domain/safe_yaml.py``), and so are JSON's NaN,
Infinity and lone surrogates (``domain/strict_json.py``), each as a located problem. Problems found after parsing are located by path
(``steps[3].depends_on[0]``); for YAML each also gets the line it is on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from orchestrator.domain.problems import Problem, WorkflowValidationError, format_location
from orchestrator.domain.safe_yaml import MAX_DEPTH, YamlTooComplex, check_node_graph
from orchestrator.domain.step_tree import StepTree
from orchestrator.domain.strict_json import UnsafeJson, first_unsafe_value, strict_loads
from orchestrator.domain.templates import is_template
from orchestrator.domain.validation import validate_workflow
from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.steps.registry import STEP_TYPES

__all__ = [
    "Problem",
    "WorkflowValidationError",
    "definition_from_dict",
    "format_of",
    "load_workflow",
    "parse_workflow",
]

Format = Literal["yaml", "json"]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


def load_workflow(path: str | Path) -> WorkflowDefinition:
    """The workflow in a ``.yaml`` / ``.yml`` / ``.json`` file; WorkflowValidationError lists every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise WorkflowValidationError(
            [Problem("", f"not UTF-8 text ({error.reason} at byte {error.start})")], str(path)
        ) from None
    return parse_workflow(text, source_name=str(path), fmt=format_of(path.name, text), base_dir=path.parent)


def parse_workflow(
    text: str, *, source_name: str = "<string>", fmt: Format | None = None, base_dir: Path | None = None
) -> WorkflowDefinition:
    """The workflow in YAML or JSON text (``fmt`` guessed from ``source_name`` or the text when None);
    ``base_dir``: the file's directory, where its script steps' files must be."""
    fmt = fmt or format_of(source_name, text)
    raw, problems = _read_yaml(text) if fmt == "yaml" else _read_json(text)
    if problems and raw is None:
        raise WorkflowValidationError(problems, source_name)
    if base_dir is not None:
        problems = [*problems, *script_file_problems(raw, base_dir)]
    return definition_from_dict(
        raw, source_name=source_name, text=text if fmt == "yaml" else None, problems=problems
    )


def script_file_problems(raw: Any, base_dir: Path) -> list[Problem]:
    """Script steps whose ``script`` file is missing or outside ``base_dir`` (what ``run`` would refuse)."""
    if not isinstance(raw, Mapping):
        return []
    root = base_dir.resolve()
    found = []
    for node in StepTree(raw).nodes:
        config = node.raw.get("config")
        script = config.get("script") if node.type == "script" and isinstance(config, Mapping) else None
        if not isinstance(script, str) or is_template(script):
            continue
        path = (root / script).resolve()
        location = format_location((*node.location, "config", "script"))
        if not path.is_relative_to(root):
            found.append(Problem(location, f"step {node.id!r}: script {script!r} is outside the workflow's "
                                           f"directory {root}"))
        elif not path.is_file():
            found.append(Problem(location, f"step {node.id!r}: script file {script!r} not found in {root}"))
    return found


def definition_from_dict(
    raw: Any,
    *,
    source_name: str = "<definition>",
    text: str | None = None,
    problems: list[Problem] | None = None,
) -> WorkflowDefinition:
    """A checked WorkflowDefinition from already-parsed data (the API's JSON body, a loaded file).

    ``text`` (YAML) lets each problem carry its line; ``problems`` are ones found while reading.
    """
    found = [*(problems or []), *validate_workflow(raw, STEP_TYPES)]
    if found:
        if text is not None:
            found = _with_lines(found, text)
        raise WorkflowValidationError(found, source_name)
    return WorkflowDefinition.model_validate(raw)


def format_of(name: str, text: str) -> Format:
    suffix = Path(name).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "json" if text.lstrip().startswith("{") else "yaml"


def _position(line: int, column: int) -> str:
    return f"line {line}, column {column}"


# --- YAML -----------------------------------------------------------------------------------------------


class _StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that records keys given twice in one mapping instead of keeping the last silently."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[Problem] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *defaults` merges on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = first_seen.setdefault(key, key_node.start_mark)
            except TypeError:  # an unhashable key: the base constructor reports it properly
                break
            if earlier is not key_node.start_mark:
                mark = key_node.start_mark
                self.duplicate_keys.append(
                    Problem(
                        _position(mark.line + 1, mark.column + 1),
                        f"duplicate key '{key}' (first given at line {earlier.line + 1}); remove one of them",
                        line=mark.line + 1,
                    )
                )
        return super().construct_mapping(node, deep=deep)


def _read_yaml(text: str) -> tuple[Any, list[Problem]]:
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        check_node_graph(node)  # before building anything: an alias bomb is refused in milliseconds
        raw = loader.construct_document(node) if node is not None else None
    except YamlTooComplex as error:
        mark = error.problem_mark
        if mark is None:
            return None, [Problem("", f"refused YAML: {error.problem}")]
        return None, [Problem(_position(mark.line + 1, mark.column + 1), f"refused YAML: {error.problem}",
                              line=mark.line + 1)]
    except yaml.MarkedYAMLError as error:
        return None, [_yaml_problem(error)]
    except yaml.YAMLError as error:
        return None, [Problem("", f"invalid YAML: {error}")]
    except RecursionError:  # the pure-Python composer, without libyaml's own limit
        return None, [Problem("", f"refused YAML: nesting deeper than {MAX_DEPTH} levels")]
    finally:
        loader.dispose()
    if raw is None:
        return None, [Problem("", "the document is empty; a workflow needs 'name' and 'steps'")]
    unsafe = first_unsafe_value(raw)  # .nan / .inf cannot be stored as JSON, nor sent to the API
    if unsafe is not None:
        return None, [Problem(*unsafe)]
    # outer mappings are built before the ones inside them: report in reading order
    return raw, sorted(loader.duplicate_keys, key=lambda problem: problem.line or 0)


def _yaml_problem(error: yaml.MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    message = error.problem or "invalid YAML"
    if error.context:
        context_mark = error.context_mark
        where = f" at line {context_mark.line + 1}" if context_mark and context_mark is not mark else ""
        message = f"{message} ({error.context}{where})"
    if mark is None:
        return Problem("", f"invalid YAML: {message}")
    return Problem(_position(mark.line + 1, mark.column + 1), f"invalid YAML: {message}", line=mark.line + 1)


def _with_lines(problems: list[Problem], text: str) -> list[Problem]:
    """Each path-located problem with the line of the YAML node it names (or of its closest parent)."""
    try:
        root = yaml.compose(text, Loader=_BaseLoader)
    except (yaml.YAMLError, RecursionError):
        return problems
    lines: dict[str, int] = {}
    _index_lines(root, (), lines)
    located = []
    for problem in problems:
        if problem.line is None and problem.location:
            line = _closest_line(problem.location, lines)
            problem = Problem(problem.location, problem.message, line=line)
        located.append(problem)
    return located


def _index_lines(node: yaml.Node | None, path: tuple[str | int, ...], lines: dict[str, int]) -> None:
    if node is None:
        return
    lines[format_location(path)] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key_path = (*path, key_node.value)
                _index_lines(value_node, key_path, lines)
                # a missing value's problem points at its key
                lines.setdefault(format_location(key_path), key_node.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _index_lines(item, (*path, position), lines)


def _closest_line(location: str, lines: Mapping[str, int]) -> int | None:
    # "steps[3].retry.max_attempts" may be absent (a missing field): try "steps[3].retry", then "steps[3]"
    while location:
        if location in lines:
            return lines[location]
        cut = max(location.rfind("."), location.rfind("["))
        if cut <= 0:
            break
        location = location[:cut]
    return lines.get(location)


# --- JSON -----------------------------------------------------------------------------------------------


def _read_json(text: str) -> tuple[Any, list[Problem]]:
    try:
        return strict_loads(text, max_depth=MAX_DEPTH, where=""), []
    except UnsafeJson as unsafe:
        return None, [Problem(unsafe.location, unsafe.problem)]
    except json.JSONDecodeError as error:
        return None, [
            Problem(_position(error.lineno, error.colno), f"invalid JSON: {error.msg}", line=error.lineno)
        ]
