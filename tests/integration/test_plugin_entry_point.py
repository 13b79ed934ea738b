"""A third-party step type, installed the way users install one, is found through its entry point.

The example package is built and installed by pip into a temporary directory (offline, no build
isolation: it uses the venv's setuptools), which is then put on sys.path, so the venv itself is
never changed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from orchestrator.steps import registry
from orchestrator.steps.base import StepContext, StepError

PLUGIN_SOURCE = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "orchestrator-step-echo"


@pytest.fixture(scope="module")
def echo_plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plug-in, built and installed once for this module into a directory of its own."""
    work = tmp_path_factory.mktemp("echo-plugin")
    # A copy, so that the build's egg-info/ and build/ never land in the repository.
    source = work / "source"
    shutil.copytree(PLUGIN_SOURCE, source)
    target = work / "site-packages"
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--quiet", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=180,
    )
    assert completed.returncode == 0, completed.stderr
    return target


@pytest.fixture
def installed_echo_plugin(echo_plugin_site: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(echo_plugin_site))  # also invalidates importlib's caches
    # A registry of our own for this test: the plug-in must not stay registered for other tests.
    monkeypatch.setattr(registry, "_registered", {})
    registry._entry_points.cache_clear()
    registry.known_types.cache_clear()
    yield echo_plugin_site
    registry._entry_points.cache_clear()
    registry.known_types.cache_clear()
    sys.modules.pop("orchestrator_step_echo", None)


def test_entry_point_is_visible_to_importlib_metadata(installed_echo_plugin: Path):
    # Given the installed plug-in / When the group is listed / Then "echo" points at the executor class
    found = {ep.name: ep.value for ep in entry_points(group=registry.ENTRY_POINT_GROUP)}
    assert found.get("echo") == "orchestrator_step_echo:EchoExecutor"


def test_registry_loads_and_runs_the_plugin(installed_echo_plugin: Path):
    # Given the installed plug-in
    # When the registry is asked for the "echo" type
    executor = registry.get_executor("echo")
    # Then it is the plug-in's executor, a known type, and it runs like any built-in
    assert executor is not None and type(executor).__module__ == "orchestrator_step_echo"
    assert "echo" in registry.known_types()
    config = executor.config_model.model_validate({"message": "hello", "uppercase": True})
    ctx = StepContext("exec-1", "say", attempt=1)
    result = executor.execute(config, {"order": 7}, ctx)
    assert result.output == {"message": "HELLO", "inputs": {"order": 7}, "attempt": 1}
    assert ctx.logs == ["echo: HELLO"]
    # And its config model forbids unknown keys, as the contract requires
    with pytest.raises(ValueError):
        executor.config_model.model_validate({"mesage": "typo"})


def test_plugin_errors_are_classified_step_errors(installed_echo_plugin: Path):
    # Given a config that fails on early attempts / When attempt 1 runs / Then a retryable StepError
    executor = registry.get_executor("echo")
    config = executor.config_model.model_validate({"fail_until_attempt": 2})
    with pytest.raises(StepError) as caught:
        executor.execute(config, {}, StepContext("exec-1", "say", attempt=1))
    assert caught.value.error == "Echo.NotYet" and caught.value.retryable is True
    assert executor.execute(config, {}, StepContext("exec-1", "say", attempt=2)).output["attempt"] == 2


def test_without_the_plugin_the_type_is_unknown():
    # Given no plug-in on sys.path / When asked for "echo" / Then no executor
    registry._entry_points.cache_clear()
    assert registry.get_executor("echo") is None
