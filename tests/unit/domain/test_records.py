"""Stored records: timestamps every backend keeps exactly, payloads that are JSON, page cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pydantic
import pytest

from orchestrator.adapters.store_support.paging import decode_cursor, encode_cursor
from orchestrator.domain.records import ExecutionRecord, WorkflowVersion, format_timestamp
from orchestrator.domain.stats import WorkflowStats, nearest_rank_offset, success_rate
from orchestrator.ports.store import InvalidCursor


def test_timestamps_are_utc_milliseconds_whatever_was_given() -> None:
    shanghai = timezone(timedelta(hours=8))
    execution = ExecutionRecord(
        workflow_id="w",
        workflow_version=1,
        owner_id="o",
        created_at=datetime(2024, 5, 1, 20, 0, 0, 123456, tzinfo=shanghai),
        started_at=datetime(2024, 5, 1, 12, 0, 0, 999999),  # naive: taken as UTC
    )
    assert execution.created_at == datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert execution.created_at.tzinfo is UTC
    assert execution.started_at == datetime(2024, 5, 1, 12, 0, 0, 999000, tzinfo=UTC)
    assert execution.model_dump(mode="json")["created_at"] == "2024-05-01T12:00:00.123+00:00"


def test_timestamp_text_sorts_in_time_order() -> None:
    times = [datetime(2024, 5, 1, tzinfo=UTC) + timedelta(milliseconds=step * 997) for step in range(50)]
    texts = [format_timestamp(time) for time in times]
    assert sorted(texts) == texts and len({len(text) for text in texts}) == 1


def test_payloads_must_be_json() -> None:
    with pytest.raises(pydantic.ValidationError):
        WorkflowVersion(workflow_id="w", version=1, definition={"when": {1, 2}})
    with pytest.raises(pydantic.ValidationError):
        ExecutionRecord(workflow_id="w", workflow_version=1, owner_id="o", input={"at": datetime.now()})


def test_cursors_round_trip_and_garbage_is_refused() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, "abc")) == (moment, "abc")
    for garbage in ["", "!!!", "bm90IGpzb24", encode_cursor(moment, "abc")[:-3]]:
        with pytest.raises(InvalidCursor):
            decode_cursor(garbage)


def test_success_rate_and_percentile_rank() -> None:
    assert success_rate({}) is None
    assert success_rate({"cancelled": 3, "running": 1}) is None
    assert success_rate({"completed": 3, "failed": 1, "cancelled": 5}) == 0.75
    assert [nearest_rank_offset(n, 95) for n in (0, 1, 2, 20, 21)] == [None, 0, 1, 18, 19]
    stats = WorkflowStats(workflow_id="w", executions_by_status={"completed": 1, "timed_out": 1})
    assert stats.model_dump()["success_rate"] == 0.5 and stats.total_executions == 2
