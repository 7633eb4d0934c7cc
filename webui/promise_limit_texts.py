"""A promise's broken limits (DunningPromise.outside, a promise record's `outside` in the case data, its
dunning event) as a page says them: the customer page, task and instance pages, the dunning timeline."""

from __future__ import annotations

from typing import Any

from webui.i18n import current_language
from webui.stored_sentences import said_stored, stored_msgid
from workflows.credit.promise_limits import LIMIT_MSGIDS, SEPARATORS, is_limit, limit_said

ENGLISH = "en"
# The handler writes at most three limits, as sentences before the codes: only that many items of a list
# are tried against the catalogue, and only one holding a limit sentence's words. A list a starter typed
# under `outside` (thousands of near-msgid strings) was recognised item by item, seconds per page.
_MOST_RECOGNISED = 3
_WORDS = ("days ahead, more than", " overdue (", "open or broken promises already")


def promise_limits_said(value: list[Any]) -> str:
    """The limits in the page's language: stored codes said with their amounts as the page writes money
    (workflows/credit/promise_limits), the English sentences stored before the codes re-said (said_stored,
    on a Chinese page; amounts as they were stored), any other value as stored (never a msgid it happens
    to equal)."""
    language = current_language()
    said = []
    for at, part in enumerate(value):
        if is_limit(part):
            said.append(limit_said(part, language))
        elif _stored_sentence(part, at) and language != ENGLISH and stored_msgid(part) in LIMIT_MSGIDS:
            said.append(said_stored(part))
        else:
            said.append("" if part is None else str(part))
    return SEPARATORS.get(language, SEPARATORS[ENGLISH]).join(said)


def _stored_sentence(part: Any, at: int) -> bool:
    """Whether `part` may be a limit sentence stored before the codes (cheap: no catalogue search)."""
    return at < _MOST_RECOGNISED and isinstance(part, str) and any(words in part for words in _WORDS)
