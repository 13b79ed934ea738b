"""Recipient lists for the ``email`` step: a string (comma-separated) or a list, each address validated."""

from __future__ import annotations

import email.utils
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

# Deliberately simple: one "@", no whitespace or angle brackets, a dotted domain (or localhost / an IP
# literal). Full RFC 5322 admits addresses no relay accepts; what matters is catching typos and
# header injection (CR/LF) before the SMTP conversation starts.
_ADDR_SPEC = re.compile(r"^[^@\s<>()\[\],;:\"]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$")


def _one(text: str) -> str:
    if "\r" in text or "\n" in text:
        raise ValueError("an address must not contain line breaks")
    pairs = email.utils.getaddresses([text])
    if len(pairs) != 1:
        raise ValueError(f"{text!r} holds {len(pairs)} addresses where one was expected")
    name, addr = pairs[0]
    if not _ADDR_SPEC.match(addr):
        raise ValueError(f"{text!r} is not a valid email address")
    return email.utils.formataddr((name, addr)) if name else addr


def parse_addresses(value: Any) -> list[str]:
    """``"a@x.io, B <b@x.io>"`` or ``["a@x.io", ...]`` -> validated addresses, display names kept."""
    if value is None:
        return []
    if isinstance(value, str):
        items = [part for _, part in _split(value)]
    elif isinstance(value, list | tuple):
        items = []
        for entry in value:
            if not isinstance(entry, str):
                raise ValueError(f"an address must be a string, got {type(entry).__name__}")
            items.extend(part for _, part in _split(entry))
    else:
        raise ValueError("addresses must be a string or a list of strings")
    return [_one(item) for item in items]


def _split(text: str) -> list[tuple[str, str]]:
    # getaddresses knows where commas inside quoted display names are not separators
    if "\r" in text or "\n" in text:
        raise ValueError("an address must not contain line breaks")
    if not text.strip():
        return []
    pairs = email.utils.getaddresses([text])
    if any(not addr for _, addr in pairs):  # the parser's way of saying it could not read an entry
        raise ValueError(f"{text!r} is not a valid list of email addresses")
    return [(name, email.utils.formataddr((name, addr)) if name else addr) for name, addr in pairs]


def bare_address(formatted: str) -> str:
    """The addr-spec of ``"Name <a@x.io>"``: what goes into the SMTP envelope."""
    return email.utils.parseaddr(formatted)[1]


#: a config field holding zero or more recipients
Addresses = Annotated[list[str], BeforeValidator(parse_addresses)]


def _single(value: Any) -> str:
    addresses = parse_addresses(value)
    if len(addresses) != 1:
        raise ValueError(f"exactly one address is needed, got {len(addresses)}")
    return addresses[0]


#: a config field holding exactly one address (the sender)
Address = Annotated[str, BeforeValidator(_single)]
