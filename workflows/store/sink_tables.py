"""The table of the built-in SMTP sink: every message it received, shown at /mail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workflows.store.models import Base


class SinkMessage(Base):
    """A message received by the built-in SMTP sink, shown at /mail."""

    __tablename__ = "sink_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime]
    mail_from: Mapped[str] = mapped_column(String(300))
    rcpt_to: Mapped[str] = mapped_column(String(1000))
    subject: Mapped[str] = mapped_column(String(500))
    message_id: Mapped[str] = mapped_column(String(300))
    raw: Mapped[str] = mapped_column(Text)
