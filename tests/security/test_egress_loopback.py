"""Issue 7, egress: with the server's default settings a step cannot reach this machine or its private
network, however the address is spelled and whichever hop of a redirect chain points there.

Each refusal is shown against a real listener that counts accepted connections: it must see none. The
same spellings reach the listener when non-public addresses are allowed (the single-user run), so a
refusal here is the policy's doing, not an unroutable address.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.settings import Settings
from orchestrator.steps.base import StepContext, StepError
from orchestrator.steps.egress import EgressDenied, EgressPolicy
from orchestrator.steps.egress_transport import GuardedTransport
from orchestrator.steps.email import EmailConfig, EmailExecutor
from orchestrator.steps.http import HttpConfig, HttpExecutor
from orchestrator.steps.http_client import close_shared_clients
from orchestrator.steps.llm import LlmConfig, LlmExecutor
from orchestrator.steps.webhook import WebhookConfig, WebhookExecutor
from support.counting_listener import CountingListener
from support.local_http import LocalHttpServer, Reply

PROJECT = Path(__file__).resolve().parents[2]

#: every spelling of this machine an attacker tried, as the host part of a URL
LOOPBACK_SPELLINGS = [
    "0", "0.0.0.0", "127.0.0.1", "127.1", "127.0.0.1.", "2130706433", "0x7f000001", "017700000001",
    "[::1]", "[::ffff:127.0.0.1]", "localhost", "localhost.", "LOCALHOST",
]
#: the ones this machine's resolver and socket layer really connect with (localhost. does not resolve here)
REACHABLE_SPELLINGS = [s for s in LOOPBACK_SPELLINGS if s != "localhost."]

#: names a fake DNS answers with loopback (patched getaddrinfo, so the real resolution path is used)
FAKE_DNS = {"loopback.evil.test": "127.0.0.1", "public.test": "127.0.0.1", "private.evil.test": "10.9.8.7"}


def server_settings() -> Settings:
    """The settings of `orchestrator serve` and the cloud, unaffected by this machine's environment."""
    return Settings(_env_file=None, egress_allow=[], egress_deny_metadata=True, egress_allow_private=False)


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.lower().rstrip(".") in FAKE_DNS:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (FAKE_DNS[host.lower().rstrip(".")], int(port)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    close_shared_clients()  # no pooled connection outlives a test


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    server = CountingListener().start()
    yield server
    server.stop()


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every outbound connection attempt made through socket.create_connection (httpcore's and smtplib's)."""
    attempts: list[Any] = []
    real = socket.create_connection

    def record(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", record)
    return attempts


def http_step(url: str, settings: Settings) -> Any:
    config = HttpConfig.model_validate({"url": url, "timeout": 5})
    return HttpExecutor(settings).execute(config, {}, StepContext("exec-1", "call")).output


def webhook_step(url: str, settings: Settings) -> Any:
    config = WebhookConfig.model_validate({"url": url, "secret": "k3y-value-for-signing", "payload": {"a": 1},
                                           "timeout": 5})
    return WebhookExecutor(settings).execute(config, {}, StepContext("exec-1", "notify")).output


STEPS = {"http": http_step, "webhook": webhook_step}


def refused(step: str, url: str, settings: Settings) -> StepError:
    with pytest.raises(StepError) as caught:
        STEPS[step](url, settings)
    assert caught.value.error == "Egress.Denied" and caught.value.retryable is False
    return caught.value


@pytest.mark.parametrize("step", sorted(STEPS))
@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_refused_with_server_settings(step: str, host: str, listener: CountingListener):
    # Given the server's default settings and a real listener on this machine's loopback
    url = f"http://{host}:{listener.port}/api/v1/api-keys"
    # When an http or webhook step targets it under any spelling
    error = refused(step, url, server_settings())
    # Then Egress.Denied names the host and why, and the listener saw no connection at all
    assert host.strip("[]").lower() in error.cause.lower()
    assert "loopback" in error.cause or "unspecified" in error.cause
    assert listener.connections == 0
    # And nothing but the host and the reason is told (no path, no port of another service)
    assert "/api/v1" not in error.cause


@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_dns_name_resolving_to_loopback_is_refused(step: str, listener: CountingListener):
    # Given a DNS name whose answer is 127.0.0.1
    url = f"http://loopback.evil.test:{listener.port}/"
    # When a step targets it with the server's settings
    error = refused(step, url, server_settings())
    # Then it is refused after resolution, without telling the address, and no connection was made
    assert "loopback.evil.test" in error.cause and "resolves to a loopback address" in error.cause
    assert "127.0.0.1" not in error.cause
    assert listener.connections == 0


@pytest.mark.parametrize("host", REACHABLE_SPELLINGS)
def test_the_same_spellings_do_reach_the_listener_when_private_addresses_are_allowed(host: str,
                                                                                    listener: CountingListener):
    # Given non-public addresses allowed (the single-user run)
    settings = Settings(_env_file=None, egress_allow_private=True)
    # When the http step targets the listener under that spelling / Then it connects and gets the answer
    assert http_step(f"http://{host}:{listener.port}/", settings)["body"] == "reached"
    assert listener.connections == 1


@pytest.mark.parametrize("host", ["10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1", "[fd00::1]",
                                  "[::ffff:10.0.0.1]", "224.0.0.1", "255.255.255.255", "private.evil.test"])
@pytest.mark.parametrize("step", sorted(STEPS))
def test_private_and_special_ranges_are_refused_before_any_connect(step: str, host: str, connects: list[Any]):
    # Given the server's settings / When a step targets a private, shared, multicast or broadcast address
    error = refused(step, f"http://{host}:8080/internal", server_settings())
    # Then it is refused naming the host, and no connection was even attempted
    assert host.strip("[]") in error.cause
    assert connects == []


def test_explicit_allow_entries_let_loopback_through(listener: CountingListener):
    # Given allow entries naming the address, a network holding it, or the name
    for entry, host in (("127.0.0.1", "127.0.0.1"), ("127.0.0.0/8", "127.1"), ("localhost", "localhost")):
        settings = Settings(_env_file=None, egress_allow=[entry], egress_allow_private=False)
        # When a step targets the listener / Then it is reached
        assert http_step(f"http://{host}:{listener.port}/", settings)["body"] == "reached"
    assert listener.connections == 3
    # And an allow entry for another host leaves loopback refused
    refused("http", f"http://127.0.0.1:{listener.port}/", Settings(_env_file=None, egress_allow=["api.example.com"]))
    assert listener.connections == 3


@pytest.mark.parametrize("target", ["127.0.0.1", "2130706433", "localhost", "[::1]", "0"])
def test_redirect_from_an_allowed_host_to_loopback_is_refused_at_that_hop(target: str, listener: CountingListener):
    # Given public.test, allowed by name (its fake DNS answer is a 127.x server), which redirects to loopback
    origin = LocalHttpServer().start()
    try:
        origin.route("GET", "/start", Reply(302, headers={"Location": f"http://{target}:{listener.port}/api/v1/api-keys"}))
        transport = GuardedTransport(EgressPolicy(allow=("public.test",)),
                                     resolver=lambda host, port: ["127.0.0.1"] if host == "public.test" else
                                     [a[4][0] for a in socket.getaddrinfo(host, port)])
        # When the redirect is followed
        with httpx.Client(transport=transport, follow_redirects=True) as client, pytest.raises(EgressDenied) as caught:
            client.get(f"http://public.test:{origin.port}/start")
        # Then the first hop went out, the redirect hop was refused and the listener saw nothing
        assert len(origin.requests_to("/start")) == 1
        assert target.strip("[]") in caught.value.cause
        assert listener.connections == 0
    finally:
        origin.stop()


def test_redirect_to_loopback_is_refused_in_the_http_step_too(listener: CountingListener):
    # Given public.test allowed by name (DNS: 127.0.0.1, where a server redirects to the listener's 127.1)
    origin = LocalHttpServer().start()
    try:
        origin.route("GET", "/start", Reply(302, headers={"Location": f"http://127.1:{listener.port}/"}))
        settings = Settings(_env_file=None, egress_allow=["public.test"])
        # When the http step follows the redirect
        error = refused("http", f"http://public.test:{origin.port}/start", settings)
        # Then the redirect hop is refused, and the listener saw nothing
        assert "127.1" in error.cause and len(origin.requests_to("/start")) == 1
        assert listener.connections == 0
    finally:
        origin.stop()


def test_llm_step_cannot_reach_loopback(listener: CountingListener):
    # Given an llm step whose base_url is this machine (the server's own port, say)
    config = LlmConfig.model_validate({"base_url": f"http://127.0.0.1:{listener.port}/v1", "model": "m",
                                       "prompt": "hi", "max_retries": 0, "timeout": 5})
    # When it runs with the server's settings / Then Egress.Denied, and no connection was made
    with pytest.raises(StepError) as caught:
        LlmExecutor(server_settings()).execute(config, {}, StepContext("exec-1", "ask"))
    assert caught.value.error == "Egress.Denied" and listener.connections == 0


def test_email_step_cannot_reach_a_loopback_smtp_server(listener: CountingListener):
    # Given an email step aimed at an SMTP port on this machine
    config = EmailConfig.model_validate({"host": "0x7f000001", "port": listener.port, "security": "none",
                                         "from": "bot@example.com", "to": "a@example.com", "subject": "s",
                                         "body": "b", "timeout": 5})
    # When it runs with the server's settings / Then Egress.Denied, and no connection was made
    with pytest.raises(StepError) as caught:
        EmailExecutor(server_settings()).execute(config, {}, StepContext("exec-1", "mail"))
    assert caught.value.error == "Egress.Denied" and listener.connections == 0


def _run_cli(workflow: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_EGRESS")}
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", "run", str(workflow), "--json"], cwd=PROJECT,
                          capture_output=True, text=True, timeout=120,
                          env={**clean, "ORCHESTRATOR_HOME": str(workflow.parent / "home"), **env})


def test_orchestrator_run_allows_loopback_unless_told_otherwise(tmp_path: Path, local_http: LocalHttpServer):
    # Given a workflow whose http step calls a server on this machine
    local_http.route("GET", "/local", Reply(200, json_body={"ok": True}))
    workflow = tmp_path / "local.yaml"
    workflow.write_text(textwrap.dedent(f"""\
        version: "1.0"
        name: local-call
        steps:
          - id: call
            type: http
            config:
              url: {local_http.url("/local")}
        """))
    # When the user runs it with `orchestrator run` (single user, their own machine)
    allowed = _run_cli(workflow, {})
    # Then the step reached it
    assert allowed.returncode == 0, allowed.stderr
    assert len(local_http.requests_to("/local")) == 1
    # When ORCHESTRATOR_EGRESS_ALLOW_PRIVATE=false is set explicitly
    denied = _run_cli(workflow, {"ORCHESTRATOR_EGRESS_ALLOW_PRIVATE": "false"})
    # Then the explicit choice wins: the step is refused, and no request was made
    assert denied.returncode == 1 and "Egress.Denied" in denied.stderr
    assert len(local_http.requests_to("/local")) == 1
