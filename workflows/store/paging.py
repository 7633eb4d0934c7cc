"""Paging for every list the API and the web show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

MAX_PER_PAGE = 200

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, with what the pager needs."""

    items: list[T]
    total: int
    page: int
    per_page: int
    # The count stopped early (the inbox counts up to a limit): there are more than `total` rows.
    total_is_lower_bound: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_more(self) -> bool:
        """A page follows this one (a lower-bound total ends past this page, see workflows/inbox.py)."""
        return self.total_is_lower_bound or self.page * self.per_page < self.total


def page_rows(session: Session, query: Any, page: int, per_page: int) -> tuple[list[Any], int]:
    """One page of a query's rows (per_page capped at 200) and the total count."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    rows = session.scalars(query.limit(per_page).offset((max(1, page) - 1) * per_page))
    return list(rows), total
