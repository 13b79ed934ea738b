"""Helpers of the stack checks: where `make test` installs their tools, and how a missing one is reported.

A missing tool fails its test with a message saying how to install it (`make test`): a check that skips
itself on a fresh machine checks nothing. ORCHESTRATOR_TESTS_WITHOUT_STACK_TOOLS=1 turns those failures
into skips, for a quick run without them.
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
TEMPLATE = PROJECT / "template.yaml"
TOOLS_VENV = PROJECT / ".venv-tools"  # the Makefile's TOOLS_VENV
SKIP_VARIABLE = "ORCHESTRATOR_TESTS_WITHOUT_STACK_TOOLS"
REGION = "eu-west-1"


def missing(what: str, hint: str = "run `make test` (it installs the stack checks' tools first)") -> None:
    message = f"{what} is missing: {hint}, or set {SKIP_VARIABLE}=1 to skip the checks that need it"
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def tool_environment(**extra: str) -> dict[str, str]:
    """The caller's environment, a region (no credentials are needed) and no telemetry."""
    return {**os.environ, "AWS_DEFAULT_REGION": REGION, "SAM_CLI_TELEMETRY": "0", **extra}


class CloudFormationLoader(yaml.SafeLoader):
    """!Ref, !GetAtt, !Sub ... as their long forms ({"Ref": ...}, {"Fn::GetAtt": [...]}, ...)."""


def _long_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _long_form)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=CloudFormationLoader)  # noqa: S506


def host_architecture() -> str:
    """The Lambda architecture whose wheels this machine can import."""
    machine = platform.machine().lower()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[machine]


def python312_candidates() -> Iterator[str]:
    if os.environ.get("ORCHESTRATOR_TESTS_PYTHON312"):
        yield os.environ["ORCHESTRATOR_TESTS_PYTHON312"]
    if found := shutil.which("python3.12"):
        yield found  # may be a pyenv shim that refuses to run while 3.12 is not a selected version
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    yield from sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.12*", "bin", "python3.12")), reverse=True)
    yield from ("/usr/local/bin/python3.12", "/usr/bin/python3.12")
