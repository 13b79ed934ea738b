"""Names of the AWS resources made for one trigger: EventBridge rules and Scheduler schedules."""

from __future__ import annotations

import hashlib
import re

# both services take 1-64 of letters, digits, '.', '-', '_'
_NAME = re.compile(r"[0-9A-Za-z._-]{1,64}")


def trigger_resource_name(prefix: str, trigger_id: str) -> str:
    name = f"{prefix}{trigger_id}"
    if _NAME.fullmatch(name):
        return name
    # an id the service cannot take as a name still needs a stable one
    return f"{prefix}{hashlib.sha256(trigger_id.encode()).hexdigest()}"[:64]
