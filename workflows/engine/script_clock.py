"""The `date` and `datetime` scripts see: the real classes, except that "now" is the step's time.

SpiffWorkflow's timers already see the step's `now` (engine.patches); a script asking
`datetime.now(timezone.utc)` read the wall clock instead, so in simulated-clock mode (and in a `tick
--now`) it computed due dates from another day than every other action of its step. `date.today()` even
failed (the sandbox has no `__import__`, which the C implementation needs to read the clock).

The classes below are never instantiated: constructing one, or any of their classmethods, yields a plain
`date`/`datetime` (task data holds only those), and `isinstance(x, datetime)` in a script tests against
the real class. The server sets the time for each step (`scripts_see`); the script worker gets it with
each request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, tzinfo
from typing import Any

_script_now: ContextVar[datetime | None] = ContextVar("creditflow_script_now", default=None)


def script_now() -> datetime | None:
    """The time scripts see now (None: the wall clock)."""
    return _script_now.get()


@contextmanager
def scripts_see(now: datetime | None) -> Iterator[None]:
    """Make scripts' `datetime.now()`, `datetime.utcnow()` and `date.today()` answer `now`."""
    token = _script_now.set(now)
    try:
        yield
    finally:
        _script_now.reset(token)


def _current() -> datetime:
    return _script_now.get() or datetime.now(UTC)


class _RealClass(type):
    """`isinstance`/`issubclass` against a script's `date` or `datetime` mean the real class."""

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls.__mro__[1])

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls.__mro__[1])


class ScriptDate(date, metaclass=_RealClass):
    def __new__(cls, *args: Any, **kwargs: Any) -> date:  # type: ignore[misc]
        return date(*args, **kwargs)

    @classmethod
    def today(cls) -> date:  # type: ignore[override]  # a plain date, never this class
        return _current().date()


class ScriptDateTime(datetime, metaclass=_RealClass):
    def __new__(cls, *args: Any, **kwargs: Any) -> datetime:  # type: ignore[misc]
        return datetime(*args, **kwargs)

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]  # a plain datetime
        # As datetime.now: naive without a zone (the server's zone is UTC), aware in the zone given.
        return _current().astimezone(tz) if tz else _current().astimezone(UTC).replace(tzinfo=None)

    @classmethod
    def utcnow(cls) -> datetime:  # type: ignore[override]  # a plain datetime
        return _current().astimezone(UTC).replace(tzinfo=None)

    @classmethod
    def today(cls) -> datetime:  # type: ignore[override]  # a plain datetime
        return cls.now()
