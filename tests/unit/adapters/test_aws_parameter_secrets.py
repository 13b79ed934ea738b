"""Secrets from SSM Parameter Store and Secrets Manager, with moto standing in for AWS."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from orchestrator.adapters.aws.parameter_secrets import (
    ParameterStoreSecrets,
    SecretsBackendError,
    SecretsManagerSecrets,
)
from orchestrator.ports.secrets import SecretNotFound

REGION = "eu-west-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def test_ssm_secure_string_is_decrypted_with_prefix(aws):
    # Given a SecureString parameter under a prefix
    boto3.client("ssm").put_parameter(Name="/orchestrator/prod/api_token", Value="s3cure", Type="SecureString")
    # When read through the adapter / Then the decrypted value comes back
    assert ParameterStoreSecrets(prefix="/orchestrator/prod/").get("api_token") == "s3cure"


def test_ssm_values_are_cached_for_max_age(aws):
    # Given a parameter read once
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="token", Value="first", Type="SecureString")
    secrets = ParameterStoreSecrets(max_age=300)
    assert secrets.get("token") == "first"
    # When it changes in AWS / Then the cached value is served until max_age passes
    ssm.put_parameter(Name="token", Value="second", Type="SecureString", Overwrite=True)
    assert secrets.get("token") == "first"
    # And an adapter without caching sees the new value
    assert ParameterStoreSecrets(max_age=0).get("token") == "second"


def test_ssm_missing_parameter_is_secret_not_found(aws):
    with pytest.raises(SecretNotFound, match="/app/missing"):
        ParameterStoreSecrets(prefix="/app/").get("missing")


def test_secrets_manager_string_and_binary(aws):
    # Given a string secret and a binary one
    sm = boto3.client("secretsmanager")
    sm.create_secret(Name="prod/db_password", SecretString="pa55-word")
    sm.create_secret(Name="prod/cert", SecretBinary=b"binary-value")
    secrets = SecretsManagerSecrets(prefix="prod/")
    # When read / Then both come back as text
    assert secrets.get("db_password") == "pa55-word"
    assert secrets.get("cert") == "binary-value"


def test_secrets_manager_missing_secret_is_secret_not_found(aws):
    with pytest.raises(SecretNotFound, match="nope"):
        SecretsManagerSecrets().get("nope")


def test_other_backend_failures_are_backend_errors_without_values(aws):
    # Given a provider whose client is denied access
    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from botocore.exceptions import ClientError

    class DeniedClient:
        def get_parameter(self, **kwargs):
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetParameter")

    secrets = ParameterStoreSecrets(provider=SSMProvider(boto3_client=DeniedClient()))
    # When read / Then SecretsBackendError naming the secret and the AWS error code
    with pytest.raises(SecretsBackendError, match="AccessDeniedException") as caught:
        secrets.get("api_token")
    assert "api_token" in str(caught.value)
