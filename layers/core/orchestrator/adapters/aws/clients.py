"""boto3 clients for the control-plane adapters: made once per adapter, on first use.

Lazy, because a Lambda container pays for a client at creation (endpoint and credential resolution) and a
function imports more adapters than a given invocation uses. One per adapter, because a boto3 client is
thread-safe to share but a module-wide cache would outlive moto's mocks in tests.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# "standard" retries throttling and transient errors with backoff, the same way in every SDK
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


class LazyClient:
    def __init__(self, service: str, *, region: str | None = None, client: Any = None,
                 config: Config | None = None) -> None:
        self.service = service
        self.region = region
        self._client = client
        self._config = config or _CLIENT_CONFIG
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    # region None: boto3 reads AWS_REGION / AWS_DEFAULT_REGION / the profile
                    self._client = boto3.client(self.service, region_name=self.region, config=self._config)
        return self._client


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Code', 'Error')}: {details.get('Message', '')}".rstrip(": ")
