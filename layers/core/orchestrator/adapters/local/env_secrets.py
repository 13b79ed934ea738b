"""The operator's shared secrets: environment variables with a mandatory prefix, and a ``.env`` file.

``{{secrets.api_token}}`` with the default prefix ``ORCHESTRATOR_SECRET_`` looks up, in order:
``ORCHESTRATOR_SECRET_api_token``, then ``ORCHESTRATOR_SECRET_API_TOKEN`` (the name upper-cased, every
character that cannot be in a variable name made ``_``); first in the process environment, then in the
``.env`` file. No other variable is ever read: the prefix cannot be empty, and names that spell a server
setting are refused (``domain.tenancy.check_secret_name``).
The environment wins, as with python-dotenv's defaults. The file is read once, when first needed, and
never copied into ``os.environ``: scripts and other child processes must not inherit secrets.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from orchestrator.domain.tenancy import SecretNameNotAllowed, check_secret_name
from orchestrator.ports.secrets import SecretNotFound

_NOT_IN_VARIABLE_NAMES = re.compile(r"[^A-Za-z0-9_]")


def variable_names(prefix: str, name: str) -> list[str]:
    """The environment variable names that may hold secret ``name``, in lookup order."""
    exact = f"{prefix}{name}"
    upper = f"{prefix}{_NOT_IN_VARIABLE_NAMES.sub('_', name).upper()}"
    return [exact] if upper == exact else [exact, upper]


class EnvSecrets:
    def __init__(
        self,
        prefix: str,
        env_file: Path | None = Path(".env"),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not prefix:
            raise ValueError("environment secrets need a prefix: without one every server variable is a secret")
        self.prefix = prefix
        self.env_file = env_file
        self._environ = os.environ if environ is None else environ
        self._file_values: dict[str, str] | None = None
        self._lock = threading.Lock()

    def _from_file(self) -> Mapping[str, str]:
        with self._lock:
            if self._file_values is None:
                values = dotenv_values(self.env_file) if self.env_file and self.env_file.is_file() else {}
                # `KEY` without `=value` in a .env file reads as None: not a secret value
                self._file_values = {k: v for k, v in values.items() if v is not None}
            return self._file_values

    def get(self, name: str) -> str:
        try:
            check_secret_name(name)
        except SecretNameNotAllowed as error:
            raise SecretNotFound(str(error)) from None
        candidates = variable_names(self.prefix, name)
        for source in (self._environ, self._from_file()):
            for variable in candidates:
                value = source.get(variable)
                if value is not None:
                    return value
        where = f"the environment or {self.env_file}" if self.env_file else "the environment"
        raise SecretNotFound(f"secret {name!r} not found: set {' or '.join(candidates)} in {where}")
