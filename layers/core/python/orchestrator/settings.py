"""Configuration, validated once at start-up (pydantic-settings; ORCHESTRATOR_* environment variables)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORCHESTRATOR_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path(".orchestrator"), description="Where the local engine keeps its SQLite store.")
    engine: Literal["local", "aws"] = "local"
    store: Literal["memory", "sqlite", "mongo"] = "sqlite"
    mongodb_uri: str | None = None
    secrets_backend: Literal["env", "ssm", "secretsmanager"] = "env"
    secrets_env_prefix: str = Field(default="", description="Prefix of environment variables that hold secrets.")
    secrets_path_prefix: str = Field(default="", description="SSM / Secrets Manager name prefix, e.g. /orchestrator/prod/.")
    secrets_max_age_seconds: int = Field(default=300, ge=0, description="How long a fetched secret is cached.")
    blob_threshold_bytes: int = 200 * 1024
    blob_bucket: str | None = Field(default=None, description="S3 bucket for large step outputs (cloud); else the store.")
    egress_allow: list[str] = Field(default_factory=list, description="If set, only these hosts/CIDRs are reachable.")
    egress_deny_metadata: bool = True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
