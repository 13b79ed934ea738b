"""Where the project's template.yaml, statemachines/ and functions/ are, for the local engine."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path


class ProjectNotFound(FileNotFoundError):
    pass


@lru_cache(maxsize=1)
def project_root() -> Path:
    """ORCHESTRATOR_PROJECT_ROOT, else the nearest folder above the package that holds template.yaml."""
    configured = os.environ.get("ORCHESTRATOR_PROJECT_ROOT")
    candidates = [Path(configured)] if configured else list(Path(__file__).resolve().parents)
    for candidate in candidates:
        if (candidate / "template.yaml").is_file() and (candidate / "statemachines").is_dir():
            return candidate
    raise ProjectNotFound(
        "cannot find template.yaml and statemachines/ above the orchestrator package; "
        "set ORCHESTRATOR_PROJECT_ROOT to the project folder"
    )
