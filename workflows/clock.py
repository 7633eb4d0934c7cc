"""The injectable clock: every time-dependent function takes `now`; this module supplies it.

Two modes ([clock] mode in config/default.toml): `real` reads the wall clock; `simulated` reads one time
stored in the database that only moves forward (workflows/store/stored_clock.py), so that a training or
test environment can walk a case through months in minutes, with every action happening at that time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

REAL, SIMULATED = "real", "simulated"
CLOCK_MODES = (REAL, SIMULATED)

# What the entry points hand down: call it for "now" (timezone-aware UTC).
Clock = Callable[[], datetime]


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


def parse_start(value: str) -> datetime | None:
    """The configured start of the simulated clock ([clock] start), or None when it is empty.

    Raises:
        ValueError: the value is not ISO 8601.
    """
    return parse_now(value) if value else None
