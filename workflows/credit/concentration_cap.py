"""The concentration cap (bpmn/concentration_cap.dmn) as deployed: the most of the book's receivables one
customer may owe, in percent. One function reads it for everything that compares an exposure with it: the
KPIs' largest exposure (workflows/credit/kpis.py), the dashboard's top exposures and the watchlist's
concentration indicator (bpmn/early_warning.dmn reads it as concentration_cap_percent).

It is read, as the early-warning table is, from the newest active credit_limit_review version that carries
it: a process owner changes it by deploying, and a second process owner approves the version.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.orm import Session

from workflows.credit.fx import CENT
from workflows.credit.watchlist_rules import RULES_PROCESS, newest_policy_file
from workflows.engine.decisions import DecisionError, evaluate_decision
from workflows.errors import message_of
from workflows.messages import _

CAP_FILE, CAP_DECISION, CAP_OUTPUT = "concentration_cap.dmn", "concentration_cap", "cap_percent"
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Cap:
    """The cap in percent of the book's receivables, and where it was read; `percent` None with `reason`
    when no usable one is deployed."""

    percent: Decimal | None
    source: str | None  # "concentration_cap.dmn of credit_limit_review v3"
    reason: str | None = None

    def against(self, amount: Decimal, total: Decimal) -> dict[str, Any]:
        """An exposure of `amount` out of receivables of `total` (both in the base currency) against the cap:
        {cap_percent, cap_amount (total x cap, to the cent), headroom (cap_amount - amount; negative: over),
        over_cap}. Over when the share, rounded down to 0.01 %, is above the cap: exactly the watchlist's
        concentration indicator (ar_share_percent is rounded down so: 10.009 % is not over a 10 % cap).
        All null (with `cap_reason`) without a cap or receivables."""
        if self.percent is None or total <= 0:
            reason = self.reason if self.percent is None else _("no receivables open")
            return {
                "cap_percent": None,
                "cap_amount": None,
                "headroom": None,
                "over_cap": None,
                "cap_reason": reason,
            }
        cap_amount = (total * self.percent / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)
        share = (amount * HUNDRED / total).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        return {
            "cap_percent": percent_text(self.percent),
            "cap_amount": str(cap_amount),
            "headroom": str(cap_amount - amount),
            "over_cap": share > self.percent,
        }


def percent_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def cap_of(text: str, source: str) -> Cap:
    """The cap a concentration_cap.dmn text answers, or Cap(None, source, reason) naming what is wrong."""
    try:
        value = evaluate_decision(text, CAP_DECISION, {}).get(CAP_OUTPUT)
    except DecisionError as exc:
        return Cap(None, source, _("%(source)s: %(problem)s", source=source, problem=message_of(exc)))
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        reason = _(
            '%(source)s gives cap_percent %(value)r; a number such as Decimal("10")',
            source=source,
            value=value,
        )
        return Cap(None, source, reason)
    cap = Decimal(value)
    if not cap.is_finite() or not 0 < cap <= HUNDRED:
        reason = _(
            "%(source)s gives cap_percent %(cap)s; a cap is above 0 and at most 100 (%%)",
            source=source,
            cap=cap,
        )
        return Cap(None, source, reason)
    return Cap(cap, source)


def cap_problems(text: str) -> list[str]:
    """What makes a concentration_cap.dmn unusable, checked when it is deployed. Empty when it is sound."""
    cap = cap_of(text, CAP_FILE)
    return [] if cap.reason is None else [cap.reason.removeprefix(f"{CAP_FILE}: ")]


def concentration_cap(session: Session) -> Cap:
    """The cap of the newest active credit_limit_review version that carries concentration_cap.dmn (one
    query); Cap(None, None, reason) when none does."""
    found = newest_policy_file(session, CAP_FILE)
    if found is not None:
        return cap_of(*found)
    return Cap(
        None,
        None,
        _(
            "no active %(process)s version carries %(file)s: deploy it with the credit_limit_review "
            "diagram (`creditflow init` does)",
            process=RULES_PROCESS,
            file=CAP_FILE,
        ),
    )
