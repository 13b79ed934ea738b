"""Look a secret up by name from inside an executor, through the execution's own template renderer.

Executors get their config with ``{{secrets.x}}`` already resolved, but some settings are configuration
rather than workflow text (a database URL, the SMTP password): those are looked up here by a fixed
name, via ``ctx.render`` so that the execution's secrets backend resolves them and its masker learns the
value. ``None`` when the secret does not exist (or no backend is available); the caller then says
which names it tried.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from orchestrator.steps.base import StepContext

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")


def secret_lookup(ctx: StepContext) -> Callable[[str], str | None]:
    def lookup(name: str) -> str | None:
        if not _NAME.match(name):  # the name goes into a template: nothing but a plain name
            return None
        template = "{{secrets." + name + "}}"
        try:
            value = ctx.render(template)
        except Exception:  # not found, or no secrets backend: the same answer for the caller
            return None
        return value if isinstance(value, str) and value and value != template else None

    return lookup
