"""Opaque page cursors over the ``(created_at, id)`` order, newest first.

A cursor is the position of the last record of a page. Keyset paging (``(created_at, id) < cursor``)
neither repeats nor skips records when others are inserted between page requests, unlike offsets.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from orchestrator.domain.records import as_timestamp, format_timestamp
from orchestrator.ports.store import MAX_PAGE_SIZE, InvalidCursor, Page


class PagedRecord(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


RecordT = TypeVar("RecordT", bound=PagedRecord)


def encode_cursor(created_at: datetime, record_id: str) -> str:
    raw = json.dumps([format_timestamp(created_at), record_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, record_id = json.loads(raw)
        if not isinstance(record_id, str):
            raise TypeError("record id is not a string")
        return as_timestamp(datetime.fromisoformat(created_at)), record_id
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as error:
        raise InvalidCursor(f"invalid page cursor: {cursor!r}") from error


def check_page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"page size must be between 1 and {MAX_PAGE_SIZE}, not {limit}")
    return limit


def page_of(fetched: Sequence[RecordT], limit: int) -> Page[RecordT]:
    """Stores fetch ``limit + 1`` records: the extra one only says that another page exists."""
    items = list(fetched[:limit])
    has_more = len(fetched) > limit
    return Page(items, encode_cursor(items[-1].created_at, items[-1].id) if has_more else None)
