"""The egress policy as a pure function of host and resolved addresses (no network)."""

from __future__ import annotations

import ipaddress

import pytest

from orchestrator.settings import Settings, get_settings
from orchestrator.steps.egress import (
    EgressDenied,
    EgressPolicy,
    current_policy,
    embedded_ipv4,
    non_public_kind,
    single_user,
    system_resolver,
    use_settings,
)

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


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1::1", "::ffff:93.184.216.34",
                                     "64:ff9b::5db8:d822", "2002:5db8:d822::1"])
def test_public_addresses_pass_the_default_policy(address: str):
    # Given the default policy / When a host resolves to a public address (or a v6 form of one) / Then it passes
    assert DEFAULT.check("host.example", [address]) == [address]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("::1", "loopback"),
        ("0.0.0.0", "unspecified"), ("0.1.2.3", "unspecified"), ("::", "unspecified"),
        ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("172.31.255.254", "private"),
        ("192.168.1.1", "private"), ("fc00::1", "private"), ("fd12:3456::1", "private"),
        ("100.64.0.1", "shared"), ("100.127.255.254", "shared"),
        ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"),
        ("fec0::1", "site-local"),
        ("255.255.255.255", "reserved"), ("240.0.0.1", "reserved"), ("192.0.2.1", "reserved"),
        ("198.51.100.7", "reserved"), ("203.0.113.9", "reserved"), ("198.18.0.1", "reserved"),
        ("192.0.0.1", "reserved"), ("2001:db8::1", "reserved"), ("2001::1", "reserved"),  # Teredo
        ("64:ff9b:1::a00:1", "reserved"), ("100::1", "reserved"), ("::ffff:0:7f00:1", "reserved"),
        # IPv6 forms carrying a non-public IPv4 address are judged by it (Python 3.11 calls several "global")
        ("::ffff:127.0.0.1", "loopback"), ("::127.0.0.1", "loopback"), ("64:ff9b::7f00:1", "loopback"),
        ("2002:7f00:1::", "loopback"), ("::ffff:10.0.0.1", "private"), ("64:ff9b::c0a8:101", "private"),
        ("::ffff:0.0.0.0", "unspecified"), ("2002:e000:1::", "multicast"),
    ],
)
def test_non_public_addresses_are_refused_by_default(address: str, kind: str):
    # Given the default (server) policy / When a host resolves to a non-public address
    assert non_public_kind(ipaddress.ip_address(address)) is not None and kind in non_public_kind(ipaddress.ip_address(address))
    with pytest.raises(EgressDenied) as caught:
        DEFAULT.check("inside.example", [address])
    # Then it is refused, non-retryable, naming the host and the kind of address, but not the address
    assert caught.value.error == "Egress.Denied" and caught.value.retryable is False
    assert "inside.example" in caught.value.cause and kind in caught.value.cause
    assert address not in caught.value.cause


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.0.5", "100.64.1.1"])
def test_allow_private_lets_non_public_addresses_pass(address: str):
    # Given a policy with allow_private (the single-user run) / When checked / Then it passes
    assert EgressPolicy(allow_private=True).check("host.example", [address]) == [address]


def test_allow_private_does_not_reopen_metadata():
    # Given allow_private / When a host resolves to the metadata service / Then it is still refused
    with pytest.raises(EgressDenied, match="metadata"):
        EgressPolicy(allow_private=True).check("imds", ["169.254.169.254"])


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("0", "0.0.0.0"), ("0.0.0.0", "0.0.0.0"), ("127.1", "127.0.0.1"), ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"), ("0X7F000001", "127.0.0.1"), ("017700000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"), ("127.0.0.1.", "127.0.0.1"), ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"), ("::ffff:7f00:1", "::ffff:7f00:1"), ("10.0.0.1", "10.0.0.1"),
    ],
)
def test_numeric_hosts_are_judged_as_the_address_they_spell_without_a_lookup(host: str, address: str):
    # Given a resolver that must not be asked (a numeric host needs no lookup)
    def resolver(name: str, port: int) -> list[str]:
        raise AssertionError(f"looked up {name}")

    # When the host is resolved under the default policy / Then it is refused, naming the host
    with pytest.raises(EgressDenied) as caught:
        DEFAULT.resolve(host, 80, resolver)
    assert host.strip("[]") in caught.value.cause
    # And with allow_private the checked address is the one the spelling means (what is connected to)
    checked = EgressPolicy(allow_private=True).resolve(host, 80, resolver)
    assert [ipaddress.ip_address(a) for a in checked] == [ipaddress.ip_address(address)]


@pytest.mark.parametrize("host", ["localhost", "localhost.", "LOCALHOST", "LocalHost.", "api.localhost", "localhost6"])
def test_localhost_names_are_refused_before_any_lookup(host: str):
    # Given a resolver that must not be asked (localhost. may not even resolve on this machine)
    def resolver(name: str, port: int) -> list[str]:
        raise AssertionError(f"looked up {name}")

    # When a localhost name is resolved under the default policy / Then refused as the loopback
    with pytest.raises(EgressDenied, match="loopback"):
        DEFAULT.resolve(host, 80, resolver)


def test_a_name_resolving_to_loopback_is_refused():
    # Given a DNS name that resolves to 127.0.0.1 / When resolved under the default policy / Then refused
    with pytest.raises(EgressDenied, match="resolves to a loopback address"):
        DEFAULT.resolve("evil.example", 80, lambda host, port: ["127.0.0.1"])


def test_explicit_allow_entries_reopen_private_addresses():
    # Given allow entries naming a host, a wildcard and a CIDR, without allow_private
    policy = EgressPolicy(allow=("db.internal", "*.corp.example", "10.20.0.0/16", "127.0.0.1", "localhost"))
    # When listed hosts or addresses in a listed network are checked / Then they pass
    assert policy.check("db.internal", ["10.9.9.9"]) == ["10.9.9.9"]
    assert policy.check("ci.corp.example", ["192.168.3.3"]) == ["192.168.3.3"]
    assert policy.check("svc", ["10.20.1.1"]) == ["10.20.1.1"]
    assert policy.resolve("127.1", 80) == ["127.0.0.1"]  # the address is listed, whatever its spelling
    assert policy.resolve("localhost", 80, lambda host, port: ["127.0.0.1"]) == ["127.0.0.1"]
    # And an unlisted private address is still refused
    with pytest.raises(EgressDenied):
        policy.check("svc", ["10.21.1.1"])
    with pytest.raises(EgressDenied):
        policy.resolve("127.0.0.2", 80)


def test_a_listed_name_does_not_reopen_other_private_names():
    # Given an allow entry for one name resolving to loopback (as in a test or a sidecar)
    policy = EgressPolicy(allow=("public.test",))
    # When another name resolves to loopback / Then it is refused
    with pytest.raises(EgressDenied):
        policy.check("other.test", ["127.0.0.1"])


def test_every_resolved_address_is_checked():
    # Given a host with one good and one metadata address (a rebinding setup)
    # When checked / Then the whole host is refused, not just the bad address skipped
    with pytest.raises(EgressDenied, match="169.254.169.254"):
        DEFAULT.check("mixed.example", ["93.184.216.34", "169.254.169.254"])


def test_metadata_denial_can_be_switched_off():
    # Given egress_deny_metadata=False and non-public addresses allowed / When checked / Then a metadata address passes
    assert EgressPolicy(deny_metadata=False, allow_private=True).check("imds", ["169.254.169.254"]) == ["169.254.169.254"]
    # Given only egress_deny_metadata=False / Then it is still refused, as a link-local (non-public) address
    with pytest.raises(EgressDenied, match="link-local"):
        EgressPolicy(deny_metadata=False).check("imds", ["169.254.169.254"])


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


def test_policy_from_settings_takes_allow_private():
    # Given default settings / When turned into a policy / Then non-public addresses are refused
    assert EgressPolicy.from_settings(Settings()).allow_private is False
    # Given egress_allow_private / Then the policy allows them
    assert EgressPolicy.from_settings(Settings(egress_allow_private=True)).allow_private is True


def test_single_user_settings_allow_private_unless_explicitly_set(monkeypatch: pytest.MonkeyPatch):
    # Given no ORCHESTRATOR_EGRESS_ALLOW_PRIVATE / When the single-user run derives its settings
    monkeypatch.delenv("ORCHESTRATOR_EGRESS_ALLOW_PRIVATE", raising=False)
    # Then private addresses are allowed
    assert single_user(Settings(_env_file=None)).egress_allow_private is True
    # Given the variable explicitly false / Then the explicit choice wins
    monkeypatch.setenv("ORCHESTRATOR_EGRESS_ALLOW_PRIVATE", "false")
    assert single_user(Settings(_env_file=None)).egress_allow_private is False


def test_process_settings_follow_use_settings():
    # Given the process egress settings replaced (what `orchestrator run` does)
    try:
        use_settings(Settings(egress_allow_private=True))
        # When the current policy is read / Then it follows them
        assert current_policy().allow_private is True
    finally:
        use_settings(None)
    # And afterwards the process settings are back
    assert current_policy() == EgressPolicy.from_settings(get_settings())


def test_embedded_ipv4_leaves_loopback_alone():
    # Given ::1 (IPv6 loopback, inside ::/96) / When examined / Then it carries no IPv4 address
    assert embedded_ipv4(ipaddress.ip_address("::1")) is None


@pytest.mark.parametrize("odd_form", ["2852039166", "0xa9fea9fe", "169.254.43518"])
def test_odd_ip_spellings_resolve_to_what_they_are(odd_form: str):
    # Given decimal/hex/short spellings of 169.254.169.254 (resolved locally, no DNS query)
    # When resolved and checked / Then the policy sees the real address and refuses it
    addresses = system_resolver(odd_form, 80)
    with pytest.raises(EgressDenied):
        DEFAULT.check(odd_form, addresses)
