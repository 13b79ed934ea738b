"""YAML loading that an alias bomb or a very deep document cannot turn into minutes of CPU and gigabytes.

YAML aliases (``*a``) reuse a node: nine levels of nine aliases each are 9**9 (387 million) nodes for
whoever walks the data afterwards (a validator, ``json.dumps``, a deep copy), from a file of a few hundred
bytes. ``check_node_graph`` measures the composed node graph before anything is constructed, in time
linear in the *distinct* nodes (sizes are memoised per node, without recursion), and refuses:

- aliases that add more than ``ALIAS_EXPANSION_BUDGET`` nodes to the document (those the document
  would have if each alias were written out, minus those it has);
- an alias that contains itself (a recursive structure no JSON can hold);
- nesting deeper than ``MAX_DEPTH`` levels.

The refusal is a ``YamlTooComplex``, a ``yaml.MarkedYAMLError``: it has the line and column where the
problem is, and every ``except yaml.YAMLError`` already handles it. Use ``safe_load`` where
``yaml.safe_load`` was used; ``services/workflow_loader.py`` runs the same check with its own strict loader.
"""

from __future__ import annotations

from typing import Any

import yaml

from orchestrator.domain.strict_json import DEFAULT_MAX_DEPTH

#: the nodes aliases may add to a document, in all: generous for anchors of shared defaults, far from a bomb
ALIAS_EXPANSION_BUDGET = 10_000
#: mappings and lists inside each other, at most (the API's default JSON depth)
MAX_DEPTH = DEFAULT_MAX_DEPTH

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlTooComplex(yaml.MarkedYAMLError):
    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def check_node_graph(root: yaml.Node | None, *, budget: int = ALIAS_EXPANSION_BUDGET,
                     max_depth: int = MAX_DEPTH) -> None:
    """Raise YamlTooComplex when the composed document ``root`` is one the module doc refuses."""
    if root is None:
        return
    distinct = _count_distinct(root, max_depth)
    limit = distinct + budget
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            children = _children(node)
            size[key] = 1 + sum(size[id(child)] for child in children)
            depth[key] = 1 + max((depth[id(child)] for child in children if _is_collection(child)), default=0)
            on_path.discard(key)
            if size[key] > limit:
                raise YamlTooComplex(
                    f"aliases expand this document by more than {budget} nodes (an alias bomb?); write the "
                    "repeated parts out, or share less", node.start_mark)
            if depth[key] > max_depth:
                raise YamlTooComplex(f"aliases nest this document deeper than {max_depth} levels", node.start_mark)
            continue
        if key in size:
            continue
        if key in on_path:
            raise YamlTooComplex("an alias refers to a node that contains it (a recursive structure)",
                                 node.start_mark)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)


def _is_collection(node: yaml.Node) -> bool:
    return isinstance(node, yaml.SequenceNode | yaml.MappingNode)


def _count_distinct(root: yaml.Node, max_depth: int) -> int:
    """The distinct nodes; YamlTooComplex at the first collection nested deeper than ``max_depth``."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, level = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if _is_collection(node) and level > max_depth:
            raise YamlTooComplex(f"nesting deeper than {max_depth} levels", node.start_mark)
        stack.extend((child, level + 1) for child in _children(node))
    return len(seen)


def safe_load(text: str, loader: type[yaml.SafeLoader] = _SafeLoader) -> Any:
    """``yaml.safe_load(text)`` (or ``yaml.load`` with a SafeLoader subclass) after ``check_node_graph``."""
    instance = loader(text)
    try:
        node = instance.get_single_node()
        check_node_graph(node)
        return instance.construct_document(node) if node is not None else None
    except RecursionError:  # the pure-Python composer on a deep document (libyaml stops at 1000 levels)
        raise YamlTooComplex(f"nesting deeper than {MAX_DEPTH} levels", None) from None
    finally:
        instance.dispose()
