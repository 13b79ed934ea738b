"""Endpoints the operator configured (the SMTP relay, the default LLM endpoint) stay reachable under the
server's egress policy even on loopback, and only for the connection that uses them as configured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.settings import Settings
from orchestrator.steps.base import StepContext, StepError
from orchestrator.steps.email import EmailConfig, EmailExecutor
from orchestrator.steps.llm import LlmConfig, LlmExecutor
from support.fake_openai import FakeOpenAI, answer
from support.smtp_server import SmtpServer

SERVER = Settings()  # the server default: non-public addresses refused
MESSAGE = {"from": "bot@example.com", "to": "ops@example.com", "subject": "s", "body": "b"}


@pytest.fixture
def relay(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    monkeypatch.setenv("ORCHESTRATOR_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ORCHESTRATOR_SMTP_PORT", str(server.port))
    monkeypatch.setenv("ORCHESTRATOR_SMTP_SECURITY", "none")
    try:
        yield server
    finally:
        server.stop()


def context() -> StepContext:
    return StepContext(execution_id="e", step_id="s", owner_id="mallory", trusted=False)


def test_the_operators_relay_on_loopback_is_reachable(relay: SmtpServer):
    # Given the server's egress policy and the relay on 127.0.0.1 / When a tenant's step sends through it
    EmailExecutor(SERVER).execute(EmailConfig.model_validate(MESSAGE), {}, context())
    # Then the relay got the message
    assert len(relay.messages) == 1


def test_a_tenants_own_loopback_host_is_still_refused(relay: SmtpServer):
    # Given the same relay / When a tenant names it as its own host
    config = EmailConfig.model_validate({**MESSAGE, "host": "127.0.0.1", "port": relay.port, "security": "none"})
    with pytest.raises(StepError) as refused:
        EmailExecutor(SERVER).execute(config, {}, context())
    # Then the egress policy refuses it: only the relay as configured is the operator's
    assert refused.value.error == "Egress.Denied"
    assert relay.messages == []


def test_the_operators_default_llm_endpoint_on_loopback_is_reachable(monkeypatch: pytest.MonkeyPatch):
    fake = FakeOpenAI().start()
    try:
        fake.script(answer("hello"))
        # Given the operator's model server on loopback as the default endpoint
        monkeypatch.setenv("ORCHESTRATOR_LLM_BASE_URL", fake.base_url)
        config = LlmConfig.model_validate({"model": "m", "prompt": "hi", "api_key": "k-tenant-key"})
        # When a tenant's llm step names no base_url / Then it reaches it
        result = LlmExecutor(settings=SERVER).execute(config, {}, context())
        assert result.output["content"] == "hello"
        # And naming the same loopback address itself is refused
        own = LlmConfig.model_validate({"model": "m", "prompt": "hi", "base_url": fake.base_url})
        with pytest.raises(StepError) as refused:
            LlmExecutor(settings=SERVER).execute(own, {}, context())
        assert refused.value.error == "Egress.Denied"
    finally:
        fake.stop()


def test_a_tenant_cannot_point_ca_file_at_the_servers_files(tmp_path):
    # Given a file of the server's (its secrets key, say) / When a tenant's email step names it as ca_file
    secret_file = tmp_path / "secrets.key"
    secret_file.write_text("not a certificate")
    config = EmailConfig.model_validate({**MESSAGE, "host": "smtp.example.com", "security": "tls",
                                         "ca_file": str(secret_file)})
    with pytest.raises(StepError) as refused:
        EmailExecutor(SERVER).execute(config, {}, context())
    # Then it is refused before any file is opened or any host is contacted, the same for any path
    assert refused.value.error == "Email.Forbidden"
    config.ca_file = str(tmp_path / "missing")
    with pytest.raises(StepError) as missing:
        EmailExecutor(SERVER).execute(config, {}, context())
    assert missing.value.cause == refused.value.cause


@pytest.mark.parametrize("own", [{"port": 2626}, {"security": "tls"}, {"verify": False}])
def test_a_step_through_the_relay_cannot_choose_how_the_relay_is_reached(relay: SmtpServer, own: dict):
    # Given the operator's relay with credentials / When a tenant's step (no host) sets the port, TLS or checks
    config = EmailConfig.model_validate({**MESSAGE, **own})
    with pytest.raises(StepError) as refused:
        EmailExecutor(SERVER).execute(config, {}, context())
    # Then it is refused: the relay's credentials would follow a port and a security the tenant chose
    assert refused.value.error == "Email.InvalidConfig" and "relay" in refused.value.cause
    assert relay.messages == []
