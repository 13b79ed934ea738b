"""The process's Secrets adapter, chosen once by ``Settings.secrets_backend``.

Every value it hands out is registered with the process masker (``orchestrator.masking``) and the
service logger masks registered values, so a secret resolved anywhere never reaches a log line.
"""

from __future__ import annotations

from functools import lru_cache

from orchestrator.masking import Masker, get_masker, install_log_masking
from orchestrator.observability import logger
from orchestrator.ports.secrets import Secrets
from orchestrator.settings import Settings, get_settings


class MaskingSecrets:
    """A Secrets adapter that registers each value it returns with a Masker."""

    def __init__(self, inner: Secrets, masker: Masker) -> None:
        self.inner = inner
        self.masker = masker

    def get(self, name: str) -> str:
        value = self.inner.get(name)
        self.masker.add(value)
        return value


def build_secrets(settings: Settings) -> Secrets:
    """The bare adapter for ``settings`` (no masking): ``get_secrets`` is what the service uses."""
    if settings.secrets_backend == "env":
        from orchestrator.adapters.local.env_secrets import EnvSecrets

        return EnvSecrets(prefix=settings.secrets_env_prefix)
    # AWS adapters import boto3 (the optional "aws" extra): only when configured.
    prefix = settings.secrets_path_prefix
    max_age = settings.secrets_max_age_seconds
    if settings.secrets_backend == "ssm":
        from orchestrator.adapters.aws.parameter_secrets import ParameterStoreSecrets

        return ParameterStoreSecrets(prefix=prefix, max_age=max_age)
    if settings.secrets_backend == "secretsmanager":
        from orchestrator.adapters.aws.parameter_secrets import SecretsManagerSecrets

        return SecretsManagerSecrets(prefix=prefix, max_age=max_age)
    raise ValueError(f"unknown secrets_backend {settings.secrets_backend!r}")


@lru_cache(maxsize=1)
def get_secrets() -> Secrets:
    install_log_masking(logger, get_masker())
    return MaskingSecrets(build_secrets(get_settings()), get_masker())
