"""`money(amount, currency)` for diagrams' subjects and instructions: an amount as its reader writes it.

A subject is a Python expression, so English and Chinese subjects both call `money(...)`; the engine hands
a `subject_zh` the Chinese one (waits._subject). Both write the currency as CLDR does for their reader:
"€200,000.00" in either language, "¥1,200,000.00" in Chinese where English writes "CN¥1,200,000.00".
Instructions templates get the same through their `money` filter (task_texts). Both functions are
module-level, so a snippet that runs in the script worker can take them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workflows.languages import LANGUAGES
from workflows.money import MAX_AMOUNT, as_decimal, format_money

# Beyond any amount creditflow stores (MAX_AMOUNT): such a value is shown as it is, never grouped digit
# by digit (a Decimal of 10**5000 would cost Babel a 5,000-digit text inside the server).
_MOST_DIGITS = len(str(int(MAX_AMOUNT))) + 3


def _shown(amount: Any, currency: Any, locale: str, empty: str = "-") -> str:
    if callable(amount) or callable(currency):  # `money(money)`: a helper's repr would show its address
        return empty
    number = as_decimal(amount)
    if number is not None and number.is_finite() and number != 0 and number.adjusted() > _MOST_DIGITS:
        return f"{number:E} {str(currency or '')[:10]}".strip()
    code = str(currency)[:10].strip().upper() if currency not in (None, "") else None
    return format_money(amount, code, locale=locale, empty=empty)


def money(amount: Any, currency: Any = None) -> str:
    """An amount as English texts write it: "€200,000.00", "CN¥1,200,000.00" (Babel's en)."""
    return _shown(amount, currency, LANGUAGES["en"])


def money_zh(amount: Any, currency: Any = None) -> str:
    """An amount as Chinese texts write it: "€200,000.00", "¥1,200,000.00" (Babel's zh_Hans)."""
    return _shown(amount, currency, LANGUAGES["zh"])


# The `money` each language's subject expression calls.
MONEY_BY_LANGUAGE = {"en": money, "zh": money_zh}


def money_filter(language: str) -> Callable[..., str]:
    """The instructions' `money` filter for a text in `language`: `{{ amount | money(currency) }}`;
    `locale=` and `empty=` still choose otherwise, as they did when the filter was format_money."""
    default = LANGUAGES[language]

    def filter_money(
        amount: Any, currency: Any = None, *, empty: str = "-", locale: str | None = None
    ) -> str:
        return _shown(amount, currency, str(locale or default), str(empty))

    return filter_money
