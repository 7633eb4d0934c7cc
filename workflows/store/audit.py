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
