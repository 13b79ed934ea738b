"""The one Logger, Tracer and Metrics of the service; every module imports them from here."""

from __future__ import annotations

import sys
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE_NAME = "orchestrator"


class _Metrics(Metrics):
    """Powertools' Metrics, silent where metrics are disabled (the local engine, tests).

    Powertools prints the buffered EMF document to stdout every 100 values even when metrics are disabled;
    in `orchestrator run --json` or a long-running `orchestrator serve` that is stray JSON on stdout."""

    def add_metric(self, *args: Any, **kwargs: Any) -> None:
        if is_metrics_disabled():
            return
        super().add_metric(*args, **kwargs)


# Handlers flush with @log_metrics; an invocation that counted nothing (or runs where metrics are off) is
# normal here, not worth a warning on every call.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

# stderr: in Lambda both streams reach CloudWatch; locally stdout stays free for command output (--json)
logger = Logger(service=SERVICE_NAME, stream=sys.stderr)
tracer = Tracer(service=SERVICE_NAME)
metrics = _Metrics(namespace="Orchestrator", service=SERVICE_NAME)
