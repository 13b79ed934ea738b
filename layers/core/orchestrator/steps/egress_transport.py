"""The httpx transport of the egress policy (``egress.py``): resolve once, check every address, connect
to exactly one of those checked. Apart from the policy because httpx and httpcore are only needed where
HTTP steps run."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from orchestrator.steps.egress import EgressPolicy, Resolver, system_resolver


class GuardedNetworkBackend(httpcore.SyncBackend):
    """httpcore's socket backend, with resolution and the policy check moved in front of the connect."""

    def __init__(self, policy: EgressPolicy, resolver: Resolver = system_resolver) -> None:
        self.policy = policy
        self.resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        host = host.strip("[]")
        try:
            addresses = self.policy.resolve(host, port, self.resolver)
        except OSError as exc:  # gaierror: httpx reports it as a ConnectError, like any unreachable host
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        last_error: Exception | None = None
        for address in addresses:
            try:
                # An IP literal: the socket layer does no second lookup, so what was checked is what is used.
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error


class GuardedTransport(httpx.HTTPTransport):
    """An ``httpx.HTTPTransport`` whose every new connection (first request and each redirect hop)
    goes through ``GuardedNetworkBackend``."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolver: Resolver = system_resolver,
        limits: httpx.Limits | None = None,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0)
        super().__init__(verify=verify, limits=limits, trust_env=False)
        self.policy = policy
        # HTTPTransport takes no network backend, so its pool is rebuilt with the same settings plus ours.
        # handle_request/close only use ``self._pool``; httpx is pinned below 1.0 in pyproject.toml.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(policy, resolver),
        )
