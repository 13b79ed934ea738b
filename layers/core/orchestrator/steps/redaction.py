"""Keep secret values out of error causes and logs, even before the step runner's own masking runs.

The step runner's ``ctx.mask`` knows every secret rendered into the config, but executors also see
derived secrets (a password inside a database URL, a key echoed back by a server), and tests run with
the identity mask. So executors scrub the secret values they hold themselves, then apply ``ctx.mask``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from pydantic import SecretStr

MASK = "***"

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@\s]*)@")


def secret_values(*values: str | SecretStr | None) -> list[str]:
    """Plain strings of the non-empty secrets, longest first so that overlapping values mask fully."""
    plain = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in values]
    return sorted({v for v in plain if v}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str] = (), mask: Callable[[str], str] | None = None) -> str:
    """``text`` with each secret value and every URL password replaced by ``***``, then ``mask`` applied."""
    for value in secrets:
        text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return mask(text) if mask is not None else text


def url_for_humans(url: str) -> str:
    """A connection URL with its password removed, for error messages that must say where."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)
