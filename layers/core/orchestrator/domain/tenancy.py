"""Who owns what: the operator's owner id, and which secret names a tenant may ask for.

Every record belongs to an owner (the owner of the API key that made it). One owner is the operator's:
``admin``, the owner of the keys the orchestrator issues itself. Its workflows, and those of the
single-user ``orchestrator run`` (no owner at all), may use what belongs to the server (its database
connections, unsandboxed scripts where no sandbox exists); every other owner is a tenant and may not.

Secret names are an owner's own namespace. Names that spell a server setting (``ORCHESTRATOR_*``,
``AWS_*``) are refused wherever a name is written, so that ``{{secrets.ORCHESTRATOR_ADMIN_KEY}}`` is a
validation error rather than a question the server answers.
"""

from __future__ import annotations

import re

ADMIN_OWNER_ID = "admin"

#: letters, digits, ``_``, ``-`` and ``.``; starts with a letter or ``_``; at most 128 characters
SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"
_SECRET_NAME = re.compile(SECRET_NAME_PATTERN)
#: prefixes (any case) of the server's own settings and of the cloud's credentials
RESERVED_SECRET_PREFIXES = ("ORCHESTRATOR_", "AWS_")


class SecretNameNotAllowed(ValueError):
    """A secret name that is malformed or names a server setting."""


def is_operator(owner_id: str | None) -> bool:
    """True for the operator: the admin owner, or no owner (the single-user ``orchestrator run``)."""
    return owner_id is None or owner_id == ADMIN_OWNER_ID


def check_secret_name(name: str) -> str:
    """``name`` if an owner may hold or reference a secret by it; else SecretNameNotAllowed saying why."""
    if not isinstance(name, str) or not _SECRET_NAME.fullmatch(name):
        raise SecretNameNotAllowed(
            f"secret name {name!r} is not valid: use letters, digits, '_', '-' and '.', starting with a "
            "letter or '_', at most 128 characters")
    upper = name.upper()
    for prefix in RESERVED_SECRET_PREFIXES:
        if upper.startswith(prefix):
            raise SecretNameNotAllowed(
                f"secret name {name!r} is reserved: names starting with {prefix} are server settings, "
                "never secrets a workflow may read")
    return name
