"""The one Logger, Tracer and Metrics of the service; every module imports them from here."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE_NAME = "orchestrator"

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace="Orchestrator", service=SERVICE_NAME)
