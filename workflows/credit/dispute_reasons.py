"""A dispute's lines as one text in its reader's language: "HX-4410 £2,400.00 (price)" in English,
"发票 HX-4410 £2,400.00（价格）" in Chinese.

The task instructions say them through their `dispute_lines` filter (engine.task_texts: instructions render
in the server without loops, so the lines are joined here, not by a template loop) and the case-data table
shows them alike (webui/case_labels). The reasons are the dispute form's fixed choice (REASONS; the form's
`enum_titles_zh` say the same words in Chinese, tests/bpmn/test_dispute_lines.py holds them equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.engine.script_money import MONEY_BY_LANGUAGE

REASONS = ("price", "quantity", "quality", "delivery", "duplicate", "other")

# How each language names a reason inside a line.
REASON_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "price": "price",
        "quantity": "quantity",
        "quality": "quality",
        "delivery": "delivery",
        "duplicate": "duplicate invoice",
        "other": "other reason",
    },
    "zh": {
        "price": "价格",
        "quantity": "数量",
        "quality": "质量",
        "delivery": "交货",
        "duplicate": "重复开票",
        "other": "其他",
    },
}
MAX_SHOWN = 200  # lines in one dispute (dispute_input.MAX_LINES): more is not our data
# The most the instructions' filter writes: 200 lines of 80-character invoice numbers say ~23,000 characters,
# past the instructions' cap (engine.task_texts.MAX_INSTRUCTIONS_CHARS, 20,000), and the task could not be
# shown, so a dispute the API accepts failed to open. With a 4,000-character description and findings beside
# them the instructions stay well below the cap. The case-data table still shows every line.
MAX_SAID_CHARS = 8_000
# What stands for the lines left out.
MORE_LINES = {"en": "and %(count)s more invoices", "zh": "另有 %(count)s 张发票未列出"}


def _line(line: Mapping[str, Any], currency: Any, language: str) -> str:
    # `number` in the case data; `invoice` in the dispute's history event (workflows/credit/disputes.py).
    number = str(line.get("number", line.get("invoice", "")))[:80]
    amount = MONEY_BY_LANGUAGE[language](line.get("amount"), currency)
    code = line.get("reason")
    reason = REASON_WORDS[language].get(code, str(code)[:40]) if isinstance(code, str) else ""
    if language == "zh":
        return f"发票 {number} {amount}（{reason}）" if reason else f"发票 {number} {amount}"
    return f"{number} {amount} ({reason})" if reason else f"{number} {amount}"


def lines_said(lines: Any, currency: Any, language: str, max_chars: int | None = None) -> str | None:
    """The lines (a list of {number, amount, reason}) as `language` ("en", "zh") writes them, amounts as
    money in `currency`; None when `lines` is not such a list (an odd or old value: shown as stored).
    With `max_chars`, the lines that fit, then how many more there are ("and 37 more invoices")."""
    if (
        not isinstance(lines, list)
        or not lines
        or len(lines) > MAX_SHOWN
        or not all(isinstance(line, Mapping) and "amount" in line and "reason" in line for line in lines)
    ):
        return None
    language = language if language in REASON_WORDS else "en"
    separator = "；" if language == "zh" else ", "
    said = [_line(line, currency, language) for line in lines]
    if max_chars is None:
        return separator.join(said)
    kept: list[str] = []
    length = 0
    for part in said:
        length += len(part) + len(separator)
        if length > max_chars:
            break
        kept.append(part)
    if len(kept) < len(said):
        kept.append(MORE_LINES[language] % {"count": len(said) - len(kept)})
    return separator.join(kept)


def dispute_lines_filter(language: str) -> Any:
    """The instructions' `dispute_lines` filter for a text in `language`: `{{ dispute | dispute_lines }}`
    writes the dispute's `lines` in its `currency`; a dispute stored before the lines were (it has only the
    English `lines_text`) is written as that text."""

    def dispute_lines(dispute: Any) -> str:
        if not isinstance(dispute, Mapping):
            return ""
        said = lines_said(dispute.get("lines"), dispute.get("currency"), language, MAX_SAID_CHARS)
        return said if said is not None else str(dispute.get("lines_text") or "")

    return dispute_lines
