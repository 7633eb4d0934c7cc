"""Who signs the letters and e-mails: the company named in [mail] company_name / company_name_zh.

The names travel with the session (`Session.info`, filled by the Runtime's session factory), because every
e-mail is queued inside a step's or a job's transaction and queue_email has no other way to the settings
without each of its callers passing them. A session made without them (a test's own factory) signs with
the department alone, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from workflows.settings import MailSettings

_INFO_KEY = "creditflow.company"


@dataclass(frozen=True)
class CompanyNames:
    en: str = ""
    zh: str = ""

    def in_language(self, language: str) -> str:
        """The name a reader of `language` is written to with; a Chinese reader gets the English name when
        no Chinese one is configured."""
        return (self.zh if language == "zh" else "") or self.en


def session_info(mail: MailSettings) -> dict[str, Any]:
    """What the Runtime's sessions carry so that queue_email signs letters (make_session_factory's info)."""
    return {_INFO_KEY: CompanyNames(mail.company_name.strip(), mail.company_name_zh.strip())}


def company_of(session: Session) -> CompanyNames:
    """The company names a session's letters are signed with (none when the session carries none)."""
    found = session.info.get(_INFO_KEY)
    return found if isinstance(found, CompanyNames) else CompanyNames()
