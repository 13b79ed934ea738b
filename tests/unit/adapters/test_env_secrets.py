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
    env_file.write_text('S_API_TOKEN="from-file"\nS_ONLY_IN_FILE=file-value\n# comment\nS_EMPTY_KEY\n')
    secrets = EnvSecrets(prefix="S_", env_file=env_file, environ={"S_API_TOKEN": "from-env"})
    # When read / Then the environment wins; the file fills the gaps
    assert secrets.get("API_TOKEN") == "from-env"
    assert secrets.get("only_in_file") == "file-value"
    with pytest.raises(SecretNotFound):
        secrets.get("EMPTY_KEY")


def test_dotenv_values_are_not_exported_to_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Given a .env secret / When read / Then it did not land in os.environ (children would inherit it)
    import os

    monkeypatch.delenv("S_DOTENV_ONLY_SECRET", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("S_DOTENV_ONLY_SECRET=v4lue\n")
    assert EnvSecrets(prefix="S_", env_file=env_file).get("DOTENV_ONLY_SECRET") == "v4lue"
    assert "S_DOTENV_ONLY_SECRET" not in os.environ


def test_missing_secret_names_where_it_was_looked_for(tmp_path: Path):
    # Given nothing set / When read / Then SecretNotFound names the variables, and it is a KeyError
    secrets = EnvSecrets(prefix="P_", env_file=tmp_path / "absent.env", environ={})
    with pytest.raises(KeyError) as caught:
        secrets.get("api_token")
    assert isinstance(caught.value, SecretNotFound)
    assert "P_api_token" in str(caught.value) and "P_API_TOKEN" in str(caught.value)


def test_without_a_prefix_nothing_is_read():
    # Given no prefix / When the adapter is made / Then it refuses: every server variable would be a secret
    with pytest.raises(ValueError, match="prefix"):
        EnvSecrets(prefix="", env_file=None, environ={"ORCHESTRATOR_ADMIN_KEY": "ork_admin"})


def test_server_settings_and_unprefixed_variables_are_unreachable(tmp_path: Path):
    # Given the server's own variables beside a prefixed secret
    env = {"ORCHESTRATOR_ADMIN_KEY": "ork_admin", "AWS_SECRET_ACCESS_KEY": "aws", "HOME_TOKEN": "unprefixed",
           "ORCHESTRATOR_SECRET_ORCHESTRATOR_ADMIN_KEY": "shadow", "ORCHESTRATOR_SECRET_token": "shared"}
    secrets = EnvSecrets(prefix="ORCHESTRATOR_SECRET_", env_file=tmp_path / "absent.env", environ=env)
    # When a workflow asks for them / Then only the prefixed secret answers; reserved names are refused by name
    assert secrets.get("token") == "shared"
    for name in ("ORCHESTRATOR_ADMIN_KEY", "orchestrator_admin_key", "AWS_SECRET_ACCESS_KEY"):
        with pytest.raises(SecretNotFound, match="reserved"):
            secrets.get(name)
    with pytest.raises(SecretNotFound):
        secrets.get("HOME_TOKEN")
