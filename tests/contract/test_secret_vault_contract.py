"""One contract for every place owners' secrets live: the store (SQLite, in memory, MongoDB), sealed with
a Fernet key, and AWS (SSM Parameter Store, Secrets Manager) under moto."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from contract.conftest import BACKENDS, _open_backend
from cryptography.fernet import Fernet

from orchestrator.adapters.local.store_vault import StoreVault
from orchestrator.ports.secrets import SecretsBackendError, SecretVault

AWS_VAULTS = ["ssm", "secretsmanager"]
KEY = Fernet.generate_key().decode()


@pytest.fixture(params=BACKENDS + AWS_VAULTS)
def vault(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretVault]:
    if request.param in AWS_VAULTS:
        from moto import mock_aws

        from orchestrator.adapters.aws.parameter_vault import ParameterStoreVault, SecretsManagerVault

        for name, value in {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}.items():
            monkeypatch.setenv(name, value)
        with mock_aws():
            kind = ParameterStoreVault if request.param == "ssm" else SecretsManagerVault
            yield kind(prefix="/orchestrator/test/", max_age=300)
        return
    for backend in _open_backend(request.param, tmp_path):
        yield StoreVault(backend.store.secrets, lambda: KEY)


def test_put_get_replace_delete(vault: SecretVault):
    # Given a secret put by alice
    info = vault.put_secret("alice", "api_token", "first-value")
    assert info.name == "api_token"
    # When read, replaced, read again, deleted / Then each answers as written
    assert vault.get_secret("alice", "api_token") == "first-value"
    vault.put_secret("alice", "api_token", "second-value")
    assert vault.get_secret("alice", "api_token") == "second-value"
    assert vault.delete_secret("alice", "api_token") is True
    assert vault.get_secret("alice", "api_token") is None
    assert vault.delete_secret("alice", "api_token") is False


def test_owners_are_apart(vault: SecretVault):
    # Given the same name held by two owners, and owner ids that could spell each other's paths
    vault.put_secret("alice", "token", "alice-value")
    vault.put_secret("bob", "token", "bob-value")
    vault.put_secret("team.a", "token", "dotted-owner")
    vault.put_secret("team_2ea", "token", "lookalike-owner")
    # When each reads / Then each gets its own, and a stranger nothing
    assert vault.get_secret("alice", "token") == "alice-value"
    assert vault.get_secret("bob", "token") == "bob-value"
    assert vault.get_secret("team.a", "token") == "dotted-owner"
    assert vault.get_secret("team_2ea", "token") == "lookalike-owner"
    assert vault.get_secret("mallory", "token") is None
    # And a listing shows only the owner's own names
    vault.put_secret("alice", "another", "v2-value")
    assert [info.name for info in vault.list_secrets("alice")] == ["another", "token"]
    assert [info.name for info in vault.list_secrets("mallory")] == []
    # And deleting one owner's secret leaves the other's
    vault.delete_secret("alice", "token")
    assert vault.get_secret("bob", "token") == "bob-value"


def test_listing_holds_no_values(vault: SecretVault):
    # Given a secret / When listed / Then names and timestamps only
    vault.put_secret("alice", "db_password", "pa55-w0rd-value")
    [info] = vault.list_secrets("alice")
    assert "pa55-w0rd-value" not in repr(info)
    assert info.updated_at >= info.created_at


@pytest.mark.parametrize("backend", ["sqlite"])
def test_store_keeps_only_ciphertext_sealed_to_owner_and_name(backend: str, tmp_path: Path):
    # Given a vault over a SQLite file
    for opened in _open_backend(backend, tmp_path):
        vault = StoreVault(opened.store.secrets, lambda: KEY)
        vault.put_secret("alice", "token", "plain-text-secret")
        vault.put_secret("bob", "token", "bob-secret")
        # Then the file never holds the value in clear
        opened.store.close()
        assert b"plain-text-secret" not in (tmp_path / "orchestrator.db").read_bytes()
    for opened in _open_backend(backend, tmp_path):
        rows = opened.store.secrets
        vault = StoreVault(rows, lambda: KEY)
        # And a row copied to another owner does not open there (whoever writes the file cannot move secrets)
        rows.put_sealed("bob", "token", rows.get_sealed("alice", "token"))
        with pytest.raises(SecretsBackendError, match="not sealed for this owner"):
            vault.get_secret("bob", "token")
        # And another key cannot open it at all
        with pytest.raises(SecretsBackendError, match="cannot be decrypted"):
            StoreVault(rows, lambda: Fernet.generate_key().decode()).get_secret("alice", "token")


def test_rotated_keys_still_open_old_values(tmp_path: Path):
    # Given a value sealed with the old key
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    for opened in _open_backend("memory", tmp_path):
        rows = opened.store.secrets
        StoreVault(rows, lambda: old).put_secret("alice", "token", "sealed-with-old")
        # When the key list is "new, old" / Then it still opens, and new values are sealed with the new key
        rotated = StoreVault(rows, lambda: f"{new},{old}")
        assert rotated.get_secret("alice", "token") == "sealed-with-old"
        rotated.put_secret("alice", "fresh", "sealed-with-new")
        assert StoreVault(rows, lambda: new).get_secret("alice", "fresh") == "sealed-with-new"
