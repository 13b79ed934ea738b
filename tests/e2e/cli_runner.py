"""Runs the `orchestrator` command as a user would: a separate process, from the project folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def orchestrator(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Completed:
    # every run gets its own home, so no test reads or leaves state in the project's .orchestrator/
    home = tempfile.mkdtemp(prefix="orchestrator-home-")
    completed = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "ORCHESTRATOR_HOME": home, **(env or {})},
    )
    return Completed(completed.returncode, completed.stdout, completed.stderr)
