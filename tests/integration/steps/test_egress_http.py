"""Egress policy on real requests: direct, through redirects, with an allow list, against rebinding.

A guard fixture makes any connection attempt to a non-loopback address fail the test, so a regression
in the policy can never send a packet off this machine.
"""

from __future__ import annotations

import ipaddress
import socket

import httpx
import pytest

from orchestrator.settings import Settings
from orchestrator.steps.base import StepContext, StepError
from orchestrator.steps.egress import EgressPolicy
from orchestrator.steps.egress_transport import GuardedTransport
from orchestrator.steps.http import HttpConfig, HttpExecutor
from orchestrator.steps.webhook import WebhookConfig, WebhookExecutor
from support.local_http import LocalHttpServer, Reply
from support.tls import self_signed


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise AssertionError(f"test tried to connect to {address[0]}: the egress policy let it through")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


def http(config: dict, settings: Settings | None = None):
    return HttpExecutor(settings or Settings()).execute(HttpConfig.model_validate(config), {}, StepContext("e", "s"))


def denied(config: dict, settings: Settings | None = None) -> StepError:
    with pytest.raises(StepError) as caught:
        http(config, settings)
    assert caught.value.error == "Egress.Denied" and caught.value.retryable is False
    return caught.value


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://2852039166/latest/meta-data/",
    ],
)
def test_metadata_service_is_refused(url: str):
    # Given the default settings / When a step targets the metadata service / Then Egress.Denied naming it
    error = denied({"url": url})
    assert "refused" in error.cause


def test_redirect_to_metadata_is_refused_at_that_hop(local_http: LocalHttpServer):
    # Given an allowed server that redirects to the metadata service
    local_http.route("GET", "/innocent", Reply(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}))
    # When the step follows redirects (loopback allowed, as in a single-user run)
    error = denied({"url": local_http.url("/innocent")}, Settings(egress_allow_private=True))
    # Then the hop is refused (the first request did go out)
    assert "169.254.169.254" in error.cause
    assert len(local_http.requests_to("/innocent")) == 1


def test_allow_list_admits_listed_hosts_only(local_http: LocalHttpServer):
    local_http.route("GET", "/ok", Reply(200, body="fine"))
    # Given an allow list naming 127.0.0.1 / When called / Then it passes
    assert http({"url": local_http.url("/ok")}, Settings(egress_allow=["127.0.0.1"])).output["body"] == "fine"
    # Given an allow list of a CIDR that holds it / Then it passes too
    assert http({"url": local_http.url("/ok")}, Settings(egress_allow=["127.0.0.0/8"])).output["body"] == "fine"
    # Given an allow list without it / When called / Then refused before any request is sent
    denied({"url": local_http.url("/ok")}, Settings(egress_allow=["api.example.com", "10.0.0.0/8"]))
    assert len(local_http.requests_to("/ok")) == 2


def test_allow_list_by_name_with_localhost(local_http: LocalHttpServer):
    # Given an allow list naming "localhost" / When the URL uses that name / Then it passes
    local_http.route("GET", "/ok", Reply(200, body="fine"))
    url = f"http://localhost:{local_http.port}/ok"
    assert http({"url": url}, Settings(egress_allow=["localhost"])).output["body"] == "fine"


def test_webhook_is_guarded_too():
    # Given a webhook aimed at the metadata service / When run / Then refused the same way
    config = WebhookConfig.model_validate({"url": "http://169.254.169.254/hook", "secret": "k3y-value"})
    with pytest.raises(StepError) as caught:
        WebhookExecutor(Settings()).execute(config, {}, StepContext("e", "s"))
    assert caught.value.error == "Egress.Denied"


def test_connection_goes_to_the_checked_address(local_http: LocalHttpServer):
    # Given a resolver that rebinds: loopback on the first lookup, metadata on any later one
    local_http.route("GET", "/rebind", Reply(200, body="checked address"))
    answers = [["127.0.0.1"], ["169.254.169.254"]]
    lookups: list[str] = []

    def rebinding_resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return answers[min(len(lookups) - 1, 1)]

    transport = GuardedTransport(EgressPolicy(allow_private=True), resolver=rebinding_resolver)
    with httpx.Client(transport=transport) as client:
        # When a request is made to the rebinding name
        response = client.get(f"http://rebind.test:{local_http.port}/rebind")
        # Then it reached the checked address after exactly one lookup, with the original Host header
        assert response.text == "checked address" and lookups == ["rebind.test"]
        assert local_http.requests_to("/rebind")[0].headers["host"] == f"rebind.test:{local_http.port}"
        # And a new connection (after the pool is emptied) is checked again and refused
        transport.close()
    transport = GuardedTransport(EgressPolicy(allow_private=True), resolver=rebinding_resolver)
    with httpx.Client(transport=transport) as client, pytest.raises(StepError, match="169.254.169.254"):
        client.get(f"http://rebind.test:{local_http.port}/rebind")


@pytest.mark.parametrize(("cert_host", "ok"), [("service.test", True), ("other.test", False)])
def test_tls_verifies_the_url_host_while_connecting_to_the_checked_address(tmp_path, cert_host: str, ok: bool):
    # Given an HTTPS server on 127.0.0.1 whose certificate names cert_host, and a resolver for service.test
    server_tls, client_tls = self_signed(tmp_path, cert_host)
    server = LocalHttpServer(tls=server_tls).start()
    server.route("GET", "/secure", Reply(200, body="over tls"))
    transport = GuardedTransport(EgressPolicy(allow=("service.test", "other.test")), resolver=lambda host, port: ["127.0.0.1"],
                                 verify=client_tls)
    try:
        with httpx.Client(transport=transport) as client:
            url = f"https://service.test:{server.port}/secure"
            if ok:
                # When the certificate matches the URL's host / Then the request succeeds
                assert client.get(url).text == "over tls"
            else:
                # When it names another host / Then verification fails: connecting by IP did not disable it
                with pytest.raises(httpx.ConnectError, match="certificate|hostname"):
                    client.get(url)
    finally:
        server.stop()
