"""Runs every case recorded against real AWS Step Functions (tests/conformance/aws-recorded, Apache-2.0
data from LocalStack's snapshot tests; see its README) on the local ASL interpreter.

Each case gives a definition, an input and what AWS returned: status, output (compared as JSON) or error
and cause (compared exactly; an absent key means AWS reported none).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.asl import FakeClock, Interpreter, load_state_machine

CASES_DIR = Path(__file__).parent / "aws-recorded" / "cases"
JSONPATH_CASES = sorted(CASES_DIR.glob("*.json"))
JSONATA_CASES = sorted((CASES_DIR / "jsonata").glob("*.json"))

# Cases that cannot pass, with the reason. Keep empty unless a case truly cannot be supported.
KNOWN_FAILURES: dict[str, str] = {}


@pytest.fixture(scope="module")
def interpreter() -> Iterator[Interpreter]:
    with Interpreter(clock=FakeClock()) as shared:
        yield shared


def _case_params(paths: list[Path]) -> list[Any]:
    params = []
    for path in paths:
        marks = []
        if path.stem in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[path.stem], strict=True))
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


def _run_case(interpreter: Interpreter, path: Path) -> None:
    # Given a definition and input recorded against AWS
    case = json.loads(path.read_text(encoding="utf-8"))
    expected = case["expected"]

    # When the local interpreter runs them
    machine = load_state_machine(case["definition"])
    result = interpreter.run(machine, case["input"])

    # Then it ends as AWS did
    assert result.status == expected["status"], (result.error, result.cause)
    if expected["status"] == "SUCCEEDED":
        assert result.output == expected["output"]
    else:
        assert result.error == expected.get("error")
        assert result.cause == expected.get("cause")


def test_the_corpus_is_complete() -> None:
    # Given the copied AWS-recorded corpus, Then it holds every JSONPath and JSONata case
    assert len(JSONPATH_CASES) == 197
    assert len(JSONATA_CASES) == 88


@pytest.mark.parametrize("path", _case_params(JSONPATH_CASES))
def test_jsonpath_case(interpreter: Interpreter, path: Path) -> None:
    _run_case(interpreter, path)


@pytest.mark.parametrize("path", _case_params(JSONATA_CASES))
def test_jsonata_case(interpreter: Interpreter, path: Path) -> None:
    _run_case(interpreter, path)
