"""The injectable clock: every time-dependent function takes `now`; this module supplies it.

Two modes ([clock] mode in config/default.toml): `real` reads the wall clock; `simulated` reads one time
stored in the database that only moves forward (workflows/store/stored_clock.py), so that a training or
test environment can walk a case through months in minutes, with every action happening at that time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from workflows.messages import _

REAL, SIMULATED = "real", "simulated"
# The times a tick, a clock move or [clock] start may name: the daily jobs count days and months back and
# forth from `now` (year 1 or 9999 overflows), and a simulated clock never moves back from a typo.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)
CLOCK_MODES = (REAL, SIMULATED)

# What the entry points hand down: call it for "now" (timezone-aware UTC).
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The real current time, timezone-aware UTC."""
    return datetime.now(UTC)


def parse_now(value: str | None) -> datetime:
    """Parse an ISO 8601 `--now`/`now` value (naive means UTC); None means the real time.

    Raises:
        ValueError: the value is not ISO 8601, or lies outside EARLIEST..LATEST.
    """
    if not value:
        return utcnow()
    try:
        parsed = datetime.fromisoformat(value)
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+14:00 lies before year 1 in UTC
        raise ValueError(_("'%(value)s' lies outside the years a clock can show", value=value)) from exc
    if not EARLIEST <= parsed < LATEST:
        raise ValueError(
            _(
                "the time must lie from %(first)s to %(last)s, not '%(value)s'",
                first=EARLIEST.year,
                last=LATEST.year - 1,
                value=value,
            )
        )
    return parsed


def parse_start(value: str) -> datetime | None:
    """The configured start of the simulated clock ([clock] start), or None when it is empty.

    Raises:
        ValueError: the value is not ISO 8601.
    """
    return parse_now(value) if value else None
