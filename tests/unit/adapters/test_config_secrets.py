"""The server's configuration secrets (admin key, MongoDB URI) read from Secrets Manager and SSM, with moto.

Covers the settings that name them (ORCHESTRATOR_*_SECRET_ID), the adapter that reads and caches them, and
the store factory that opens MongoDB on a URI read from a secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from orchestrator.adapters.aws.config_secrets import ConfigSecretError, ConfigSecrets, SecretReference
from orchestrator.adapters.mongo import MongoStore
from orchestrator.composition import config_secrets
from orchestrator.composition import store as store_factory
from orchestrator.settings import Settings, SettingsError

REGION = "eu-west-1"
MONGO_PASSWORD = "pw-Zq81vTe0"
MONGO_URI = f"mongodb://orchestrator:{MONGO_PASSWORD}@db.internal.example:27017/orchestrator?tls=true"
VARIABLE = "ORCHESTRATOR_MONGODB_URI_SECRET_ID"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(name, value)
    for name in ("ORCHESTRATOR_MONGODB_URI", "ORCHESTRATOR_ADMIN_KEY", "ORCHESTRATOR_STORE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    config_secrets.forget_config_secrets()
    store_factory.close_stores()
    yield
    config_secrets.forget_config_secrets()
    store_factory.close_stores()


@pytest.fixture
def opened_uris(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """MongoStore.from_uri on mongomock: records the URI it was given instead of connecting."""
    mongomock = pytest.importorskip("mongomock")
    uris: list[str] = []

    def from_uri(cls: type[MongoStore], uri: str, database_name: str | None = None) -> MongoStore:
        uris.append(uri)
        return cls(mongomock.MongoClient(tz_aware=True).get_database("config_secrets_test"))

    monkeypatch.setattr(MongoStore, "from_uri", classmethod(from_uri))
    return uris


def sm_secret(name: str, value: str) -> str:
    return str(boto3.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"])


def ssm_parameter(name: str, value: str) -> str:
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    return str(ssm.get_parameter(Name=name)["Parameter"]["ARN"])


def capture_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Everything the orchestrator logs, DEBUG included, and what the libraries log at INFO and above
    (botocore's DEBUG output prints request and response bodies: keep the root logger above DEBUG)."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="orchestrator")


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record: its message and its extra fields (what the JSON logger prints)."""
    return "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- where the URI comes from -------------------------------------------------------------------------------


@pytest.mark.parametrize("stored", [MONGO_URI, json.dumps({"uri": MONGO_URI, "username": "orchestrator",
                                                           "password": MONGO_PASSWORD})],
                         ids=["plain string", "json with uri"])
def test_the_mongo_uri_is_read_from_a_secrets_manager_secret(aws: None, stored: str) -> None:
    # Given a Secrets Manager secret holding the URI (as it is, or as an Atlas/RDS-style JSON object)
    arn = sm_secret("orchestrator/prod/mongodb", stored)
    # When the settings name it
    settings = Settings(store="mongo", mongodb_uri_secret_id=arn)
    # Then the URI is the secret's
    assert config_secrets.mongodb_uri(settings) == MONGO_URI


def test_the_mongo_uri_is_read_from_an_ssm_securestring_by_name_and_by_arn(aws: None) -> None:
    # Given an SSM SecureString parameter holding the URI
    arn = ssm_parameter("/orchestrator/prod/mongodb-uri", MONGO_URI)
    # When the settings name it by name, or by ARN / Then both read the decrypted URI
    assert config_secrets.mongodb_uri(Settings(mongodb_uri_secret_id="/orchestrator/prod/mongodb-uri")) == MONGO_URI
    assert arn.startswith("arn:aws:ssm:")
    assert config_secrets.mongodb_uri(Settings(mongodb_uri_secret_id=arn)) == MONGO_URI


def test_without_a_secret_id_the_plain_uri_is_used_and_aws_is_not_called(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given only ORCHESTRATOR_MONGODB_URI (the local engine, a developer's MongoDB), and no AWS at all
    monkeypatch.setattr(ConfigSecrets, "get", lambda *args, **kwargs: pytest.fail("AWS was called"))
    # When the URI is asked for / Then it is the plain setting
    assert config_secrets.mongodb_uri(Settings(mongodb_uri="mongodb://localhost/dev")) == "mongodb://localhost/dev"


def test_the_store_opens_on_the_uri_from_the_secret_and_is_keyed_by_the_secret_id(
    aws: None, opened_uris: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    capture_logs(caplog)
    # Given the URI in a Secrets Manager secret
    arn = sm_secret("orchestrator/prod/mongodb", MONGO_URI)
    settings = Settings(store="mongo", mongodb_uri_secret_id=arn)
    # When the process's store is asked for twice
    store = store_factory.get_store(settings)
    # Then MongoDB was opened once, on the secret's URI
    assert isinstance(store, MongoStore)
    assert store_factory.get_store(Settings(store="mongo", mongodb_uri_secret_id=arn)) is store
    assert opened_uris == [MONGO_URI]
    # And the cache key is the secret's id, never the URI or its password
    keys = repr(list(store_factory._stores))
    assert arn in keys
    assert MONGO_PASSWORD not in keys and "db.internal.example" not in keys
    # And nothing logged holds it
    assert MONGO_PASSWORD not in logged(caplog)


def test_a_plain_uri_is_not_the_cache_key_either(opened_uris: list[str]) -> None:
    store_factory.get_store(Settings(store="mongo", mongodb_uri=MONGO_URI))
    assert opened_uris == [MONGO_URI]
    assert MONGO_PASSWORD not in repr(list(store_factory._stores))


def test_a_uri_that_pymongo_refuses_is_reported_without_the_password(aws: None) -> None:
    # Given a secret whose URI has an unescaped "@" in the password (pymongo refuses it)
    arn = sm_secret("orchestrator/prod/mongodb", f"mongodb://orchestrator:{MONGO_PASSWORD}@x@db.example/orch")
    # When the store is opened
    with pytest.raises(ValueError) as raised:
        store_factory.get_store(Settings(store="mongo", mongodb_uri_secret_id=arn))
    # Then the error names the variable and pymongo's reason, and no part of the credentials
    message = str(raised.value)
    assert VARIABLE in message and "escaped" in message
    assert MONGO_PASSWORD not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


# --- errors ------------------------------------------------------------------------------------------------


def test_a_missing_secret_is_a_clear_error_that_names_it(aws: None) -> None:
    # Given an id of a secret that does not exist
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:orchestrator/prod/mongodb-AbCdEf"
    # When the store is opened / Then the error names the variable and the secret
    with pytest.raises(ConfigSecretError) as raised:
        store_factory.get_store(Settings(store="mongo", mongodb_uri_secret_id=arn))
    assert VARIABLE in str(raised.value) and arn in str(raised.value)
    assert "does not exist" in str(raised.value)


def test_a_missing_ssm_parameter_is_a_clear_error_that_names_it(aws: None) -> None:
    with pytest.raises(ConfigSecretError, match="/orchestrator/prod/nothing-here") as raised:
        config_secrets.mongodb_uri(Settings(mongodb_uri_secret_id="/orchestrator/prod/nothing-here"))
    assert "SSM parameter" in str(raised.value)


def test_access_denied_is_a_clear_error_with_aws_reason(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a role that may not read the secret (moto grants everything: a stubbed client refuses)
    from botocore.stub import Stubber

    client = boto3.client("secretsmanager", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error("get_secret_value", service_error_code="AccessDeniedException", http_status_code=400,
                             service_message="User: arn:aws:sts::123456789012:assumed-role/api is not authorized "
                                             "to perform: secretsmanager:GetSecretValue")
    stubber.activate()
    reader = ConfigSecrets(300)
    monkeypatch.setattr(reader, "_client", lambda service, region: client)
    reference = SecretReference("ORCHESTRATOR_ADMIN_KEY_SECRET_ID", "orchestrator/prod/admin")
    # When it is read / Then the error names the variable, the secret and AWS's reason
    with pytest.raises(ConfigSecretError) as raised:
        reader.get(reference)
    message = str(raised.value)
    assert message.startswith("ORCHESTRATOR_ADMIN_KEY_SECRET_ID (Secrets Manager secret 'orchestrator/prod/admin')")
    assert "AccessDeniedException" in message and "secretsmanager:GetSecretValue" in message
    assert raised.value.__cause__ is None


def test_a_json_secret_without_a_uri_names_its_keys_but_no_value(aws: None) -> None:
    # Given an RDS-style JSON secret that has credentials but no "uri"
    arn = sm_secret("orchestrator/prod/mongodb", json.dumps({"username": "orchestrator", "password": MONGO_PASSWORD}))
    # When the URI is read / Then the error says what is missing, lists the keys, and shows no value
    with pytest.raises(ConfigSecretError) as raised:
        config_secrets.mongodb_uri(Settings(mongodb_uri_secret_id=arn))
    message = str(raised.value)
    assert "'uri'" in message and "password, username" in message
    assert MONGO_PASSWORD not in message


def test_an_empty_secret_is_an_error(aws: None) -> None:
    arn = sm_secret("orchestrator/prod/mongodb", "   ")
    with pytest.raises(ConfigSecretError, match="is empty"):
        config_secrets.mongodb_uri(Settings(mongodb_uri_secret_id=arn))


@pytest.mark.parametrize("secret_id", [
    "arn:aws:s3:::orchestrator-bucket",                                   # an ARN of another service
    "arn:aws:ssm:eu-west-1:123456789012:document/orchestrator",           # SSM, but not a parameter
    "arn:aws:secretsmanager:eu-west-1:12345:secret:orchestrator",         # no account id
    "has spaces in it",
])
def test_a_malformed_secret_id_is_a_clear_error_naming_the_variable(secret_id: str) -> None:
    with pytest.raises(SettingsError, match=f"^{VARIABLE} is not a secret id") as raised:
        Settings(mongodb_uri_secret_id=secret_id)
    assert "arn:<partition>:secretsmanager" in str(raised.value)


def test_the_uri_itself_in_the_secret_id_variable_is_refused_without_being_echoed() -> None:
    with pytest.raises(SettingsError, match="looks like the value itself") as raised:
        Settings(mongodb_uri_secret_id=MONGO_URI)
    assert MONGO_PASSWORD not in str(raised.value)


def test_a_plain_uri_and_a_secret_id_together_are_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given both variables in the environment
    monkeypatch.setenv("ORCHESTRATOR_MONGODB_URI", MONGO_URI)
    monkeypatch.setenv(VARIABLE, "/orchestrator/prod/mongodb-uri")
    # When the settings are read / Then they are refused, naming both, and the URI is not in the message
    with pytest.raises(SettingsError) as raised:
        Settings()
    message = str(raised.value)
    assert "ORCHESTRATOR_MONGODB_URI and ORCHESTRATOR_MONGODB_URI_SECRET_ID are both set" in message
    assert MONGO_PASSWORD not in message


def test_an_empty_secret_id_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "")
    monkeypatch.setenv("ORCHESTRATOR_MONGODB_URI", "mongodb://localhost/dev")
    assert Settings().mongodb_uri_secret_id is None


@pytest.mark.parametrize("secret_id, service, region", [
    ("arn:aws:secretsmanager:us-east-2:123456789012:secret:a/b-XyZ123", "secretsmanager", "us-east-2"),
    ("arn:aws-cn:ssm:cn-north-1:123456789012:parameter/a/b", "ssm", "cn-north-1"),
    ("/a/b", "ssm", None),
    ("orchestrator/admin-key", "secretsmanager", None),
])
def test_a_reference_knows_its_service_and_region(secret_id: str, service: str, region: str | None) -> None:
    reference = SecretReference(VARIABLE, secret_id)
    assert (reference.service, reference.region) == (service, region)


# --- caching and rotation ----------------------------------------------------------------------------------


def test_a_value_is_cached_for_max_age_then_read_again(aws: None) -> None:
    # Given a secret read once through a reader with a 300 s max age
    sm = boto3.client("secretsmanager")
    arn = sm_secret("orchestrator/prod/admin", "first-value-1")
    clock = Clock()
    reader = ConfigSecrets(300, clock=clock)
    reference = SecretReference("ORCHESTRATOR_ADMIN_KEY_SECRET_ID", arn)
    assert reader.get(reference) == "first-value-1"
    # When the secret rotates
    sm.put_secret_value(SecretId=arn, SecretString="second-value-2")
    # Then the cached value is served until max_age has passed, and the new one after
    clock.now += 299
    assert reader.get(reference) == "first-value-1"
    clock.now += 2
    assert reader.get(reference) == "second-value-2"


def test_a_failed_refresh_keeps_the_value_read_before_and_tries_again_later(
    aws: None, caplog: pytest.LogCaptureFixture
) -> None:
    capture_logs(caplog)
    # Given a secret read once
    sm = boto3.client("secretsmanager")
    arn = sm_secret("orchestrator/prod/admin", "still-good-value")
    clock = Clock()
    reader = ConfigSecrets(300, clock=clock)
    reference = SecretReference("ORCHESTRATOR_ADMIN_KEY_SECRET_ID", arn)
    assert reader.get(reference) == "still-good-value"
    # When it cannot be read when its max age has passed (here: scheduled for deletion)
    sm.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    clock.now += 301
    # Then the value read before is served, with a warning that names the secret and not the value
    assert reader.get(reference) == "still-good-value"
    assert arn in logged(caplog) and "still-good-value" not in logged(caplog)
    # And it tries again after the retry interval, and picks up the secret once it is back
    sm.restore_secret(SecretId=arn)
    sm.put_secret_value(SecretId=arn, SecretString="restored-value")
    clock.now += 10
    assert reader.get(reference) == "still-good-value"
    clock.now += 25
    assert reader.get(reference) == "restored-value"


def test_a_first_read_that_fails_raises(aws: None) -> None:
    reader = ConfigSecrets(300)
    with pytest.raises(ConfigSecretError, match="orchestrator/prod/none"):
        reader.get(SecretReference("ORCHESTRATOR_ADMIN_KEY_SECRET_ID", "orchestrator/prod/none"))


def test_the_client_is_made_in_the_region_of_the_arn(aws: None) -> None:
    # Given a secret in another region than the process's
    arn = boto3.client("secretsmanager", region_name="us-west-2").create_secret(
        Name="orchestrator/prod/admin", SecretString="cross-region-value")["ARN"]
    # When it is read by ARN / Then it is found (the client is in us-west-2, not eu-west-1)
    reader = ConfigSecrets(300, region=REGION)
    assert reader.get(SecretReference("ORCHESTRATOR_ADMIN_KEY_SECRET_ID", arn)) == "cross-region-value"


def test_values_read_from_secrets_are_masked_in_the_process_logs(aws: None) -> None:
    # Given the URI read from a secret
    from orchestrator.masking import get_masker

    arn = sm_secret("orchestrator/prod/mongodb", MONGO_URI)
    config_secrets.mongodb_uri(Settings(mongodb_uri_secret_id=arn))
    # When a log line happens to hold the URI or its password / Then the process masker hides both
    masked = get_masker().mask(f"connecting to {MONGO_URI}; password {MONGO_PASSWORD}")
    assert MONGO_PASSWORD not in masked and "db.internal.example" not in masked
