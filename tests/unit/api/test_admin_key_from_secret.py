"""The deployed API's admin key: the value of the Secrets Manager secret ORCHESTRATOR_ADMIN_KEY_SECRET_ID names.

moto stands in for Secrets Manager; the app runs on a SQLite store in a temporary directory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from orchestrator.adapters.aws.config_secrets import ConfigSecretError
from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.api import create_app
from orchestrator.api.auth import ensure_admin_key
from orchestrator.composition import config_secrets
from orchestrator.settings import Settings

REGION = "eu-west-1"
# what the stack's generated secret looks like: no "ork_" prefix, any printable characters
ADMIN_KEY = "Gx7vQ2-mPz9LkR4wT8yN3bH6sD1fJ5cE"
ROTATED_KEY = "Rt0aB3-nYq6WcX9uZ2kM7pL4vS8dF1gH"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ORCHESTRATOR_ADMIN_KEY", raising=False)
    config_secrets.forget_config_secrets()
    with mock_aws():
        yield
    config_secrets.forget_config_secrets()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "api.db")
    yield store
    store.close()


@pytest.fixture
def admin_secret(aws: None) -> str:
    """A Secrets Manager secret holding the admin key, as the stack creates it; its ARN."""
    return str(boto3.client("secretsmanager").create_secret(
        Name="orchestrator/dev/admin-api-key", SecretString=ADMIN_KEY)["ARN"])


def capture_logs(caplog: pytest.LogCaptureFixture) -> None:
    # the orchestrator's logs at DEBUG; libraries' at INFO (botocore's DEBUG prints response bodies)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="orchestrator")


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_secrets_value_is_the_admin_key_and_a_wrong_key_is_401(
    admin_secret: str, store: SqliteStore, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    capture_logs(caplog)
    # Given the environment of the deployed ApiFunction: the secret's id, no plain admin key
    monkeypatch.setenv("ORCHESTRATOR_ADMIN_KEY_SECRET_ID", admin_secret)
    # When the API app is built from it
    client = TestClient(create_app(store, settings=Settings()), raise_server_exceptions=False)
    # Then the secret's value is an admin key: it creates a key for alice, which works
    created = client.post("/api/v1/api-keys", json={"owner_id": "alice"}, headers=bearer(ADMIN_KEY))
    assert created.status_code == 201, created.text
    assert client.get("/api/v1/workflows", headers=bearer(created.json()["key"])).status_code == 200
    # And a wrong key, or the secret's id itself, is 401
    for wrong in ("ork_not-the-admin-key", ADMIN_KEY[:-1], admin_secret):
        response = client.post("/api/v1/api-keys", json={"owner_id": "mallory"}, headers=bearer(wrong))
        assert response.status_code == 401, wrong
    # And the key is in no log line and nowhere on stdout / stderr
    out, err = capfd.readouterr()
    assert ADMIN_KEY not in logged(caplog)
    assert ADMIN_KEY not in out and ADMIN_KEY not in err


def test_a_rotated_admin_key_is_picked_up_when_the_cached_value_expires(
    admin_secret: str, store: SqliteStore
) -> None:
    # Given an app on the admin secret, with no caching (max age 0), and the key working
    settings = Settings(admin_key_secret_id=admin_secret, config_secret_max_age_seconds=0)
    client = TestClient(create_app(store, settings=settings), raise_server_exceptions=False)
    assert client.get("/api/v1/api-keys", headers=bearer(ADMIN_KEY)).status_code == 200
    # When the secret rotates
    boto3.client("secretsmanager").put_secret_value(SecretId=admin_secret, SecretString=ROTATED_KEY)
    # Then the new key is the admin key, and the old one is refused
    assert client.get("/api/v1/api-keys", headers=bearer(ROTATED_KEY)).status_code == 200
    assert client.get("/api/v1/api-keys", headers=bearer(ADMIN_KEY)).status_code == 401


def test_within_the_max_age_the_key_read_at_start_stays_the_admin_key(
    admin_secret: str, store: SqliteStore
) -> None:
    # Given an app on the admin secret with the default max age (300 s)
    client = TestClient(create_app(store, settings=Settings(admin_key_secret_id=admin_secret)),
                        raise_server_exceptions=False)
    # When the secret rotates / Then, until the max age passes, the key read at start is still accepted
    boto3.client("secretsmanager").put_secret_value(SecretId=admin_secret, SecretString=ROTATED_KEY)
    assert client.get("/api/v1/api-keys", headers=bearer(ADMIN_KEY)).status_code == 200


def test_a_missing_admin_secret_fails_the_start_naming_the_secret(aws: None, store: SqliteStore) -> None:
    # Given a secret id whose secret does not exist
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:orchestrator/dev/admin-api-key-AbCdEf"
    # When the app is built / Then it fails at once (cold start), naming the variable and the secret
    with pytest.raises(ConfigSecretError) as raised:
        create_app(store, settings=Settings(admin_key_secret_id=arn))
    assert "ORCHESTRATOR_ADMIN_KEY_SECRET_ID" in str(raised.value) and arn in str(raised.value)


def test_no_admin_key_is_generated_in_the_store_when_a_secret_holds_it(admin_secret: str, store: SqliteStore) -> None:
    # Given settings with the admin secret / When the first start would generate an admin key
    generated = ensure_admin_key(store, Settings(admin_key_secret_id=admin_secret))
    # Then none is generated: the secret's is the admin key
    assert generated is None
    assert store.list_api_keys("admin") == []


def test_without_a_secret_id_the_plain_admin_key_still_works(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given ORCHESTRATOR_ADMIN_KEY only (the local server), and no AWS to call
    monkeypatch.delenv("ORCHESTRATOR_ADMIN_KEY_SECRET_ID", raising=False)
    client = TestClient(create_app(store, settings=Settings(admin_api_key="ork_plain-admin-key")),
                        raise_server_exceptions=False)
    # When / Then it is the admin key, and another is not
    assert client.get("/api/v1/api-keys", headers=bearer("ork_plain-admin-key")).status_code == 200
    assert client.get("/api/v1/api-keys", headers=bearer(ADMIN_KEY)).status_code == 401
