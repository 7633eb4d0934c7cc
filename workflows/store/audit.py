"""Append-only audit trail: every state change, with who made it and when."""

from __future__ import annotations

from datetime import datetime
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
