"""The definition edit page's what-if answer in sentences, in the page's language: the totals, then per
replayed table how its outputs would move and what that means for its kind of policy (issue 18)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _

from webui.formatting import page_locale
from workflows.messages import translated
from workflows.money import as_decimal, format_money


def what_if_lines(summary: dict[str, Any]) -> list[str]:
    lines = [
        str(
            _(
                "%(rows)s logged decisions from %(start)s to %(end)s replayed: %(changed)s would change.",
                rows=summary["rows"],
                start=summary["from"],
                end=summary["to"],
                changed=summary["changed"],
            )
        )
    ]
    if summary.get("note"):
        lines.append(translated(summary["note"], _))
    for task in summary.get("repointed", []):
        lines.append(
            str(
                _(
                    "Business rule task %(task)s calls %(new)s instead of %(old)s: its logged decisions are "
                    "replayed with %(new)s.",
                    task=task["bpmn_id"],
                    new=task["to"],
                    old=task["from"],
                )
            )
        )
    for table in summary["tables"]:
        moves = "; ".join(
            f"{output} {move}: {count}"
            for output, counts in table.get("outputs", {}).items()
            for move, count in counts.items()
        )
        lines.append(
            str(
                _(
                    "%(decision)s: %(changed)s of %(rows)s changed%(moves)s",
                    decision=table["decision_id"],
                    changed=table["changed"],
                    rows=table["rows"],
                    moves=f" ({moves})" if moves else "",
                )
            )
        )
        if table["changed"] or table.get("provision"):
            lines += _kind_lines(table)
    return lines


def _kind_lines(table: dict[str, Any]) -> list[str]:
    """What the change means for its kind of table: grades, approvers, notices, limits, provisions."""
    decision, kind = table["decision_id"], table["kind"]
    if kind == "scorecard":
        return [
            str(
                _(
                    "%(decision)s: %(customers)s customers (%(count)s cases) would get another grade.",
                    decision=decision,
                    customers=table.get("customers_changing_grade", table["instances_changing_grade"]),
                    count=table["instances_changing_grade"],
                )
            )
        ]
    if kind == "authority":
        return [
            str(
                _(
                    "%(decision)s: %(count)s applications would have had another approver; "
                    "approval hours %(hours)s.",
                    decision=decision,
                    count=table["applications_with_another_approver"],
                    hours=_signed(table["approval_hours_change"]),
                )
            )
        ]
    if kind == "dunning_ladder":
        return [
            str(
                _(
                    "%(decision)s: %(earlier)s notices earlier, %(later)s later; first-notice days %(days)s.",
                    decision=decision,
                    earlier=table["notices_earlier"],
                    later=table["notices_later"],
                    days=_signed(table["first_notice_days_change"]),
                )
            )
        ]
    if kind == "limit_policy":
        return _limit_lines(decision, table["limits"])
    if kind == "provision_matrix" and table.get("provision"):
        return [_provision_line(decision, table["provision"])]
    return []


def _limit_lines(decision: str, limits: dict[str, Any]) -> list[str]:
    lines = [
        str(
            _(
                "%(decision)s, grade %(grade)s: total proposed limits %(current)s → %(edited)s "
                "(%(change)s, %(cases)s cases).",
                decision=decision,
                grade=grade,
                current=_money(totals["current"], currency),
                edited=_money(totals["edited"], currency),
                change=_money(totals["change"], currency, signed=True),
                cases=totals["cases"],
            )
        )
        for grade, by_currency in limits["by_grade"].items()
        for currency, totals in by_currency.items()
    ]
    if limits["not_computed"]:
        lines.append(
            str(
                _(
                    "%(decision)s: %(count)s changed decisions are not in these totals (no case data to "
                    "compute the limit from).",
                    decision=decision,
                    count=limits["not_computed"],
                )
            )
        )
    return lines


def _provision_line(decision: str, provision: dict[str, Any]) -> str:
    if "unavailable" in provision:
        return str(
            _(
                "%(decision)s: the provision change cannot be computed: %(reason)s",
                decision=decision,
                reason=translated(provision["unavailable"], _),
            )
        )
    return str(
        _(
            "%(decision)s: provisions at %(day)s %(current)s → %(edited)s (%(change)s).",
            decision=decision,
            day=provision["as_of"],
            current=_money(provision["current_total"], provision["base_currency"]),
            edited=_money(provision["edited_total"], provision["base_currency"]),
            change=_money(provision["change"], provision["base_currency"], signed=True),
        )
    )


def _money(text: str, currency: str, *, signed: bool = False) -> str:
    """An amount of the summary (a decimal string) as the page's reader writes money: "€225,000.00";
    `signed` writes a rise with its "+" ("+€80,000.00"), as a fall has its "-"."""
    number = as_decimal(text)
    if number is None:
        return str(text)
    shown = format_money(number, currency, locale=page_locale())
    return f"+{shown}" if signed and number > 0 else shown


def _signed(text: str) -> str:
    try:
        return f"{Decimal(text):+,}"
    except (InvalidOperation, ValueError):
        return text
