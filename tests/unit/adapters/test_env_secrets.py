"""Secrets from environment variables and a .env file."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.local.env_secrets import EnvSecrets
from orchestrator.ports.secrets import SecretNotFound


def test_exact_then_upper_case_name_with_prefix():
    # Given a prefixed environment / When secrets are read / Then exact names win, upper-cased ones follow
    env = {"ORCH_SECRET_api_token": "exact", "ORCH_SECRET_DB_PASSWORD": "upper", "DB_PASSWORD": "unprefixed"}
    secrets = EnvSecrets(prefix="ORCH_SECRET_", env_file=None, environ=env)
    assert secrets.get("api_token") == "exact"
    assert secrets.get("db-password") == "upper"  # '-' cannot be in a variable name: becomes '_'


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path):
    # Given a .env file and an environment that share a name
    env_file = tmp_path / ".env"
    env_file.write_text('API_TOKEN="from-file"\nONLY_IN_FILE=file-value\n# comment\nEMPTY_KEY\n')
    secrets = EnvSecrets(env_file=env_file, environ={"API_TOKEN": "from-env"})
    # When read / Then the environment wins; the file fills the gaps
    assert secrets.get("API_TOKEN") == "from-env"
    assert secrets.get("only_in_file") == "file-value"
    with pytest.raises(SecretNotFound):
        secrets.get("EMPTY_KEY")


def test_dotenv_values_are_not_exported_to_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Given a .env secret / When read / Then it did not land in os.environ (children would inherit it)
    import os

    monkeypatch.delenv("DOTENV_ONLY_SECRET", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("DOTENV_ONLY_SECRET=v4lue\n")
    assert EnvSecrets(env_file=env_file).get("DOTENV_ONLY_SECRET") == "v4lue"
    assert "DOTENV_ONLY_SECRET" not in os.environ


def test_missing_secret_names_where_it_was_looked_for(tmp_path: Path):
    # Given nothing set / When read / Then SecretNotFound names the variables, and it is a KeyError
    secrets = EnvSecrets(prefix="P_", env_file=tmp_path / "absent.env", environ={})
    with pytest.raises(KeyError) as caught:
        secrets.get("api_token")
    assert isinstance(caught.value, SecretNotFound)
    assert "P_api_token" in str(caught.value) and "P_API_TOKEN" in str(caught.value)
