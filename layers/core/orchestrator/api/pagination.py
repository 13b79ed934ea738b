"""Cursor pagination for every list: ``?limit=&cursor=`` in, ``{"items": [...], "next_cursor": ...}`` out.

Lists the store pages itself (workflows, executions) pass its keyset cursors through. Short lists the
store returns whole (triggers, versions, API keys) are paged here the same way: the cursor is the sort key
of the last item given, so items added or removed between requests never cause repeats or gaps.

A page may hold fewer than ``limit`` items (a filter the store cannot apply skipped some): only
``next_cursor: null`` means the end.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query

from orchestrator.ports.store import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, InvalidCursor, Page

T = TypeVar("T")

#: store pages one filtered listing reads at most before it answers with what it found so far
SCAN_BUDGET_PAGES = 10


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> PageRequest:
    return PageRequest(limit, cursor or None)


PageParams = Annotated[PageRequest, Depends(page_request)]


def filtered_page(
    fetch: Callable[[int, str | None], Page[T]],
    keep: Callable[[T], bool] | None,
    request: PageRequest,
) -> Page[T]:
    """A page of the store's list with ``keep`` applied on top. Each store page asked for is no larger
    than what is still missing, so every item read is either given or skipped, and the store's own cursor
    after it is exact."""
    if keep is None:
        return fetch(request.limit, request.cursor)
    found: list[T] = []
    cursor = request.cursor
    for _ in range(SCAN_BUDGET_PAGES):
        page = fetch(request.limit - len(found), cursor)
        found.extend(item for item in page.items if keep(item))
        cursor = page.next_cursor
        if cursor is None or len(found) == request.limit:
            break
    return Page(found, cursor)


def page_of_list(items: Sequence[T], key: Callable[[T], Any], request: PageRequest) -> Page[T]:
    """A page of a whole list sorted ascending by ``key`` (JSON values: numbers, text, lists of them)."""
    after = _decode(request.cursor) if request.cursor else None
    try:
        remaining = [item for item in items if after is None or _comparable(key(item)) > after]
    except TypeError as error:  # a cursor of another list: its key does not compare with these
        raise InvalidCursor(f"invalid page cursor: {request.cursor!r}") from error
    chosen = remaining[: request.limit]
    more = len(remaining) > request.limit
    return Page(chosen, _encode(key(chosen[-1])) if more else None)


def _comparable(value: Any) -> Any:
    # JSON turns tuples into lists: compare in the decoded form
    return list(value) if isinstance(value, tuple) else value


def _encode(value: Any) -> str:
    raw = json.dumps(_comparable(value), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursor(f"invalid page cursor: {cursor!r}") from error
