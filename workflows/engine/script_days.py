"""`day(value)` for diagrams' subjects and instructions: a day as its reader writes it.

Task data holds days as ISO text ("2026-05-01") or as dates; a subject that wrote `str(...)` of one showed
"2026-05-01" in a Chinese approver's inbox (R21's F-1). A subject is a Python expression, so English and
Chinese subjects both call `day(...)`, as they call `money(...)`: the engine hands a `subject_zh` the Chinese
one (waits._subject). Instructions templates get the same through their `day` filter (task_texts). Both
functions are module-level, so a snippet that runs in the script worker can take them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from jinja2 import Undefined

from workflows.mail.templates import format_when_for


def day_in(value: Any, language: str) -> str:
    """`value` (a date, a datetime, or its ISO text) as a reader of `language` writes it: "1 May 2026",
    "2026年5月1日" ("... 09:30 UTC" after a time); any other value as it is, nothing for none."""
    if isinstance(value, str | date):  # a datetime is a date too
        try:
            return format_when_for(value, language=language)
        except OverflowError:  # a time whose UTC day is outside years 1-9999 ("0001-01-01T00:00+14:00")
            return str(value)  # shown as typed, not the whole text dropped for it
    # A helper handed over by mistake (`day(day)`, `day(money)`) has nothing to show but its memory address.
    return "" if value is None or isinstance(value, Undefined) or callable(value) else str(value)


def day(value: Any) -> str:
    """A day as English texts write it: "1 May 2026"."""
    return day_in(value, "en")


def day_zh(value: Any) -> str:
    """A day as Chinese texts write it: "2026年5月1日"."""
    return day_in(value, "zh")


# The `day` each language's subject expression calls.
DAY_BY_LANGUAGE = {"en": day, "zh": day_zh}
