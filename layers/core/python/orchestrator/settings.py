"""Configuration, validated once at start-up (pydantic-settings; ORCHESTRATOR_* environment variables)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
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

    # control plane: queue, workers, schedules, events
    aws_region: str | None = Field(default=None, description="Region of the AWS clients; default: AWS_REGION.")
    task_queue_url: str | None = Field(default=None, description="SQS TaskQueue: executions to start.")
    high_priority_queue_url: str | None = Field(default=None, description="SQS queue for priority >= threshold.")
    high_priority_threshold: int = Field(default=8, description="This execution priority or higher is urgent.")
    workers: int = Field(default=10, ge=1, description="Threads of the local engine's worker pool.")
    queue_max_receive_count: int = Field(
        default=3, ge=1, description="Deliveries of a message before it is dead-lettered (SQS maxReceiveCount)."
    )
    schedule_tick_seconds: float = Field(default=5.0, gt=0, description="How often the local ticker looks.")
    misfire_grace_seconds: float = Field(
        default=300.0, ge=0, description="Missed schedule slots fire (once) if the latest is this recent."
    )
    schedule_group: str = Field(default="default", description="EventBridge Scheduler schedule group.")
    schedule_name_prefix: str = Field(default="orchestrator-", description="Prefix of schedule names.")
    schedule_target_arn: str | None = Field(default=None, description="What schedules invoke: TriggerFunction ARN.")
    schedule_role_arn: str | None = Field(default=None, description="Role EventBridge Scheduler assumes.")
    event_bus_name: str = Field(default="default", description="EventBridge bus of the orchestrator's events.")
    max_concurrent: int = Field(default=100, ge=1, description="Executions running at once, in all (seed 002).")
    max_concurrent_per_workflow: int | None = Field(default=None, ge=1, description="Per workflow; none: no limit.")
    workflow_state_machine: str = Field(default="WorkflowStateMachine",
                                        description="The workflow state machine: its ARN in the cloud.")
    reconcile_seconds: float = Field(default=30.0, gt=0, description="How often the reconciler looks.")
    queued_timeout_seconds: float = Field(default=60.0, gt=0,
                                          description="A queued execution older than this is announced again.")

    # local server
    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=1, le=65535)
    admin_api_key: str | None = Field(default=None, validation_alias=AliasChoices("ORCHESTRATOR_ADMIN_KEY", "admin_api_key"),
                                      description="ORCHESTRATOR_ADMIN_KEY; else one is generated on first start.")
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024, description="Larger request bodies get 413.")
    api_threads: int = Field(default=8, ge=1, description="Threads that run the API's blocking work (store calls).")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
