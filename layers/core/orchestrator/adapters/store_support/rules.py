"""What each update may change, and the lifecycle check both stores make before a transition."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from orchestrator.adapters.store_support.codec import Layout, encode_changes
from orchestrator.domain.lifecycle import check_transition
from orchestrator.domain.records import ExecutionRecord, ExecutionStatus, as_timestamp
from orchestrator.ports.store import VersionConflict

WORKFLOW_EDITABLE_FIELDS = frozenset({"name", "description", "tags", "is_template"})
TRIGGER_EDITABLE_FIELDS = frozenset({"name", "config", "is_enabled", "next_fire_at"})
#: what a transition may set besides the status; identity, input and lineage never change
TRANSITION_FIELDS = frozenset(
    {
        "output",
        "error",
        "cause",
        "started_at",
        "ended_at",
        "duration",
        "claimed_by",
        "claim_expires_at",
        "priority",
    }
)

#: a store retries a compare-and-set that lost a race this many times before reporting the conflict
MAX_CAS_ATTEMPTS = 5


def expected_statuses(
    expected_from: Collection[ExecutionStatus | str] | ExecutionStatus | str, to: ExecutionStatus | str
) -> frozenset[ExecutionStatus]:
    """Normalise ``expected_from`` and refuse at once a move the lifecycle never allows."""
    statuses = (
        frozenset({ExecutionStatus(expected_from)})
        if isinstance(expected_from, str)
        else frozenset(ExecutionStatus(status) for status in expected_from)
    )
    if not statuses:
        raise ValueError("expected_from names no status")
    for status in sorted(statuses):
        check_transition(status, to)
    return statuses


def transition_values(to: ExecutionStatus | str, fields: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
    """What a transition writes: the new status and the checked, encoded ``fields``."""
    values: dict[str, Any] = {"status": ExecutionStatus(to).value}
    values.update(encode_changes(ExecutionRecord, fields, TRANSITION_FIELDS, layout))
    return values


def check_expected_version(workflow_id: str, expected_version: int | None, current_version: int) -> None:
    if expected_version is not None and expected_version != current_version:
        raise VersionConflict(workflow_id, expected_version, current_version)


def check_fire_time_advances(expected_next_fire_at: datetime, new_next_fire_at: datetime | None) -> None:
    """A claim must move the fire time forward (or end the schedule with None): a claim that left it in
    place would let every other scheduler claim the same fire time too."""
    if new_next_fire_at is not None and as_timestamp(new_next_fire_at) <= as_timestamp(expected_next_fire_at):
        raise ValueError("new_next_fire_at must be later than expected_next_fire_at")
