"""The limit policy's what-if in money: how the proposed limits would move, in total per grade.

limit_policy.dmn gives a grade's revenue cap, grace days and rounding step; the limit itself is proposed by
credit.propose_limit from them and from the case: the customer's revenue and the need (the request, or the
expected annual sales over the terms plus the grace days). The log row of the table keeps only the grade and
the key-customer flag, so the rest is read from the case's recorded data, which the engine keeps on the
instance (`process_instances.data`): `credit_file.annual_revenue` as load_file read it, `proposal.need`,
`requested_limit`, `expected_annual_sales`, `payment_terms_days`. The formula below is propose_limit's
(handlers/limit_decision.py): the need capped by revenue × cap %, rounded down to the step, at most the
request for an application. A review's further rules (no increase on some triggers, a late payer keeps
its limit) are not replayed: for a review the change is the one of the limit within policy.

Only a case's last limit policy row of the period counts (a re-scored application evaluated the table twice;
its proposal followed the second), and only rows that changed: an unchanged row moves no limit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.roles import CREDIT_APPLICATION
from workflows.store.models import ProcessInstance
from workflows.what_if.replay import Replay

CHUNK = 500  # instance ids per query (SQLite's bound parameters)
CENT = Decimal("0.01")


def limit_change_by_grade(session: Session, key: str, replay: Replay) -> dict[str, Any]:
    """{"by_grade": {grade: {currency: {cases, current, edited, change}}}, "cases", "not_computed",
    "superseded"}: the totals of the limits proposed with the recorded outputs and with the edited table's."""
    acted_on = [
        c for c in replay.changes if c.instance_id is not None and replay.last.get(c.instance_id) == c.log_id
    ]
    superseded = sum(1 for c in replay.changes if c.instance_id is not None) - len(acted_on)
    not_computed = sum(1 for c in replay.changes if c.instance_id is None)  # no case to read the need from
    data = _case_data(session, [c.instance_id for c in acted_on if c.instance_id is not None])
    totals: dict[str, dict[str, list[Any]]] = defaultdict(
        lambda: defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    )
    for change in acted_on:
        case = data.get(change.instance_id or 0)
        old = proposed_limit(case, change.recorded, key) if case is not None else None
        new = proposed_limit(case, change.replayed, key) if case is not None else None
        if case is None or old is None or new is None:
            not_computed += 1
            continue
        grade = str(change.inputs.get("grade", "(none)"))
        entry = totals[grade][_currency(case)]
        entry[0] += 1
        entry[1] += old
        entry[2] += new
    return {
        "by_grade": {
            grade: {
                currency: {"cases": n, "current": str(old), "edited": str(new), "change": str(new - old)}
                for currency, (n, old, new) in sorted(by_currency.items())
            }
            for grade, by_currency in sorted(totals.items())
        },
        "cases": sum(n for by_currency in totals.values() for n, _o, _n in by_currency.values()),
        "not_computed": not_computed,
        "superseded": superseded,
    }


def proposed_limit(case: dict[str, Any], outputs: dict[str, Any], key: str) -> Decimal | None:
    """credit.propose_limit's limit for the case's recorded facts and the table's `outputs`; None when a
    fact it needs was not recorded."""
    pct, step = _decimal(outputs.get("revenue_cap_pct")), _decimal(outputs.get("limit_rounding"))
    grace = _decimal(outputs.get("grace_days"))
    credit_file = _mapping(case, "credit_file")
    revenue = _decimal(credit_file.get("annual_revenue")) or Decimal(0)
    sales, terms = _decimal(case.get("expected_annual_sales")), _decimal(case.get("payment_terms_days"))
    proposal = _mapping(case, "proposal")
    if sales is not None and sales > 0 and terms is not None and grace is not None:
        need: Decimal | None = sales / 365 * (terms + grace)
    else:
        need = _decimal(proposal.get("need"))  # the request or a review's need: no grace days in it
    if pct is None or step is None or step <= 0 or need is None:
        return None
    try:
        cap = revenue * pct / 100
        formula = _cents((min(need, cap) / step).to_integral_value(rounding=ROUND_DOWN) * step)
        request = _decimal(case.get("requested_limit"))
        if key == CREDIT_APPLICATION and request is not None:
            return min(formula, _cents(request))
    except ArithmeticError:  # a figure beyond Decimal's precision (InvalidOperation): not computed, not a 500
        return None
    return formula


def _case_data(session: Session, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    wanted = sorted(set(ids))
    found: dict[int, dict[str, Any]] = {}
    for first in range(0, len(wanted), CHUNK):
        chunk = wanted[first : first + CHUNK]
        query = select(ProcessInstance.id, ProcessInstance.data).where(ProcessInstance.id.in_(chunk))
        found.update((i, d) for i, d in session.execute(query) if isinstance(d, dict))
    return found


def _currency(case: dict[str, Any]) -> str:
    credit_file = _mapping(case, "credit_file")
    return str(credit_file.get("customer_currency") or case.get("currency") or "")


def _mapping(case: dict[str, Any], name: str) -> dict[str, Any]:
    value = case.get(name)
    return value if isinstance(value, dict) else {}


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_DOWN)
