"""Secrets from AWS: SSM Parameter Store (SecureString, decrypted) or Secrets Manager.

Both go through Powertools' parameter providers, which cache each value for ``max_age`` seconds: a
warm Lambda container resolves a secret once per ``max_age``, not once per step. Each adapter owns its
provider (and so its cache and boto3 client) instead of Powertools' module-level default, so that two
configurations in one process (or two tests) cannot see each other's cached values.

Secret names are prefixed with ``prefix``: with ``prefix="/orchestrator/prod/"``, ``{{secrets.api_token}}``
reads the parameter ``/orchestrator/prod/api_token``. A missing secret raises ``SecretNotFound``; any
other failure (access denied, throttling) raises ``SecretsBackendError``. Neither message holds a value.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from orchestrator.ports.secrets import SecretNotFound, SecretsBackendError

DEFAULT_MAX_AGE_SECONDS = 300
_NOT_FOUND_CODES = {"ParameterNotFound", "ResourceNotFoundException"}


def _error_code(exc: BaseException) -> str | None:
    # Powertools wraps every SDK error in GetParameterError(str(exc)); the ClientError is its context.
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientError):
            return str(seen.response.get("Error", {}).get("Code", ""))
        seen = seen.__cause__ or seen.__context__
    return None


class _ProviderSecrets(ABC):
    #: what the backend calls an entry, for messages
    backend = ""

    def __init__(self, provider: Any, prefix: str = "", max_age: int = DEFAULT_MAX_AGE_SECONDS) -> None:
        self._provider = provider
        self.prefix = prefix
        self.max_age = max_age

    @abstractmethod
    def _fetch(self, full_name: str) -> Any: ...

    def get(self, name: str) -> str:
        full_name = f"{self.prefix}{name}"
        try:
            value = self._fetch(full_name)
        except GetParameterError as exc:
            code = _error_code(exc)
            if code in _NOT_FOUND_CODES:
                raise SecretNotFound(f"secret {name!r} not found: no {self.backend} entry {full_name!r}") from None
            raise SecretsBackendError(
                f"cannot read secret {name!r} ({self.backend} {full_name!r}): {code or type(exc).__name__}"
            ) from None
        if isinstance(value, bytes):  # a binary Secrets Manager secret
            return value.decode("utf-8")
        return str(value)

    def forget_cached(self) -> None:
        """Drop cached values (after this process changed a secret)."""
        self._provider.clear_cache()


class ParameterStoreSecrets(_ProviderSecrets):
    backend = "SSM parameter"

    def __init__(
        self,
        prefix: str = "",
        max_age: int = DEFAULT_MAX_AGE_SECONDS,
        provider: SSMProvider | None = None,
    ) -> None:
        super().__init__(provider or SSMProvider(), prefix, max_age)

    def _fetch(self, full_name: str) -> Any:
        return self._provider.get(full_name, max_age=self.max_age, decrypt=True)


class SecretsManagerSecrets(_ProviderSecrets):
    backend = "Secrets Manager secret"

    def __init__(
        self,
        prefix: str = "",
        max_age: int = DEFAULT_MAX_AGE_SECONDS,
        provider: SecretsProvider | None = None,
    ) -> None:
        super().__init__(provider or SecretsProvider(), prefix, max_age)

    def _fetch(self, full_name: str) -> Any:
        return self._provider.get(full_name, max_age=self.max_age)
