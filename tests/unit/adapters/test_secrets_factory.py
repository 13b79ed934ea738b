"""The cached Secrets factory: backend by settings, values registered for masking."""

from __future__ import annotations

import pytest

from orchestrator.adapters import secrets_factory
from orchestrator.adapters.local.env_secrets import EnvSecrets
from orchestrator.masking import get_masker
from orchestrator.settings import Settings, get_settings


def test_env_backend_with_prefix():
    # Given env settings with a prefix / When built / Then an EnvSecrets with that prefix
    secrets = secrets_factory.build_secrets(Settings(secrets_backend="env", secrets_env_prefix="ORCH_SECRET_"))
    assert isinstance(secrets, EnvSecrets) and secrets.prefix == "ORCH_SECRET_"


@pytest.mark.parametrize("backend", ["ssm", "secretsmanager"])
def test_aws_backends(backend: str, monkeypatch: pytest.MonkeyPatch):
    from orchestrator.adapters.aws.parameter_secrets import ParameterStoreSecrets, SecretsManagerSecrets

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    secrets = secrets_factory.build_secrets(Settings(secrets_backend=backend))
    assert isinstance(secrets, ParameterStoreSecrets if backend == "ssm" else SecretsManagerSecrets)


def test_get_secrets_is_cached_and_registers_values_for_masking(monkeypatch: pytest.MonkeyPatch):
    # Given the env backend and a secret in the environment
    monkeypatch.setenv("ORCHESTRATOR_SECRETS_BACKEND", "env")
    monkeypatch.setenv("ORCHESTRATOR_SECRETS_ENV_PREFIX", "FACTORY_TEST_")
    monkeypatch.setenv("FACTORY_TEST_TOKEN", "factory-secret-value")
    get_settings.cache_clear()
    secrets_factory.get_secrets.cache_clear()
    try:
        # When the secret is resolved through the process's adapter
        secrets = secrets_factory.get_secrets()
        assert secrets is secrets_factory.get_secrets()
        assert secrets.get("token") == "factory-secret-value"
        # Then the process masker hides it from then on
        assert get_masker().mask("value=factory-secret-value") == "value=***"
    finally:
        get_settings.cache_clear()
        secrets_factory.get_secrets.cache_clear()
