"""Configuration, validated once at start-up (pydantic-settings; ORCHESTRATOR_* environment variables)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
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
    # what schedules and event rules do when the TriggerFunction cannot take an event (it failed, throttled)
    trigger_dlq_arn: str | None = Field(
        default=None, description="SQS queue where schedules and event rules leave events they could not deliver.")
    trigger_retry_attempts: int = Field(
        default=10, ge=0, le=185, description="Retries of a failed delivery (then the event goes to the DLQ).")
    trigger_max_event_age_seconds: int = Field(
        default=3600, ge=60, le=86400, description="A delivery still failing this long after the event is dropped "
                                                   "to the DLQ: a nightly trigger does not fire hours late.")
    max_concurrent: int = Field(default=100, ge=1, description="Executions running at once, in all (seed 002).")
    max_concurrent_per_workflow: int | None = Field(default=None, ge=1, description="Per workflow; none: no limit.")
    steps_per_execution: int = Field(
        default=500, ge=10, le=2000,
        description="Steps one state machine execution runs itself; a bigger plan runs as child executions of at "
                    "most this many (one Standard execution holds at most 25,000 history events).")
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

    # --- configuration read from AWS at cold start (the deployed stack), never a plain environment variable.
    # An id is a Secrets Manager secret (ARN, or a name) or an SSM SecureString parameter (a name that starts
    # with "/", or a parameter ARN); composition/config_secrets.py resolves it.
    admin_key_secret_id: str | None = Field(
        default=None, description="Secret whose value is the admin API key (accepted as ORCHESTRATOR_ADMIN_KEY is); "
                                  "instead of ORCHESTRATOR_ADMIN_KEY.")
    mongodb_uri_secret_id: str | None = Field(
        default=None, description="Secret whose value is the MongoDB URI (or a JSON object with a 'uri' key); "
                                  "instead of ORCHESTRATOR_MONGODB_URI, which GetFunctionConfiguration would show.")
    config_secret_max_age_seconds: int = Field(
        default=300, ge=0, description="How long a warm process keeps those values before it reads them again "
                                       "(a rotated admin key is accepted, and the old one refused, within this).")

    @field_validator("admin_key_secret_id", "mongodb_uri_secret_id")
    @classmethod
    def _secret_id_is_well_formed(cls, secret_id: str | None, info: ValidationInfo) -> str | None:
        # Errors here are SettingsError, not ValueError: pydantic would print its input, the plain value of
        # ORCHESTRATOR_MONGODB_URI or ORCHESTRATOR_ADMIN_KEY among it.
        secret_id = (secret_id or "").strip()
        if not secret_id:  # unset, or set to "" (a template's "no secret" branch)
            return None
        field_name = str(info.field_name)
        variable = f"ORCHESTRATOR_{field_name.upper()}"
        plain_field, plain_variable = {"admin_key_secret_id": ("admin_api_key", "ORCHESTRATOR_ADMIN_KEY"),
                                       "mongodb_uri_secret_id": ("mongodb_uri", "ORCHESTRATOR_MONGODB_URI")}[field_name]
        if info.data.get(plain_field):
            raise SettingsError(f"{plain_variable} and {variable} are both set: set only one (in the cloud the "
                                f"secret id, so that the value is not readable in the function's configuration)")
        # the value itself (a URI, an ork_ key) where its id belongs: refused, and never echoed
        looks_like_the_value = "://" in secret_id or secret_id.startswith("ork_")
        if looks_like_the_value or secret_reference_kind(secret_id) is None:
            hint = (" It looks like the value itself: the variable takes the id of the secret that holds it."
                    if looks_like_the_value else "")
            raise SettingsError(
                f"{variable} is not a secret id: expected a Secrets Manager secret ARN "
                f"(arn:<partition>:secretsmanager:<region>:<account>:secret:<name>) or name, or an SSM parameter name "
                f"starting with '/' or parameter ARN (arn:<partition>:ssm:<region>:<account>:parameter/<name>).{hint}")
        return secret_id


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


class SettingsError(Exception):
    """A configuration error whose message is safe to print. Deliberately not a ValueError: pydantic would
    wrap that in a ValidationError that shows the input values, secrets among them."""


_SECRETSMANAGER_ARN = r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}"
_SSM_PARAMETER_ARN = r"arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9/_.-]{1,2048}"
_SSM_PARAMETER_NAME = r"/[A-Za-z0-9/_.-]{1,2047}"
_SECRETSMANAGER_NAME = r"[A-Za-z0-9_+=.@-][A-Za-z0-9/_+=.@-]{0,511}"


def secret_reference_kind(secret_id: str) -> Literal["secretsmanager", "ssm"] | None:
    """Which service an id names (``ORCHESTRATOR_*_SECRET_ID``), or None if it is malformed."""
    import re

    if re.fullmatch(_SECRETSMANAGER_ARN, secret_id):
        return "secretsmanager"
    if re.fullmatch(_SSM_PARAMETER_ARN, secret_id) or re.fullmatch(_SSM_PARAMETER_NAME, secret_id):
        return "ssm"
    if not secret_id.startswith("arn:") and re.fullmatch(_SECRETSMANAGER_NAME, secret_id):
        return "secretsmanager"
    return None
