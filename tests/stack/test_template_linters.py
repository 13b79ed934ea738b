"""template.yaml passes cfn-lint (with the SAM transform) and `sam validate --lint` without a finding."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from stack_tools import PROJECT, TEMPLATE, missing, tool_environment


@pytest.fixture(scope="module")
def cfn_lint() -> Path:
    # the project venv's cfn-lint==1.53.3: the last release that lints the template after the SAM transform
    found = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    if found is None:
        missing("cfn-lint (the test extra's cfn-lint==1.53.3)")
    return Path(str(found))


def _cfn_lint(cfn_lint: Path, template: Path) -> list[dict]:
    result = subprocess.run([str(cfn_lint), "--format", "json", str(template)], capture_output=True, text=True,
                            timeout=300, env=tool_environment())
    assert result.stdout.strip(), f"cfn-lint printed nothing (exit {result.returncode}): {result.stderr}"
    return json.loads(result.stdout)


def test_cfn_lint_finds_no_error_and_no_warning(cfn_lint: Path) -> None:
    findings = _cfn_lint(cfn_lint, TEMPLATE)
    assert findings == [], "\n".join(
        f"{f['Level']} {f['Rule']['Id']} line {f['Location']['Start']['LineNumber']} "
        f"({'/'.join(map(str, f['Location']['Path']))}): {f['Message']}" for f in findings)


def test_cfn_lint_sees_through_the_sam_transform(cfn_lint: Path, tmp_path: Path) -> None:
    # A bad runtime in Globals only exists after the transform: a linter that skips it would pass it
    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.read_text().replace("Runtime: python3.12", "Runtime: python3.99", 1))
    findings = _cfn_lint(cfn_lint, broken)
    assert any(f["Level"] == "Error" and "python3.99" in f["Message"] for f in findings), findings


def test_sam_validate_lint_passes(sam: Path) -> None:
    result = subprocess.run([str(sam), "validate", "--lint", "--template-file", str(TEMPLATE)], cwd=PROJECT,
                            capture_output=True, text=True, timeout=300, env=tool_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_sam_validate_lint_fails_a_reference_to_nothing(sam: Path, tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.read_text().replace("!GetAtt DeadLetterQueue.QueueName", "!GetAtt NoQueue.QueueName", 1))
    result = subprocess.run([str(sam), "validate", "--lint", "--template-file", str(broken)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, env=tool_environment())
    assert result.returncode != 0 and "NoQueue" in result.stdout + result.stderr, result.stdout + result.stderr
