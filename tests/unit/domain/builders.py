"""Small builders of raw workflow definitions (dicts as loaded from YAML), for readable tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def workflow(*steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A raw workflow (as loaded from YAML) with these steps."""
    return {"name": "test", **fields, "steps": list(steps)}


def step(step_id: str, step_type: str = "noop", **fields: Any) -> dict[str, Any]:
    return {"id": step_id, "type": step_type, **fields}
