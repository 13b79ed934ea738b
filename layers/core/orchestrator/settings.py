"""Configuration, validated once at start-up (pydantic-settings; ORCHESTRATOR_* environment variables)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORCHESTRATOR_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path(".orchestrator"), description="Where the local engine keeps its SQLite store.")
    engine: Literal["local", "aws"] = "local"
    store: Literal["memory", "sqlite", "mongo"] = "sqlite"
    mongodb_uri: str | None = None
    secrets_backend: Literal["store", "env", "ssm", "secretsmanager"] = Field(
        default="store", description="store: owners' secrets encrypted in the store (env: its old name); "
                                     "ssm / secretsmanager: under <secrets_path_prefix>owners/<owner>/.")
    secrets_env_prefix: str = Field(
        default="ORCHESTRATOR_SECRET_", min_length=1,
        description="Mandatory prefix of environment variables that hold secrets ({{secrets.x}} never reads "
                    "a server setting such as ORCHESTRATOR_* or AWS_*).")
    secrets_key: SecretStr | None = Field(
        default=None, description="Fernet key that encrypts owners' secrets at rest; else <home>/secrets.key (0600).")
    secrets_path_prefix: str = Field(default="", description="SSM / Secrets Manager name prefix, e.g. /orchestrator/prod/.")
    secrets_max_age_seconds: int = Field(default=300, ge=0, description="How long a fetched secret is cached.")
    blob_threshold_bytes: int = 200 * 1024
    blob_bucket: str | None = Field(default=None, description="S3 bucket for large step outputs (cloud); else the store.")
    egress_allow: list[str] = Field(default_factory=list, description="If set, only these hosts/CIDRs are reachable.")
    egress_deny_metadata: bool = True
    egress_allow_private: bool = Field(
        default=False,
        description="Let steps reach loopback, private and other non-public addresses (single-user runs).")

    # scripts: the sandbox and its limits (defaults per step; a step may ask for more up to the maxima)
    script_sandbox: Literal["auto", "bwrap", "none"] = Field(
        default="auto", description="auto: bubblewrap where found; none: scripts run unsandboxed (admins only).")
    script_network: bool = Field(default=False, description="Whether a script step may ask for network at all.")
    script_memory_mb: int = Field(default=512, ge=16)
    script_max_memory_mb: int = Field(default=4096, ge=16)
    script_cpu_seconds: int = Field(default=300, ge=1)
    script_max_cpu_seconds: int = Field(default=3600, ge=1)
    # memory and CPU are per process: processes x memory is what one script may take in all (16 x 512 MB)
    script_processes: int = Field(default=16, ge=1)
    script_max_processes: int = Field(default=512, ge=1)
    script_runner_function: str | None = Field(
        default=None, description="Cloud: the ScriptRunner Lambda (name or ARN) that runs script steps, in a "
                                  "function whose role has no permissions and whose environment holds no secret.")
    script_file_size_mb: int = Field(default=64, ge=1)
    script_max_file_size_mb: int = Field(default=1024, ge=1)

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
    max_concurrent_per_owner: int | None = Field(
        default=None, ge=1, description="Per owner (tenant); none: no limit. Set it on a shared server: one owner "
                                        "then cannot take every slot from the others.")
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
    max_json_depth: int = Field(default=64, ge=2, le=1000, description="Deeper JSON request bodies get 400.")
    api_threads: int = Field(default=8, ge=1, description="Threads that run the API's blocking work (store calls).")


    @field_validator("secrets_env_prefix")
    @classmethod
    def _prefix_reaches_no_setting(cls, prefix: str) -> str:
        # every variable that starts with the prefix is a secret any workflow may read
        upper = prefix.upper()
        settings_names = [f"ORCHESTRATOR_{name.upper()}" for name in cls.model_fields] + ["ORCHESTRATOR_ADMIN_KEY"]
        reached = [name for name in settings_names if name.startswith(upper)]
        if reached or "AWS_".startswith(upper) or upper.startswith("AWS_") or "ORCHESTRATOR_".startswith(upper):
            raise ValueError(f"{prefix!r} would make server settings readable as secrets "
                             f"({', '.join(reached[:3]) or 'AWS_* or ORCHESTRATOR_*'}); use e.g. ORCHESTRATOR_SECRET_")
        return prefix


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
