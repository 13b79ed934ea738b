"""The server's own configuration secrets (the admin API key, the MongoDB URI), read from AWS.

The deployed stack keeps them out of the functions' environment (``GetFunctionConfiguration`` shows every
variable): the environment names a secret instead, ``ORCHESTRATOR_ADMIN_KEY_SECRET_ID`` and
``ORCHESTRATOR_MONGODB_URI_SECRET_ID``, and the process reads it once at cold start, then keeps it for
``max_age`` seconds. An id is a Secrets Manager secret (ARN or name) or an SSM SecureString parameter (a
name that starts with "/", or a parameter ARN); ``Settings`` has checked its shape already.

- Caching: a value is read again when it is older than ``max_age`` (``config_secret_max_age_seconds``,
  default 300 s): a warm Lambda picks up a rotated admin key within that, and costs one API call per
  ``max_age``, not one per request.
- A refresh that fails (throttling, a network blip) keeps serving the value read before, with a warning,
  and tries again after ``RETRY_AFTER_SECONDS``: a short Secrets Manager outage does not lock the operator
  out of a warm API. A first read that fails raises ``ConfigSecretError``.
- Errors name the variable and the secret id, and AWS's error code and message (which never hold a
  value); nothing here logs or raises a value.

Not for owners' secrets (``parameter_secrets.py``): those are tenants' data, read per owner, under a prefix.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.clients import LazyClient, error_code, error_message
from orchestrator.observability import logger
from orchestrator.settings import secret_reference_kind

DEFAULT_MAX_AGE_SECONDS = 300
#: after a failed refresh, how long the value read before is served before the next try
RETRY_AFTER_SECONDS = 30.0
_NOT_FOUND_CODES = {"ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"}


class ConfigSecretError(RuntimeError):
    """A configuration secret cannot be read or used. The message names the secret, never its value."""


@dataclass(frozen=True)
class SecretReference:
    """A secret named by an environment variable: ``variable`` is for messages."""

    variable: str
    secret_id: str

    @property
    def service(self) -> str:
        kind = secret_reference_kind(self.secret_id)
        if kind is None:
            raise ConfigSecretError(f"{self.variable} is not a Secrets Manager secret id nor an SSM parameter name")
        return kind

    @property
    def region(self) -> str | None:
        """The region in an ARN (the client must be in it); None for a name (the process's region)."""
        if self.secret_id.startswith("arn:"):
            return self.secret_id.split(":")[3] or None
        return None

    def describe(self) -> str:
        what = "Secrets Manager secret" if self.service == "secretsmanager" else "SSM parameter"
        return f"{self.variable} ({what} {self.secret_id!r})"


@dataclass
class _Cached:
    value: str
    #: when (the clock's time) the value is read again
    refresh_at: float


class ConfigSecrets:
    """Reads configuration secrets and caches each for ``max_age`` seconds (see the module's docstring)."""

    def __init__(
        self,
        max_age: float = DEFAULT_MAX_AGE_SECONDS,
        *,
        region: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self._region = region
        self._clients: dict[tuple[str, str | None], LazyClient] = {}
        self._clock = clock
        self._cache: dict[SecretReference, _Cached] = {}
        # one lock for every secret: a refresh is rare, and concurrent requests then wait for one read
        # instead of each calling AWS
        self._lock = threading.Lock()

    def get(self, reference: SecretReference, *, json_key: str | None = None) -> str:
        """The secret's value. With ``json_key``, a value that is a JSON object yields that key's value (the
        JSON secrets of Atlas or RDS integrations); any other value is taken whole."""
        raw = self._raw(reference)
        if json_key is None or not raw.lstrip().startswith("{"):
            return raw
        try:
            document = json.loads(raw)
        except ValueError:
            raise ConfigSecretError(f"{reference.describe()} holds text that starts like JSON but is not JSON") from None
        field = document.get(json_key) if isinstance(document, dict) else None
        if not isinstance(field, str) or not field.strip():
            keys = ", ".join(sorted(str(key) for key in document)) if isinstance(document, dict) else "none"
            raise ConfigSecretError(
                f"{reference.describe()} holds a JSON object without a string {json_key!r} (its keys: {keys})")
        return field.strip()

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _raw(self, reference: SecretReference) -> str:
        with self._lock:
            now = self._clock()
            cached = self._cache.get(reference)
            if cached is not None and now < cached.refresh_at:
                return cached.value
            try:
                value = self._fetch(reference)
            except ConfigSecretError as exc:
                if cached is None:
                    raise
                logger.warning("a configuration secret could not be read again; keeping the value read before",
                               extra={"secret": reference.describe(), "error": str(exc)})
                cached.refresh_at = now + min(self.max_age, RETRY_AFTER_SECONDS)
                return cached.value
            if cached is not None and cached.value != value:
                logger.info("a configuration secret changed", extra={"secret": reference.describe()})
            self._cache[reference] = _Cached(value, now + self.max_age)
            return value

    def _fetch(self, reference: SecretReference) -> str:
        service = reference.service
        client = self._client(service, reference.region or self._region)
        try:
            if service == "secretsmanager":
                response = client.get_secret_value(SecretId=reference.secret_id)
                value = response.get("SecretString")
                if value is None and response.get("SecretBinary") is not None:
                    value = bytes(response["SecretBinary"]).decode("utf-8")
            else:
                response = client.get_parameter(Name=reference.secret_id, WithDecryption=True)
                value = response["Parameter"]["Value"]
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND_CODES:
                raise ConfigSecretError(f"{reference.describe()} does not exist (or not in this account and "
                                        f"region): {error_code(exc)}") from None
            raise ConfigSecretError(f"{reference.describe()} cannot be read: {error_message(exc)}") from None
        except BotoCoreError as exc:  # no credentials, no endpoint: botocore's messages hold no value
            raise ConfigSecretError(f"{reference.describe()} cannot be read: {type(exc).__name__}: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigSecretError(f"{reference.describe()} is binary, not UTF-8 text") from None
        if not isinstance(value, str) or not value.strip():
            raise ConfigSecretError(f"{reference.describe()} is empty")
        return value.strip()

    def _client(self, service: str, region: str | None) -> Any:
        key = (service, region)
        lazy = self._clients.get(key)
        if lazy is None:
            lazy = self._clients[key] = LazyClient(service, region=region)
        return lazy.get()
