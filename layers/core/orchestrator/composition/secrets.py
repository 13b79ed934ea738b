"""The process's secrets, chosen once by ``Settings.secrets_backend``.

- ``store`` (the local default; ``env`` is its old name): owners' secrets encrypted in the store, the key
  from ``ORCHESTRATOR_SECRETS_KEY`` or ``<home>/secrets.key``;
- ``ssm`` / ``secretsmanager``: owners' secrets under ``<secrets_path_prefix>owners/<owner>/``.

Either way, the operator's shared secrets come from ``ORCHESTRATOR_SECRET_*`` environment variables
(``Settings.secrets_env_prefix``), and every value handed out is registered with the process masker and
the service logger masks registered values, so a secret resolved anywhere never reaches a log line.
"""

from __future__ import annotations

from functools import lru_cache

from orchestrator.masking import get_masker, install_log_masking
from orchestrator.observability import logger
from orchestrator.ports.secrets import SecretInfo, SecretResolver, SecretVault
from orchestrator.ports.store import Store
from orchestrator.settings import Settings, get_settings


def build_vault(settings: Settings, store: Store | None = None) -> SecretVault:
    """Where owners' secrets are kept for ``settings`` (locally: in ``store``, default the process's)."""
    prefix, max_age, region = settings.secrets_path_prefix, settings.secrets_max_age_seconds, settings.aws_region
    # AWS adapters import boto3 (the optional "aws" extra): only when configured.
    if settings.secrets_backend == "ssm":
        from orchestrator.adapters.aws.parameter_vault import ParameterStoreVault

        return ParameterStoreVault(prefix=prefix, max_age=max_age, region=region)
    if settings.secrets_backend == "secretsmanager":
        from orchestrator.adapters.aws.parameter_vault import SecretsManagerVault

        return SecretsManagerVault(prefix=prefix, max_age=max_age, region=region)
    from orchestrator.adapters.local.store_vault import StoreVault
    from orchestrator.composition.store import get_store

    return StoreVault((store or get_store(settings)).secrets, lambda: _key_text(settings))


def _key_text(settings: Settings) -> str:
    if settings.secrets_key is not None:
        return settings.secrets_key.get_secret_value()
    if settings.store == "mongo":
        raise ValueError("ORCHESTRATOR_SECRETS_KEY is required to keep secrets in a MongoDB store "
                         "(a key file on one machine would not reach the others)")
    from orchestrator.adapters.local.secret_cipher import load_or_create_key

    return load_or_create_key(settings.home)


def build_secret_resolver(settings: Settings, vault: SecretVault | None) -> SecretResolver:
    """Owners' secrets from ``vault`` (None: none), then the operator's shared ones from the environment."""
    from orchestrator.adapters.local.env_secrets import EnvSecrets
    from orchestrator.services.owner_secrets import VaultSecretResolver

    return VaultSecretResolver(vault, EnvSecrets(prefix=settings.secrets_env_prefix), get_masker())


@lru_cache(maxsize=1)
def get_secret_vault() -> SecretVault:
    return build_vault(get_settings())


@lru_cache(maxsize=1)
def get_secret_resolver() -> SecretResolver:
    install_log_masking(logger, get_masker())
    return build_secret_resolver(get_settings(), get_secret_vault())


class _OpenedOnFirstUse:
    """A vault that opens the home's store only when a secret is first looked up (a one-shot run that
    names no secret never opens, let alone creates, the database)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._vault: SecretVault | None = None

    def _opened(self) -> SecretVault:
        if self._vault is None:
            self._vault = build_vault(self._settings)
        return self._vault

    def get_secret(self, owner_id: str, name: str) -> str | None:
        return self._opened().get_secret(owner_id, name)

    def put_secret(self, owner_id: str, name: str, value: str) -> SecretInfo:
        return self._opened().put_secret(owner_id, name, value)

    def list_secrets(self, owner_id: str) -> list[SecretInfo]:
        return self._opened().list_secrets(owner_id)

    def delete_secret(self, owner_id: str, name: str) -> bool:
        return self._opened().delete_secret(owner_id, name)


def build_single_user_resolver(settings: Settings) -> SecretResolver:
    """``orchestrator run``: the operator's secrets in ``ORCHESTRATOR_HOME``'s store, if there is one
    (``orchestrator secrets set --local``), then ``ORCHESTRATOR_SECRET_*``."""
    install_log_masking(logger, get_masker())
    from orchestrator.composition.store import SQLITE_FILE_NAME

    has_home_store = settings.store == "sqlite" and (settings.home.expanduser() / SQLITE_FILE_NAME).is_file()
    local_store = settings.secrets_backend in ("store", "env")
    vault = _OpenedOnFirstUse(settings) if has_home_store or not local_store else None
    return build_secret_resolver(settings, vault)
