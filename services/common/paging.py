"""Offset paging: ask the database for one row more than a page holds, so the answer can say
whether another page follows without a second query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def page_size_to_fetch(limit: int) -> int:
    return limit + 1


def cut_page(rows: Sequence[T], limit: int, offset: int) -> tuple[list[T], int | None]:
    """The page (the first ``limit`` of ``rows``, fetched with :func:`page_size_to_fetch`) and
    the offset the next page starts at, or None when this page is the last."""
    more = len(rows) > limit
    return list(rows[:limit]), offset + limit if more else None
