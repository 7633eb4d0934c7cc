"""The promise limits a promise to pay breaks (handlers/dunning_promises.py), said in the reader's language.

A broken limit is stored as a code with its figures, {"limit": "date", "days": 35, "max": 30}, in the case
data (`promise_record.outside`), on the promise (DunningPromise.outside) and in its dunning event; each
reader says it in their own words and writes its amounts as they do: "the date is 35 days ahead, more than
30" / "承诺付款日在 35 天之后，超过上限 30 天", "CN¥20,000.00" / "¥20,000.00". Until issue 20 the handler
stored the English sentence itself (its amounts written the English way), so a zh page could only re-say
the sentence around "CN¥20,000.00"; such stored sentences are still shown as they were stored here (pages
re-say them through webui.stored_sentences).

The sentences are catalogue msgids, looked up in the reader's catalogue directly: instructions render at
step time, outside any web request, for each language a diagram writes (engine.waits).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from jinja2 import pass_eval_context
from jinja2.filters import do_join
from jinja2.nodes import EvalContext

from workflows.engine.script_money import MONEY_BY_LANGUAGE
from workflows.languages import LANGUAGES
from workflows.messages import Text, _, translated

DATE, SHARE, COUNT = "date", "share", "count"
# Each code's figures, as stored.
_FIGURES: dict[str, tuple[str, ...]] = {
    DATE: ("days", "max"),
    SHARE: ("amount", "pct", "overdue", "floor", "currency"),
    COUNT: ("held", "max"),
}
# How each language joins the limits in one text.
SEPARATORS = {"en": "; ", "zh": "；"}
# The web UI's catalogues (webui/translations/<locale>/LC_MESSAGES/messages.mo, compiled by make setup).
_CATALOGUES = Path(__file__).resolve().parents[2] / "webui" / "translations"


def date_limit(days: int, most: int) -> dict[str, Any]:
    """The promised date is `days` ahead, more than the `most` the policy allows."""
    return {"limit": DATE, "days": days, "max": most}


def share_limit(
    amount: Decimal, pct: Decimal, overdue: Decimal, floor: Decimal, currency: str
) -> dict[str, Any]:
    """The promised amount is less than `pct` % of the overdue amount (`floor`), amounts in `currency`."""
    return {
        "limit": SHARE,
        "amount": f"{amount:.2f}",
        "pct": str(pct),
        "overdue": f"{overdue:.2f}",
        "floor": f"{floor:.2f}",
        "currency": currency,
    }


def count_limit(held: int, most: int) -> dict[str, Any]:
    """The case holds `held` open or broken promises already, at most `most`."""
    return {"limit": COUNT, "held": held, "max": most}


def is_limit(item: Any) -> bool:
    """Whether `item` is a broken limit as the handler stores it (a code and all its figures)."""
    if not isinstance(item, Mapping):
        return False
    code = item.get("limit")
    figures = _FIGURES.get(code) if isinstance(code, str) else None
    return figures is not None and all(name in item for name in figures)


def _sentence(item: Mapping[str, Any], language: str) -> Text:
    """The limit's sentence (its English Text), amounts written as a reader of `language` writes them."""
    kind = item["limit"]
    if kind == DATE:
        return _("the date is %(days)s days ahead, more than %(max)s", days=item["days"], max=item["max"])
    if kind == COUNT:
        return _(
            "the case holds %(held)s open or broken promises already, at most %(max)s",
            held=item["held"],
            max=item["max"],
        )
    money = MONEY_BY_LANGUAGE.get(language, MONEY_BY_LANGUAGE["en"])
    currency = item["currency"]
    return _(
        "%(amount)s is less than %(pct)s %% of the %(overdue)s overdue (%(floor)s)",
        amount=money(item["amount"], currency),
        pct=item["pct"],
        overdue=money(item["overdue"], currency),
        floor=money(item["floor"], currency),
    )


# The sentences' msgids: a sentence stored before the codes is one of these (webui.promise_limit_texts).
LIMIT_MSGIDS = frozenset(
    _sentence(item, "en").msgid
    for item in (
        date_limit(0, 0),
        share_limit(Decimal(0), Decimal(0), Decimal(0), Decimal(0), "EUR"),
        count_limit(0, 0),
    )
)


@cache
def _catalogue(language: str) -> NullTranslations:
    if language == "en":  # the msgids are English
        return NullTranslations()
    return Translations.load(str(_CATALOGUES), [LANGUAGES.get(language, language)])


def limit_said(item: Any, language: str) -> str:
    """One stored limit in `language` ("en", "zh"): a code with its figures as that reader says it; anything
    else (an English sentence stored before the codes, an odd value) as it is."""
    if not is_limit(item):
        return "" if item is None else str(item)
    return translated(_sentence(item, language), _catalogue(language).gettext)


def limits_said(items: Any, language: str) -> str:
    """A stored list of limits in `language`, joined as that language joins them."""
    if not isinstance(items, list | tuple):
        return "" if items is None else str(items)
    return SEPARATORS.get(language, SEPARATORS["en"]).join(limit_said(item, language) for item in items)


def english_limits(items: Iterable[Any]) -> list[str]:
    """The limits as the API gives them: English sentences (rows from before the codes hold those already)."""
    return [limit_said(item, "en") for item in items]


def limits_filter(language: str) -> Callable[[Any], str]:
    """The instructions' `promise_limits` filter for a text in `language`."""

    def promise_limits(items: Any) -> str:
        return limits_said(items, language)

    return promise_limits


def joined_filter(language: str) -> Callable[..., str]:
    """Jinja's `join` for a text in `language`, saying a stored limit among the items as that reader does."""

    @pass_eval_context
    def join(eval_ctx: EvalContext, value: Any, d: str = "", attribute: str | int | None = None) -> str:
        if attribute is None and isinstance(value, list | tuple) and any(is_limit(item) for item in value):
            value = [limit_said(item, language) if is_limit(item) else item for item in value]
        return str(do_join(eval_ctx, value, d, attribute))

    return join
