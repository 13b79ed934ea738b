"""The one Logger, Tracer and Metrics of the service; every module imports them from here."""

from __future__ import annotations

import sys

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE_NAME = "orchestrator"

# stderr: in Lambda both streams reach CloudWatch; locally stdout stays free for command output (--json)
logger = Logger(service=SERVICE_NAME, stream=sys.stderr)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace="Orchestrator", service=SERVICE_NAME)
