"""One deployment of template.yaml on moto per test module (support/aws_chain.py). Module scope, not
"package": this folder has no __init__.py, so a package-scoped fixture would live (and keep moto's mock
active) until the end of the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.aws_chain import AwsChain

#: step outputs above this many bytes go to the blob bucket (the template's default is 200 KiB)
BLOB_THRESHOLD_BYTES = 4096


@pytest.fixture(scope="module")
def chain() -> Iterator[AwsChain]:
    # the threshold is a deployment setting of the functions that write (StepRunner) and read (Api) outputs
    overrides = {"ORCHESTRATOR_BLOB_THRESHOLD_BYTES": str(BLOB_THRESHOLD_BYTES)}
    with AwsChain(env_overrides={"StepRunnerFunction": overrides, "ApiFunction": overrides}) as deployed:
        yield deployed
