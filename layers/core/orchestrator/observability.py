"""The one Logger, Tracer and Metrics of the service; every module imports them from here."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

SERVICE_NAME = "orchestrator"


class _Metrics(Metrics):
    """Powertools' Metrics, silent where metrics are disabled (the local engine, tests).

    Powertools prints the buffered EMF document to stdout every 100 values even when metrics are disabled;
    in `orchestrator run --json` or a long-running `orchestrator serve` that is stray JSON on stdout."""

    def add_metric(self, *args: Any, **kwargs: Any) -> None:
        if is_metrics_disabled():
            return
        super().add_metric(*args, **kwargs)


class _NoSegment(BaseSegment):
    """What a disabled tracer's decorators annotate: nothing."""

    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        pass


class _NoTracing(BaseProvider):
    """The provider of a disabled Tracer (outside Lambda, or POWERTOOLS_TRACE_DISABLED).

    Powertools' Tracer builds the X-Ray recorder even when it is disabled, and aws_xray_sdk imports
    botocore's session and client machinery: about half a second before `orchestrator validate` can say
    anything. Where tracing is off anyway, these no-op segments stand in for the recorder's dummy ones."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[BaseSegment]:
        yield _NoSegment()

    @asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> Any:
        yield _NoSegment()

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def patch(self, modules: Any) -> None:
        pass

    def patch_all(self) -> None:
        pass


class _Tracer(Tracer):
    """Powertools' Tracer; where it is disabled, without importing the X-Ray SDK at all."""

    @staticmethod
    def _disable_tracer_provider() -> None:
        # Powertools switches the X-Ray SDK off globally; with the no-op provider nothing uses it, and
        # importing it just to switch it off is what this class avoids. If it is loaded, do as Powertools.
        if "aws_xray_sdk" in sys.modules:
            Tracer._disable_tracer_provider()


def _tracer() -> Tracer:
    # Powertools' own rule (disabled outside Lambda, under SAM local / Chalice, or POWERTOOLS_TRACE_DISABLED),
    # decided once here as the Tracer itself decides it at construction. In Lambda: the X-Ray recorder.
    if Tracer._is_tracer_disabled():
        return _Tracer(service=SERVICE_NAME, disabled=True, provider=_NoTracing())
    return Tracer(service=SERVICE_NAME)


# Handlers flush with @log_metrics; an invocation that counted nothing (or runs where metrics are off) is
# normal here, not worth a warning on every call.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

# stderr: in Lambda both streams reach CloudWatch; locally stdout stays free for command output (--json)
logger = Logger(service=SERVICE_NAME, stream=sys.stderr)
tracer = _tracer()
metrics = _Metrics(namespace="Orchestrator", service=SERVICE_NAME)
