"""Owners' secrets in AWS: SSM Parameter Store (SecureString) or Secrets Manager, one path per owner.

``{{secrets.api_token}}`` in an execution of owner ``alice`` with ``prefix="/orchestrator/prod/"`` reads
``/orchestrator/prod/owners/alice/api_token``. Owner ids are encoded so that no owner id can spell a
path of another owner: letters, digits and ``-`` stay, every other byte becomes ``_`` and two hex digits
(``team.a`` -> ``team_2ea``). IAM policies can then grant a function exactly ``<prefix>owners/*``.

Reads go through the cached readers of ``parameter_secrets`` (a warm Lambda resolves a secret once per
``max_age``); a write or delete in this process drops that cache, other processes see it within max_age.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import LazyClient, error_code, error_message
from orchestrator.adapters.aws.parameter_secrets import (
    DEFAULT_MAX_AGE_SECONDS,
    ParameterStoreSecrets,
    SecretsManagerSecrets,
    _ProviderSecrets,
)
from orchestrator.domain.records import utcnow
from orchestrator.ports.secrets import SecretInfo, SecretNotFound, SecretsBackendError

_KEPT = re.compile(r"[A-Za-z0-9-]")


def encode_owner(owner_id: str) -> str:
    return "".join(char if _KEPT.fullmatch(char) else "".join(f"_{byte:02x}" for byte in char.encode("utf-8"))
                   for char in owner_id)


def owner_prefix(prefix: str, owner_id: str) -> str:
    return f"{prefix}owners/{encode_owner(owner_id)}/"


class _AwsVault:
    service = ""

    def __init__(self, reader: _ProviderSecrets, prefix: str, client: LazyClient) -> None:
        self._reader = reader
        self.prefix = prefix
        self._client = client

    def _name(self, owner_id: str, name: str) -> str:
        return owner_prefix(self.prefix, owner_id) + name

    def get_secret(self, owner_id: str, name: str) -> str | None:
        try:
            return self._reader.get(self._name(owner_id, name))
        except SecretNotFound:
            return None

    def _failed(self, what: str, name: str, error: ClientError) -> SecretsBackendError:
        return SecretsBackendError(f"cannot {what} secret {name!r} ({self.service}): {error_message(error)}")


class ParameterStoreVault(_AwsVault):
    service = "SSM Parameter Store"

    def __init__(self, prefix: str = "", max_age: int = DEFAULT_MAX_AGE_SECONDS, region: str | None = None,
                 client: Any = None) -> None:
        super().__init__(ParameterStoreSecrets(max_age=max_age), prefix, LazyClient("ssm", region=region, client=client))

    def put_secret(self, owner_id: str, name: str, value: str) -> SecretInfo:
        full_name = self._name(owner_id, name)
        try:
            self._client.get().put_parameter(Name=full_name, Value=value, Type="SecureString", Overwrite=True)
            found = self._client.get().describe_parameters(
                ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [full_name]}])["Parameters"]
        except ClientError as error:
            raise self._failed("store", name, error) from None
        self._reader.forget_cached()
        modified = found[0]["LastModifiedDate"] if found else utcnow()
        # SSM keeps only the last change: created_at is that too
        return SecretInfo(name=name, created_at=modified, updated_at=modified)

    def list_secrets(self, owner_id: str) -> list[SecretInfo]:
        path = owner_prefix(self.prefix, owner_id)
        infos: list[SecretInfo] = []
        try:
            pages = self._client.get().get_paginator("describe_parameters").paginate(
                ParameterFilters=[{"Key": "Path", "Option": "OneLevel", "Values": [path.rstrip("/")]}])
            for page in pages:
                for parameter in page["Parameters"]:
                    modified = parameter["LastModifiedDate"]
                    infos.append(SecretInfo(name=parameter["Name"][len(path):], created_at=modified, updated_at=modified))
        except ClientError as error:
            raise self._failed("list", "*", error) from None
        return sorted(infos, key=lambda info: info.name)

    def delete_secret(self, owner_id: str, name: str) -> bool:
        try:
            self._client.get().delete_parameter(Name=self._name(owner_id, name))
        except ClientError as error:
            if error_code(error) == "ParameterNotFound":
                return False
            raise self._failed("delete", name, error) from None
        self._reader.forget_cached()
        return True


class SecretsManagerVault(_AwsVault):
    service = "Secrets Manager"

    def __init__(self, prefix: str = "", max_age: int = DEFAULT_MAX_AGE_SECONDS, region: str | None = None,
                 client: Any = None) -> None:
        super().__init__(SecretsManagerSecrets(max_age=max_age), prefix,
                         LazyClient("secretsmanager", region=region, client=client))

    def put_secret(self, owner_id: str, name: str, value: str) -> SecretInfo:
        full_name = self._name(owner_id, name)
        client = self._client.get()
        try:
            try:
                client.put_secret_value(SecretId=full_name, SecretString=value)
            except ClientError as error:
                if error_code(error) != "ResourceNotFoundException":
                    raise
                client.create_secret(Name=full_name, SecretString=value)
            described = client.describe_secret(SecretId=full_name)
        except ClientError as error:
            raise self._failed("store", name, error) from None
        self._reader.forget_cached()
        created = described.get("CreatedDate") or utcnow()
        return SecretInfo(name=name, created_at=created, updated_at=described.get("LastChangedDate") or created)

    def list_secrets(self, owner_id: str) -> list[SecretInfo]:
        path = owner_prefix(self.prefix, owner_id)
        infos: list[SecretInfo] = []
        try:
            pages = self._client.get().get_paginator("list_secrets").paginate(
                Filters=[{"Key": "name", "Values": [path]}])
            for page in pages:
                for secret in page["SecretList"]:
                    name = secret["Name"]
                    # the name filter matches prefixes; a deeper path is not this owner's flat namespace
                    if not name.startswith(path) or "/" in name[len(path):]:
                        continue
                    created = secret.get("CreatedDate") or utcnow()
                    infos.append(SecretInfo(name=name[len(path):], created_at=created,
                                            updated_at=secret.get("LastChangedDate") or created))
        except ClientError as error:
            raise self._failed("list", "*", error) from None
        return sorted(infos, key=lambda info: info.name)

    def delete_secret(self, owner_id: str, name: str) -> bool:
        full_name = self._name(owner_id, name)
        try:
            # a forced delete of a secret that does not exist succeeds: ask first, to answer "not found"
            self._client.get().describe_secret(SecretId=full_name)
            self._client.get().delete_secret(SecretId=full_name, ForceDeleteWithoutRecovery=True)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return False
            raise self._failed("delete", name, error) from None
        self._reader.forget_cached()
        return True
