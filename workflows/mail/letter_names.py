"""File names of the PDF letters an e-mail carries, in the reader's language.

A reader sees the attachment's name before opening it: a Chinese customer's dunning notice is
`第二次催款函-催收案件7.pdf`, an English one's `dunning-notice-7-level-2.pdf`. Names hold only our references
(case, instance), never a customer's name: a name may hold characters no file system takes. The MIME header
that carries a non-ASCII name is written by workflows.mail.smtp (RFC 2231, with an RFC 2047 fallback).
"""

from __future__ import annotations

from collections.abc import Mapping

# The zh dunning notice's own heading per level (config/templates/zh/dunning_notice.*); level 1 has no PDF.
_ZH_NOTICE_TITLES = {2: "第二次催款函", 3: "最后催款函"}


def dunning_notice_files(case_id: int, level: int) -> Mapping[str, str]:
    """The dunning notice's PDF name per language."""
    title = _ZH_NOTICE_TITLES.get(level, f"第{level}次催款函")
    return {"en": f"dunning-notice-{case_id}-level-{level}.pdf", "zh": f"{title}-催收案件{case_id}.pdf"}


def approval_letter_files(instance_id: int) -> Mapping[str, str]:
    """The credit limit letter's PDF name per language."""
    return {"en": f"credit-limit-letter-{instance_id}.pdf", "zh": f"信用额度确认函-{instance_id}.pdf"}


def legal_case_file_files(case_id: int) -> Mapping[str, str]:
    """The legal case file's PDF name per language."""
    return {"en": f"case-file-{case_id}.pdf", "zh": f"移交法务案卷-催收案件{case_id}.pdf"}


def file_for(names: str | Mapping[str, str], language: str) -> str:
    """The name a reader of `language` gets: theirs, else the English one (one name serves every reader)."""
    if isinstance(names, str):
        return names
    return names.get(language) or names["en"]
