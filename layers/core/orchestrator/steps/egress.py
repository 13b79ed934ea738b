"""Egress policy: which addresses the orchestrator's outbound HTTP (http, webhook, llm, agent) may reach.

Workflows are written by users and their URLs are templates, so a step can be pointed at the cloud
metadata service (169.254.169.254 hands out the Lambda role's credentials on some platforms, and the
ECS/EC2 endpoints do), or at the server's own loopback API, or at the private network it sits in. So by
default:

* every link-local and cloud-metadata address is refused (``egress_deny_metadata``; an allow entry does
  not reopen it);
* every address that is not globally routable is refused (``egress_allow_private=False``, the server and
  cloud default): loopback (127/8, ::1, the name ``localhost``), unspecified (0.0.0.0/8, ::), private
  (10/8, 172.16/12, 192.168/16, fc00::/7), shared/CGNAT (100.64/10), link-local, multicast, broadcast,
  reserved, benchmark and documentation ranges, site-local, and the IPv4-mapped/compatible/NAT64/6to4
  forms of any of those. An explicit ``egress_allow`` entry (a host name or a network holding the
  address) reopens a non-public address for that host or network. The single-user ``orchestrator run``
  allows non-public addresses unless ORCHESTRATOR_EGRESS_ALLOW_PRIVATE is set (see ``single_user``);
* with ``Settings.egress_allow`` set, only the listed hosts and networks are reachable at all.

The check runs where the connection is made, not on the URL: ``GuardedTransport`` resolves the host
once, checks **every** address it resolves to, and connects to one of exactly those checked addresses.
So a redirect to a forbidden host is refused at its own hop, and a DNS answer that changes between a
check and the connect (DNS rebinding) cannot slip through: there is no second lookup. TLS still
verifies the certificate against the host name of the URL (httpcore takes SNI from the origin).
Other clients use the same rule through ``EgressPolicy.resolve``: SMTP (``smtp.py``), PostgreSQL and
MongoDB (``db_connections.py``).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

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
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
#: what inet_aton (and so getaddrinfo) reads as an IPv4 address: dotted parts in decimal, octal or hex
_LEGACY_IPV4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")

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


def non_public_kind(address: IPAddress) -> str | None:
    """What makes ``address`` unreachable by default ("loopback", "private", ...), or None when it is a
    globally routable unicast address. ``ipaddress.is_global`` alone is not enough on Python 3.11: it
    calls multicast, site-local, IPv4-compatible and NAT64/6to4 forms of loopback "global"."""
    v4 = embedded_ipv4(address)
    if v4 is not None:  # ::ffff:127.0.0.1, ::127.0.0.1, 64:ff9b::7f00:1, 2002:7f00:1:: are judged as 127.0.0.1
        return non_public_kind(v4)
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified or address in _THIS_NETWORK:
        return "unspecified ('this host')"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address in _SHARED:
        return "shared (carrier-grade NAT)"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if any(address in network for network in _PRIVATE_NETWORKS):
        return "private"
    if address.is_private or address.is_reserved or not address.is_global:
        return "reserved or special-purpose"
    return None


def _numeric_host(host: str) -> IPAddress | None:
    """The address a numeric host spells, however it is spelled: ``::1``, ``127.0.0.1`` and the legacy
    inet_aton forms (``0``, ``127.1``, ``2130706433``, ``0x7f000001``, ``017700000001``) that
    getaddrinfo accepts too. None for a host name."""
    try:
        return _ip(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_localhost_name(host: str) -> bool:
    """``localhost``, ``LOCALHOST.``, ``x.localhost`` (RFC 6761: always the loopback, whatever DNS says)."""
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost") or host in ("localhost6", "ip6-localhost",
                                                                          "ip6-loopback", "localhost.localdomain")


@dataclass(frozen=True)
class EgressPolicy:
    """Frozen and hashable, so that one HTTP client (and its connection pool) is kept per policy."""

    deny_metadata: bool = True
    #: host names ("api.example.com", "*.example.com"), IP addresses or CIDR networks; empty = any host
    allow: tuple[str, ...] = ()
    #: whether loopback, private and other non-public addresses are reachable without an allow entry
    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> EgressPolicy:
        return cls(
            deny_metadata=bool(settings.egress_deny_metadata),
            allow=tuple(entry.strip().lower() for entry in settings.egress_allow if entry.strip()),
            allow_private=bool(getattr(settings, "egress_allow_private", False)),
        )

    def for_operator_endpoint(self, host: str) -> EgressPolicy:
        """The policy for one connection to an endpoint the operator configured (the SMTP relay, the default
        LLM endpoint): that host is reachable even where it is private (a relay on localhost), and nothing
        else is. Metadata addresses stay refused."""
        return replace(self, allow=(host.strip().lower(),))

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

    def _network_listed(self, ip: IPAddress, networks: list[IPNetwork]) -> bool:
        judged = [ip] + ([v4] if (v4 := embedded_ipv4(ip)) is not None else [])
        return any(candidate in net for candidate in judged for net in networks)

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
        host_listed = bool(self.allow) and self._host_listed(host)
        networks = self._allowed_networks() if self.allow else []
        if not self.allow_private and not host_listed:
            for ip in ips:
                kind = non_public_kind(ip)
                if kind is not None and not self._network_listed(ip, networks):
                    # a name's internal address is not told: the refusal must not map the private network
                    numeric = _numeric_host(host.strip("[]").lower().rstrip(".")) is not None
                    what = f"{ip} is" if numeric else "it resolves to"
                    raise EgressDenied(host, f"{what} a {kind} address; steps may only reach public addresses "
                                             "unless ORCHESTRATOR_EGRESS_ALLOW lists the host")
        if self.allow and not host_listed:
            for ip in ips:
                if not self._network_listed(ip, networks):
                    raise EgressDenied(host, f"{ip} is not in the egress allow list (ORCHESTRATOR_EGRESS_ALLOW)")
        return addresses

    def resolve(self, host: str, port: int, resolver: Resolver | None = None) -> list[str]:
        """The checked addresses to connect to for ``host``: a numeric host in any spelling is taken as
        the address it spells (no lookup); the ``localhost`` names are refused before any lookup; other
        names go through ``resolver`` (default: the system's), and every answer is checked. Connect to
        one of the returned addresses, never to the name, so that no second lookup can differ.
        EgressDenied, or OSError when the name does not resolve."""
        host = host.strip().strip("[]")
        bare = host.lower().rstrip(".") or host
        numeric = _numeric_host(bare)
        if numeric is not None:
            return self.check(host, [str(numeric)])
        if is_localhost_name(bare) and not self.allow_private and not (self.allow and self._host_listed(bare)):
            raise EgressDenied(host, "it names the loopback interface; steps may only reach public addresses "
                                     "unless ORCHESTRATOR_EGRESS_ALLOW lists the host")
        return self.check(host, (resolver or system_resolver)(host, port))


#: the settings egress follows in this process when an executor was given none (None: ``get_settings()``)
_process_settings: Settings | None = None


def use_settings(settings: Settings | None) -> None:
    """Make ``settings`` the egress settings of this process (``orchestrator run`` installs the
    ``single_user`` ones; None goes back to ``get_settings()``)."""
    global _process_settings
    _process_settings = settings


def current_settings() -> Settings:
    return _process_settings or get_settings()


def current_policy() -> EgressPolicy:
    return EgressPolicy.from_settings(current_settings())


def single_user(settings: Settings) -> Settings:
    """The settings of a single-user run (``orchestrator run``): the user runs their own workflow on their
    own machine, so its steps may reach loopback and the private network, like any program they start.
    An explicit ORCHESTRATOR_EGRESS_ALLOW_PRIVATE (environment or .env) still wins, either way."""
    if "egress_allow_private" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"egress_allow_private": True})


class EgressBoundExecutor:
    """Base of the step executors whose requests leave the machine: each request follows the egress
    policy of the given settings, or of the process settings read at call time (``current_settings``:
    so that tests and start-up order don't matter)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings

    def egress_policy(self) -> EgressPolicy:
        return EgressPolicy.from_settings(self._settings or current_settings())

