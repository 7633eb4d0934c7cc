"""Append-only audit trail: every state change, with who made it and when."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from workflows.store.models import AuditEvent


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    now: datetime,
    instance_id: int | None = None,
    task_id: int | None = None,
    bpmn_id: str | None = None,
    **detail: Any,
) -> None:
    """Add one audit row to the caller's transaction."""
    session.add(
        AuditEvent(
            instance_id=instance_id,
            task_id=task_id,
            bpmn_id=bpmn_id,
            actor=actor,
            action=action,
            detail=detail,
            at=now,
        )
    )


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`before=` and `after=` for `record_event` (or a dunning event): only the fields whose value changed.

    Values are what JSON stores (the caller passes dates and amounts as text); the audit trail
    (workflows/audit_trail.py) lists them as the change's before and after.
    """
    keys = [k for k in after if before.get(k) != after[k]]
    return {"before": {k: before.get(k) for k in keys}, "after": {k: after[k] for k in keys}}


def as_recorded(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A record's fields as the audit trail stores them: amounts and ratios as text (no float rounding),
    dates as ISO 8601; nested terms likewise. A creation passes them as `after=`."""
    return {key: _recorded(value) for key, value in fields.items()}


def _recorded(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return as_recorded(value)
    if isinstance(value, list | tuple):
        return [_recorded(v) for v in value]
    return value
