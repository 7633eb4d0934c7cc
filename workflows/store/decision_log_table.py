"""The decision_log table (migration 0014b): one row per DMN evaluation a process step makes
(a business rule task's, or a service task handler's; see workflows/decision_log.py).

Written by the engine's step (`workflows.engine.step`), read by `workflows.decision_log`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.store.models import Base


class DecisionLogEntry(Base):
    __tablename__ = "decision_log"
    __table_args__ = (
        # The instance page pages an instance's rows, all or those of one decision, in the order they ran.
        Index("ix_decision_log_instance", "instance_id", "id"),
        Index("ix_decision_log_instance_decision", "instance_id", "decision_id", "id"),
        # Replaying a decision over a period (issue 18's what-if) reads one decision's rows by time.
        Index("ix_decision_log_decision_at", "decision_id", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a decision taken outside an instance.
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    process_key: Mapped[str | None] = mapped_column(String(120))
    version: Mapped[int | None]
    decision_id: Mapped[str] = mapped_column(String(120))
    # the business rule task, or the service task whose handler evaluated the table
    bpmn_id: Mapped[str | None] = mapped_column(String(120))
    inputs: Mapped[dict[str, Any]]  # input expression -> its value
    outputs: Mapped[dict[str, Any]]
    rules: Mapped[list[Any]]  # [{"row": 2, "id": "rule_b"}], empty when no rule matched
    at: Mapped[datetime]
