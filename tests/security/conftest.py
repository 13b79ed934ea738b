"""The adversarial tests. The script sandbox's must run wherever bubblewrap can: a machine where it cannot
(no unprivileged user namespaces) fails them loudly rather than skipping them, unless
``ORCHESTRATOR_TESTS_WITHOUT_SANDBOX=1`` says that is known and accepted."""

from __future__ import annotations

import os

import pytest

from orchestrator.steps import sandbox


def require_sandbox() -> sandbox.Probe:
    found = sandbox.probe()
    if not found.available:
        if os.environ.get("ORCHESTRATOR_TESTS_WITHOUT_SANDBOX") == "1":
            pytest.skip(f"no bubblewrap sandbox can run here: {found.reason}")
        pytest.fail(f"the script sandbox cannot run here, so its security tests cannot: {found.reason} "
                    "(set ORCHESTRATOR_TESTS_WITHOUT_SANDBOX=1 to skip them knowingly)", pytrace=False)
    return found


@pytest.fixture(autouse=True)
def _sandbox_for_sandbox_tests(request: pytest.FixtureRequest) -> None:
    if request.module.__name__.split(".")[-1].startswith("test_script_sandbox"):
        require_sandbox()
