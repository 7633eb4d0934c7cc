"""The injectable clock: every time-dependent function takes `now`; this module supplies it."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The real current time, timezone-aware UTC."""
    return datetime.now(UTC)


def parse_now(value: str | None) -> datetime:
    """Parse an ISO 8601 `--now`/`now` value (naive means UTC); None means the real time.

    Raises:
        ValueError: the value is not ISO 8601.
    """
    if not value:
        return utcnow()
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
