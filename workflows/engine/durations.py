"""Due dates from ISO 8601 durations (a user task's due-in, e.g. P2D), with SpiffWorkflow's calendar rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from workflows.messages import _


def iso_duration(expression: str, start: datetime) -> datetime:
    """`start` plus an ISO 8601 duration such as P2D or PT4H (calendar months honoured).

    Raises:
        ValueError: the expression is not an ISO 8601 duration.
    """
    if not expression.upper().startswith("P"):
        raise ValueError(_("'%(expression)s' is not an ISO 8601 duration such as P2D", expression=expression))
    # A copy: get_timedelta_from_start pops the parts it reads.
    parts = dict(_duration_parts(expression))
    delta: timedelta = TimerEventDefinition.get_timedelta_from_start(parts, start)
    return start + delta


@lru_cache(maxsize=256)
def _duration_parts(expression: str) -> dict[str, float]:
    # A diagram's few due-date expressions are parsed once each, not at every task a step opens (SpiffWorkflow
    # parses with a regular expression per call).
    parts: dict[str, float] = TimerEventDefinition.parse_iso_duration(expression)
    return parts
