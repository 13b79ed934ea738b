"""How HTTP failures become classified ``StepError``s, shared by every executor that speaks HTTP.

Error names follow ``<Prefix>.<status>`` (``Http.503``, ``Llm.429``) and ``<Prefix>.Timeout`` /
``<Prefix>.Connection`` for transport failures. 408, 425, 429 and 5xx (but 501 and 505, which will not
change on a retry) are retryable; other 4xx are not: the request itself is wrong. ``Retry-After`` is
kept on the error (``retry_after`` seconds) so that whoever retries can wait at least that long.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterable, Mapping

import httpx

from orchestrator.steps.base import StepError
from orchestrator.steps.redaction import scrub

#: how much of a failed response's body goes into the cause: enough to read the server's reason
BODY_EXCERPT_CHARS = 500

_NEVER_RETRYABLE_5XX = frozenset({501, 505})
_RETRYABLE_4XX = frozenset({408, 425, 429})


class HttpStatusError(StepError):
    """A non-2xx answer. ``retry_after`` is the server's Retry-After in seconds, if it sent one."""

    def __init__(self, error: str, cause: str, *, status: int, retryable: bool, retry_after: float | None) -> None:
        super().__init__(error, cause, retryable=retryable)
        self.status = status
        self.retry_after = retry_after


def is_retryable_status(status: int) -> bool:
    if status >= 500:
        return status not in _NEVER_RETRYABLE_5XX
    return status in _RETRYABLE_4XX


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Retry-After as seconds from now: either delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # a malformed header must not turn a retryable answer into a crash
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def status_error(
    prefix: str,
    response: httpx.Response,
    what: str,
    *,
    secrets: Iterable[str] = (),
    mask: Callable[[str], str] | None = None,
) -> HttpStatusError:
    """The error for a non-2xx ``response`` of ``what`` (e.g. "POST http://host/v1/chat/completions")."""
    status = response.status_code
    excerpt = response.text[:BODY_EXCERPT_CHARS].strip()
    cause = f"{what} answered HTTP {status} {response.reason_phrase}" + (f": {excerpt}" if excerpt else "")
    return HttpStatusError(
        f"{prefix}.{status}",
        scrub(cause, secrets, mask),
        status=status,
        retryable=is_retryable_status(status),
        retry_after=retry_after_seconds(response.headers),
    )


def transport_error(
    prefix: str,
    exc: httpx.HTTPError,
    what: str,
    *,
    secrets: Iterable[str] = (),
    mask: Callable[[str], str] | None = None,
) -> StepError:
    """The error for a request that got no answer: timeouts and network failures are worth a retry."""
    detail = scrub(f"{what}: {type(exc).__name__}: {exc}", secrets, mask)
    if isinstance(exc, httpx.TimeoutException):
        return StepError(f"{prefix}.Timeout", f"no answer in time from {detail}", retryable=True)
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError):
        return StepError(f"{prefix}.Connection", f"cannot reach {detail}", retryable=True)
    # InvalidURL, UnsupportedProtocol, TooManyRedirects, ...: the same request would fail the same way
    return StepError(f"{prefix}.Request", f"cannot send {detail}", retryable=False)
