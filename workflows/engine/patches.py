"""Every monkey-patch of SpiffWorkflow 3.2, in one place; each is pinned by tests/engine/test_patches.py.

SpiffWorkflow reads the wall clock inside its timer module and JSON-decodes service results with
floats. Both are module globals we cannot pass in, so they are swapped once, on import of this module
(engine.spiff imports it), for versions that honour the step's injected `now` and keep Decimal/date
values exact.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer
import SpiffWorkflow.spiff.specs.mixins.service_task as spiff_service_task

_step_now: ContextVar[datetime | None] = ContextVar("creditflow_step_now", default=None)


class _StepClock(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        current = _step_now.get() or datetime.now(UTC)
        return current.astimezone(tz) if tz else current.replace(tzinfo=None)


def encode_value(value: Any) -> Any:
    """JSON `default=` hook that tags Decimal, date and datetime values for the decoder below."""
    if isinstance(value, Decimal):
        return {"__decimal__": str(value)}
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, date):
        return {"__date__": value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _decode_value(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if "__decimal__" in obj:
            return Decimal(obj["__decimal__"])
        if "__date__" in obj:
            return date.fromisoformat(obj["__date__"])
        if "__datetime__" in obj:
            return datetime.fromisoformat(obj["__datetime__"])
    return obj


@contextmanager
def step_clock(now: datetime) -> Iterator[None]:
    """Make SpiffWorkflow's timers see `now` for the duration of one step."""
    token = _step_now.set(now)
    try:
        yield
    finally:
        _step_now.reset(token)


# Upstream: SpiffWorkflow.bpmn.specs.event_definitions.timer calls `datetime.now(timezone.utc)` to decide
# whether a timer is due; we make it see the step's clock.
spiff_timer.datetime = _StepClock

# Upstream: SpiffWorkflow.spiff.specs.mixins.service_task calls `json.loads(result)` on a service task's
# result, which turns money into floats; ours decodes the tagged Decimal/date/datetime values exactly.
spiff_service_task.json = types.SimpleNamespace(
    loads=lambda text: json.loads(text, object_hook=_decode_value)
)
