"""Egress policy: which addresses the orchestrator's outbound HTTP (http, webhook, llm, agent) may reach.

Workflows are written by users and their URLs are templates, so a step can be pointed at the cloud
metadata service (169.254.169.254 hands out the Lambda role's credentials on some platforms, and the
ECS/EC2 endpoints do). By default every link-local and cloud-metadata address is refused; with
``Settings.egress_allow`` set, only the listed hosts and networks are reachable at all.

The check runs where the connection is made, not on the URL: ``GuardedTransport`` resolves the host
once, checks **every** address it resolves to, and connects to one of exactly those checked addresses.
So a redirect to a forbidden host is refused at its own hop, and a DNS answer that changes between a
check and the connect (DNS rebinding) cannot slip through: there is no second lookup. TLS still
verifies the certificate against the host name of the URL (httpcore takes SNI from the origin).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from orchestrator.settings import Settings, get_settings
from orchestrator.steps.base import StepError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: link-local ranges (every cloud's metadata service lives in 169.254.0.0/16, ECS task metadata too)
#: and the metadata addresses outside them (AWS IMDS over IPv6, Alibaba Cloud)
METADATA_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

#: resolve(host, port) -> the IP addresses (as text) that a connection to host may use
Resolver = Callable[[str, int], list[str]]


class EgressDenied(StepError):
    """The policy refuses this host. Not retryable: the same URL is refused the same way next time."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__("Egress.Denied", f"outbound connection to {host} refused: {reason}", retryable=False)
        self.host = host


def system_resolver(host: str, port: int) -> list[str]:
    """Every address of ``host`` for a TCP connection, in the order the system prefers them."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), so that
    ``::ffff:169.254.169.254`` and its cousins are judged as 169.254.169.254."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):  # ::1 is loopback, not 0.0.0.1
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id (fe80::1%eth0)


@dataclass(frozen=True)
class EgressPolicy:
    """Frozen and hashable, so that one HTTP client (and its connection pool) is kept per policy."""

    deny_metadata: bool = True
    #: host names ("api.example.com", "*.example.com"), IP addresses or CIDR networks; empty = any host
    allow: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Any) -> EgressPolicy:
        return cls(
            deny_metadata=bool(settings.egress_deny_metadata),
            allow=tuple(entry.strip().lower() for entry in settings.egress_allow if entry.strip()),
        )

    def _allowed_networks(self) -> list[IPNetwork]:
        networks = []
        for entry in self.allow:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                continue  # a host name entry
        return networks

    def _host_listed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(
            host == entry or (entry.startswith(("*.", ".")) and fnmatch.fnmatchcase(host, "*" + entry.lstrip("*")))
            for entry in self.allow
        )

    def check(self, host: str, addresses: Iterable[str]) -> list[str]:
        """The addresses, if the policy lets ``host`` be reached through all of them; else EgressDenied."""
        addresses = list(addresses)
        if not addresses:
            raise EgressDenied(host, "it resolves to no address")
        ips = [_ip(a) for a in addresses]
        if self.deny_metadata:
            for ip in ips:
                for candidate in (ip, embedded_ipv4(ip)):
                    if candidate is not None and any(candidate in net for net in METADATA_NETWORKS):
                        raise EgressDenied(host, f"{ip} is a link-local or cloud metadata address")
        if self.allow and not self._host_listed(host):
            networks = self._allowed_networks()
            for ip in ips:
                judged = [ip] + ([v4] if (v4 := embedded_ipv4(ip)) is not None else [])
                if not any(candidate in net for candidate in judged for net in networks):
                    raise EgressDenied(host, f"{ip} is not in the egress allow list (ORCHESTRATOR_EGRESS_ALLOW)")
        return addresses


class EgressBoundExecutor:
    """Base of the step executors whose requests leave the machine: each request follows the egress
    policy of the given settings, or of the process settings read at call time (so that tests and
    start-up order don't matter)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings

    def egress_policy(self) -> EgressPolicy:
        return EgressPolicy.from_settings(self._settings or get_settings())


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
            addresses = self.resolver(host, port)
        except OSError as exc:  # gaierror: httpx reports it as a ConnectError, like any unreachable host
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        last_error: Exception | None = None
        for address in self.policy.check(host, addresses):
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
