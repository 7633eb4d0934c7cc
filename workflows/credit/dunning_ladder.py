"""The deploy-time check of dunning_policy.dmn: a ladder a case can climb and promise limits that limit.

A process owner's table with a negative day, levels that fall back, or a promise limit outside its range
would open cases before anything is due, send two levels on one day, or let every promise through; the
daily run and the reviews would only find out on a customer. The deployment is refused instead.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import Any, TypeGuard

from workflows.credit.customers import GRADES
from workflows.engine.decisions import DecisionError, evaluate_decision

LADDER_FILE, LADDER_DECISION = "dunning_policy.dmn", "dunning_policy"
LEVELS = ("level_1_days", "level_2_days", "level_3_days", "level_4_days")
PROMISE_DAYS = ("promise_max_days", "promise_max_count", "promise_grace_days")
CENT = Decimal("0.01")


def ladder_problems(text: str) -> list[str]:
    """What makes the ladder unusable, per grade ("" for ungraded customers). Empty when it is sound."""
    problems: list[str] = []
    for grade in ("", *GRADES):
        shown = repr(grade) if grade else "ungraded"
        try:  # today's table reads standing["grade"], the versions before dunning.current_grade case["grade"]
            row = evaluate_decision(
                text, LADDER_DECISION, {"standing": {"grade": grade}, "case": {"grade": grade}}
            )
        except DecisionError as exc:
            problems.append(f"grade {shown}: {exc}")
            continue
        if not row:
            problems.append(f"grade {shown}: no rule matches; every grade needs a ladder")
            continue
        found = [row.get(name) for name in LEVELS]
        days = [d for d in found if _whole(d)]
        if len(days) != len(LEVELS):
            problems.append(f"grade {shown}: level days must be whole numbers, not {found}")
        elif days[0] < 0 or any(b <= a for a, b in zip(days, days[1:], strict=False)):
            problems.append(
                f"grade {shown}: level days {days} must start at 0 or later and rise from level to level"
            )
        problems.extend(_promise_problems(shown, row))
    return problems


CHARGES_FILE, CHARGES_DECISION = "dunning_charges.dmn", "dunning_charges"
FEES = ("fee_level_1", "fee_level_2", "fee_level_3")
RATES = ("interest_reference_rate", "interest_margin_points")
# Every currency the table names is probed, plus these: the demo's, and "XXX" (ISO 4217's "no currency"),
# which no table names, so it stands for any code a customer may hold that the table does not list: that
# one must still get an answer (the last rule "any other currency"), or a case in it fails when it opens.
PROBE_CURRENCIES = ("EUR", "GBP", "CNY", "USD", "XXX")
_NAMED_CURRENCY = re.compile(r'"([A-Z]{3})"')


def _currencies_to_probe(text: str) -> list[str]:
    """The fixed probes and every quoted three-letter code in the table (its rules' input entries)."""
    return sorted({*PROBE_CURRENCIES, *_NAMED_CURRENCY.findall(html.unescape(text))})


def charges_problems(text: str) -> list[str]:
    """What makes the fees and interest table unusable, per currency probed. Empty when it is sound."""
    problems: list[str] = []
    for currency in _currencies_to_probe(text):
        try:
            row = evaluate_decision(text, CHARGES_DECISION, {"case": {"currency": currency}})
        except DecisionError as exc:
            problems.append(f"currency {currency}: {exc}")
            continue
        if not row:
            problems.append(
                f"currency {currency}: no rule matches; end the table with a rule for any other currency"
            )
            continue
        for name in (*FEES, *RATES):
            try:
                value = Decimal(str(row.get(name)))
            except ArithmeticError:
                value = Decimal("NaN")
            if not (value.is_finite() and value >= 0) or (name in FEES and value != value.quantize(CENT)):
                problems.append(
                    f"currency {currency}: {name} must be an amount of 0 or more, not {row.get(name)!r}"
                )
        if not isinstance(row.get("interest_on"), bool):
            problems.append(
                f"currency {currency}: interest_on must be True or False, not {row.get('interest_on')!r}"
            )
    return problems


def _promise_problems(shown: str, row: dict[str, Any]) -> list[str]:
    if not any(name in row for name in (*PROMISE_DAYS, "promise_min_pct")):
        return []  # a table without promise limits (the versions before them): nothing to check
    problems = [
        f"grade {shown}: {name} must be a whole number of 0 or more, not {row.get(name)!r}"
        for name in PROMISE_DAYS
        if not (_whole(row.get(name)) and row[name] >= 0)
    ]
    try:
        pct = Decimal(str(row.get("promise_min_pct")))
    except ArithmeticError:
        pct = Decimal("NaN")
    if not (pct.is_finite() and 0 <= pct <= 100):
        problems.append(
            f"grade {shown}: promise_min_pct must be from 0 to 100, not {row.get('promise_min_pct')!r}"
        )
    return problems


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
