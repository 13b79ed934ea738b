"""The cached secrets factory: vault by settings, owners resolved apart, values registered for masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.local.store_vault import StoreVault
from orchestrator.composition import secrets as secrets_factory
from orchestrator.composition.store import close_stores
from orchestrator.masking import get_masker
from orchestrator.settings import Settings, get_settings


@pytest.mark.parametrize("backend", ["store", "env"])
def test_local_backends_keep_owner_secrets_in_the_store(backend: str, tmp_path: Path):
    # Given the local backend (env is its old name) / When built / Then a vault over the store
    try:
        vault = secrets_factory.build_vault(Settings(secrets_backend=backend, home=tmp_path))
        assert isinstance(vault, StoreVault)
    finally:
        close_stores()


@pytest.mark.parametrize("backend", ["ssm", "secretsmanager"])
def test_aws_backends(backend: str, monkeypatch: pytest.MonkeyPatch):
    from orchestrator.adapters.aws.parameter_vault import ParameterStoreVault, SecretsManagerVault

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    vault = secrets_factory.build_vault(Settings(secrets_backend=backend, secrets_path_prefix="/o/"))
    assert isinstance(vault, ParameterStoreVault if backend == "ssm" else SecretsManagerVault)
    assert vault.prefix == "/o/"


def test_resolver_is_cached_and_registers_values_for_masking(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    # Given the local backend and a shared secret in the environment
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path))
    monkeypatch.setenv("ORCHESTRATOR_SECRETS_ENV_PREFIX", "FACTORY_TEST_")
    monkeypatch.setenv("FACTORY_TEST_TOKEN", "factory-secret-value")
    get_settings.cache_clear()
    secrets_factory.get_secret_vault.cache_clear()
    secrets_factory.get_secret_resolver.cache_clear()
    try:
        # When the secret is resolved through the process's resolver for some owner
        resolver = secrets_factory.get_secret_resolver()
        assert resolver is secrets_factory.get_secret_resolver()
        assert resolver.for_owner("alice").get("token") == "factory-secret-value"
        # Then the process masker hides it from then on
        assert get_masker().mask("value=factory-secret-value") == "value=***"
    finally:
        get_settings.cache_clear()
        secrets_factory.get_secret_vault.cache_clear()
        secrets_factory.get_secret_resolver.cache_clear()
        close_stores()


def test_mongo_store_needs_an_explicit_key(tmp_path: Path):
    # Given a MongoDB store (several machines) and no ORCHESTRATOR_SECRETS_KEY / When a key is needed
    # Then it is refused: a key file on one machine would not reach the others
    with pytest.raises(ValueError, match="ORCHESTRATOR_SECRETS_KEY"):
        secrets_factory._key_text(Settings(store="mongo", mongodb_uri="mongodb://x", home=tmp_path))
