"""The DAG every scale benchmark runs: ``layers`` x ``width`` no-op steps, each depending on the step at its
position in the layer above. Standard library only: the peers' own virtualenv imports it too."""

from __future__ import annotations

from typing import Any


def layered(layers: int, width: int) -> dict[str, Any]:
    """The workflow (``condition`` steps that are always true)."""
    steps: list[dict[str, Any]] = []
    for number in range(layers * width):
        layer, position = divmod(number, width)
        step: dict[str, Any] = {"id": f"s{number}", "type": "condition", "config": {"expression": "1 >= 0"}}
        if layer:
            step["depends_on"] = [f"s{(layer - 1) * width + position}"]
        steps.append(step)
    return {"name": f"layered-{layers}x{width}", "steps": steps}


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``10x10,10x50`` -> [(10, 10), (10, 50)]."""
    sizes = []
    for part in text.split(","):
        layers, width = part.lower().split("x")
        sizes.append((int(layers), int(width)))
    return sizes
