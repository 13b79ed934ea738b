"""Dependencies point inward (DESIGN.md): the composition root is the only place that picks adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "core" / "orchestrator"

#: package -> what it must never import (at module level or inside a function)
FORBIDDEN = {
    "domain": ("orchestrator.adapters", "orchestrator.composition", "orchestrator.services", "orchestrator.steps",
               "orchestrator.api", "orchestrator.cli", "boto3", "pymongo"),
    "services": ("orchestrator.adapters", "orchestrator.composition", "orchestrator.api", "orchestrator.cli",
                 "boto3", "pymongo"),
    "asl": ("orchestrator.adapters", "orchestrator.composition", "orchestrator.services", "boto3"),
    "ports": ("orchestrator.adapters", "orchestrator.composition", "orchestrator.services", "boto3", "pymongo"),
    "adapters": ("orchestrator.composition", "orchestrator.api", "orchestrator.cli"),
}


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_outside_its_reach(package: str) -> None:
    # Given every module of the layer
    violations = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in sorted((PACKAGE / package).rglob("*.py"))
        for module in sorted(imported_modules(path))
        if any(module == banned or module.startswith(banned + ".") for banned in FORBIDDEN[package])
    ]

    # Then none of them reaches past it
    assert violations == []
