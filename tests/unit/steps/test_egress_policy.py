"""The egress policy as a pure function of host and resolved addresses (no network)."""

from __future__ import annotations

import pytest

from orchestrator.settings import Settings
from orchestrator.steps.egress import EgressDenied, EgressPolicy, embedded_ipv4, system_resolver

DEFAULT = EgressPolicy()


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # AWS/GCP/Azure/OCI instance metadata
        "169.254.170.2",  # ECS task metadata (credentials)
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
        "fe80::1",  # IPv6 link-local
        "::ffff:169.254.169.254",  # IPv4-mapped
        "::169.254.169.254",  # IPv4-compatible (deprecated, still parsed)
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    ],
)
def test_metadata_and_link_local_addresses_are_refused_by_default(address: str):
    # Given the default policy / When a host resolves to a metadata or link-local address
    with pytest.raises(EgressDenied) as caught:
        DEFAULT.check("metadata.example", [address])
    # Then it is refused, non-retryable, naming the host
    assert caught.value.error == "Egress.Denied" and caught.value.retryable is False
    assert "metadata.example" in caught.value.cause


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "93.184.216.34", "2606:2800:220:1::1"])
def test_ordinary_addresses_pass_the_default_policy(address: str):
    # Given the default policy / When a host resolves to an ordinary address / Then it passes
    assert DEFAULT.check("host.example", [address]) == [address]


def test_every_resolved_address_is_checked():
    # Given a host with one good and one metadata address (a rebinding setup)
    # When checked / Then the whole host is refused, not just the bad address skipped
    with pytest.raises(EgressDenied, match="169.254.169.254"):
        DEFAULT.check("mixed.example", ["93.184.216.34", "169.254.169.254"])


def test_metadata_denial_can_be_switched_off():
    # Given egress_deny_metadata=False / When checked / Then a metadata address passes
    assert EgressPolicy(deny_metadata=False).check("imds", ["169.254.169.254"]) == ["169.254.169.254"]


def test_allow_list_by_host_name_and_wildcard():
    # Given an allow list of names
    policy = EgressPolicy(allow=("api.example.com", "*.corp.example"))
    # When hosts are checked / Then listed names pass, others are refused
    assert policy.check("api.example.com", ["93.184.216.34"])
    assert policy.check("ci.corp.example", ["10.0.0.5"])
    assert policy.check("API.Example.com.", ["93.184.216.34"])  # case and trailing dot do not matter
    with pytest.raises(EgressDenied, match="allow list"):
        policy.check("evil.example.com", ["93.184.216.34"])
    with pytest.raises(EgressDenied):
        policy.check("corp.example.attacker.net", ["1.2.3.4"])


def test_allow_list_by_cidr_checks_all_addresses():
    # Given an allow list of networks
    policy = EgressPolicy(allow=("10.0.0.0/8", "2001:db8::/32"))
    # When every address is inside / Then it passes; When one is outside / Then refused
    assert policy.check("svc", ["10.1.1.1", "2001:db8::5"])
    assert policy.check("svc", ["::ffff:10.2.2.2"])  # mapped forms are judged by their IPv4 address
    with pytest.raises(EgressDenied):
        policy.check("svc", ["10.1.1.1", "11.0.0.1"])


def test_allow_list_cannot_reopen_metadata():
    # Given an allow list that names the metadata address / When checked / Then still refused
    with pytest.raises(EgressDenied, match="metadata"):
        EgressPolicy(allow=("169.254.169.254",)).check("169.254.169.254", ["169.254.169.254"])


def test_policy_from_settings():
    # Given settings with an allow list / When turned into a policy / Then entries are normalised
    policy = EgressPolicy.from_settings(Settings(egress_allow=[" API.example.com ", "10.0.0.0/8"], egress_deny_metadata=False))
    assert policy == EgressPolicy(deny_metadata=False, allow=("api.example.com", "10.0.0.0/8"))


def test_embedded_ipv4_leaves_loopback_alone():
    # Given ::1 (IPv6 loopback, inside ::/96) / When examined / Then it carries no IPv4 address
    import ipaddress

    assert embedded_ipv4(ipaddress.ip_address("::1")) is None


@pytest.mark.parametrize("odd_form", ["2852039166", "0xa9fea9fe", "169.254.43518"])
def test_odd_ip_spellings_resolve_to_what_they_are(odd_form: str):
    # Given decimal/hex/short spellings of 169.254.169.254 (resolved locally, no DNS query)
    # When resolved and checked / Then the policy sees the real address and refuses it
    addresses = system_resolver(odd_form, 80)
    with pytest.raises(EgressDenied):
        DEFAULT.check(odd_form, addresses)
