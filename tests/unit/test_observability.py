"""Metrics stay off stdout where they are disabled: stdout carries command output (`run --json`)."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from orchestrator.observability import metrics


def test_disabled_metrics_print_nothing_however_many_are_added(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    # Given metrics disabled, as on the local engine
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    # When more values are added than Powertools buffers before it prints them
    for _ in range(250):
        metrics.add_metric(name="StepsSucceeded", unit=MetricUnit.Count, value=1)
    # Then nothing reached stdout
    assert capsys.readouterr().out == ""


def test_enabled_metrics_still_publish_their_emf_documents(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    # Given metrics enabled, as in Lambda
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    try:
        # When a full buffer of values is added
        for _ in range(100):
            metrics.add_metric(name="StepsSucceeded", unit=MetricUnit.Count, value=1)
        # Then Powertools published them as one EMF document
        document = json.loads(capsys.readouterr().out)
        assert document["StepsSucceeded"] == [1.0] * 100
    finally:
        metrics.clear_metrics()
