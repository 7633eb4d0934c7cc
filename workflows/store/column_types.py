"""Column types every model uses: timezone-aware UTC times, calendar days and exact two-place decimals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import BigInteger, Date, DateTime, TypeDecorator
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: creditflow stores only timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ReadableDate(TypeDecorator[date]):
    """A calendar day that always reads: a stored day no reader can parse reads as None (no day known).

    SQLite keeps days as text, and a hand edit or another tool can leave text that is no day ("2026-13-45"):
    SQLAlchemy's reader raises on it, so every page that loads the row (a collections case, the worklist, the
    credit file) would fail for a value the reader cannot change. PostgreSQL refuses such a day when written.
    """

    impl = Date
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[object], date | None] | None:
        strict = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)
        if strict is None:  # the driver gives date objects (PostgreSQL)
            return None

        def tolerant(value: object) -> date | None:
            try:
                return strict(value)
            except ValueError:
                return None

        return tolerant


class Decimal2(TypeDecorator[Decimal]):
    """An exact decimal with two places (money, ratios), stored as an integer of hundredths.

    SQLite has no exact decimal type; integers keep sums and comparisons exact on every backend.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be a Decimal, not a float")
        return int((Decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else (Decimal(value) / 100).quantize(Decimal("0.01"))
