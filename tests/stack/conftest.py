"""Fixtures of the stack checks: their tools (see stack_tools.py) and one `sam build` shared by the tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from stack_tools import (
    PROJECT,
    TEMPLATE,
    TOOLS_VENV,
    host_architecture,
    missing,
    python312_candidates,
    tool_environment,
)


@pytest.fixture(scope="session")
def python312() -> Path:
    """A real CPython 3.12 (the Lambda runtime's version): sam build needs it on PATH, the imports run in it."""
    for candidate in python312_candidates():
        try:
            result = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12)); "
                                                      "print(sys.executable)"],
                                    capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        lines = result.stdout.split()
        if result.returncode == 0 and lines[:1] == ["True"]:
            return Path(lines[1])
    missing("A Python 3.12 interpreter (the Lambda runtime's version)",
            "install one (pyenv install 3.12, or set ORCHESTRATOR_TESTS_PYTHON312 to its path)")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def sam() -> Path:
    path = TOOLS_VENV / "bin" / "sam"
    if not path.exists():
        missing(f"SAM CLI ({path.relative_to(PROJECT)})")
    return path


@pytest.fixture(scope="session")
def lambda_runtime_site() -> Path:
    """boto3 and botocore as the Lambda runtime provides them, outside the layer (tools/lambda-runtime.txt)."""
    path = TOOLS_VENV / "lambda-runtime"
    if not (path / "boto3").is_dir():
        missing(f"The Lambda runtime's stand-in boto3 ({path.relative_to(PROJECT)})")
    return path


@pytest.fixture(scope="session")
def sam_build(sam: Path, python312: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` of template.yaml for this machine's architecture; returns the build directory."""
    work = tmp_path_factory.mktemp("sam-build")
    build_dir = work / "build"
    # the functions build with BuildMethod python3.12, which looks for python3.12 on PATH
    path = os.pathsep.join([str(python312.parent), os.environ.get("PATH", "")])
    result = subprocess.run(
        [str(sam), "build", "--template-file", str(TEMPLATE), "--build-dir", str(build_dir),
         "--parameter-overrides", f"Architecture={host_architecture()}"],
        cwd=work, capture_output=True, text=True, timeout=900, env=tool_environment(PATH=path))
    assert result.returncode == 0, f"sam build failed:\n{result.stdout}\n{result.stderr}"
    return build_dir
