"""The dashboard's KPI tiles: each KPI's title and its definition in the page's language (the page's help;
docs/kpis.md has the definitions in full)."""

from __future__ import annotations

from flask_babel import LazyString, lazy_gettext

# Each KPI's tile title and its definition (docs/kpis.md has them in full); "period" is the calendar month
# or quarter ending on or before the day shown, "AR" the receivables open (after payments and credit notes).
KPI_HELP: dict[str, tuple[LazyString, LazyString]] = {
    "dso": (
        lazy_gettext("DSO"),
        lazy_gettext(
            "Days sales outstanding: AR at the period end ÷ credit sales in the period × days in it."
        ),
    ),
    "best_possible_dso": (
        lazy_gettext("Best possible DSO"),
        lazy_gettext("Current (not yet due) AR at the period end ÷ credit sales in the period × days in it."),
    ),
    "add": (
        lazy_gettext("ADD"),
        lazy_gettext(
            "Average days delinquent: DSO − best possible DSO, from the unrounded values (so it may differ "
            "by 0.1 from the difference of the two rounded tiles)."
        ),
    ),
    "cei": (
        lazy_gettext("CEI"),
        lazy_gettext(
            "Collection effectiveness index: (AR at the start + credit sales − AR at the end) ÷ "
            "(AR at the start + credit sales − current AR at the end) × 100. AR at the start is the AR the "
            "previous period reports, at its own end's rates."
        ),
    ),
    "overdue_ratio": (lazy_gettext("Overdue"), lazy_gettext("AR past its due date ÷ AR, at the period end.")),
    "over_90_ratio": (
        lazy_gettext("Over 90 days"),
        lazy_gettext("AR more than 90 days past due ÷ AR, at the period end."),
    ),
    "bad_debt_ratio": (
        lazy_gettext("Bad debt"),
        lazy_gettext("Written off in the period ÷ credit sales in the period."),
    ),
    "provision_ratio": (
        lazy_gettext("Provision"),
        lazy_gettext("The provision (allowance) at the period end ÷ AR."),
    ),
    "approval_cycle_hours": (
        lazy_gettext("Approval cycle"),
        lazy_gettext(
            "Median hours from the start of a credit application to its decision, of those decided in the "
            "period (also the 90th percentile and the share decided within the SLA)."
        ),
    ),
    "promise_kept_rate": (
        lazy_gettext("Promises kept"),
        lazy_gettext("Promises to pay judged in the period that were kept in full ÷ all judged in it."),
    ),
    "top10_concentration": (
        lazy_gettext("Top-10 concentration"),
        lazy_gettext(
            "The share of AR held by the 10 largest customers; the largest one is shown against the "
            "concentration cap, a policy in concentration_cap.dmn."
        ),
    ),
    "approval_cycle_p90_hours": (
        lazy_gettext("Approval cycle p90"),
        lazy_gettext(
            "The 90th percentile (nearest rank) of the hours from the start of a credit application to its "
            "decision, of those decided in the period: 90 % took no longer. Per route in the table below."
        ),
    ),
    "approval_within_sla_rate": (
        lazy_gettext("Approvals within the SLA"),
        lazy_gettext(
            "Credit applications decided in the period whose every deciding task (analyst review, manager, "
            "CFO approval) was completed by its due time ÷ all decided in the period × 100; an automatic "
            "decision is within it. Per route in the table below."
        ),
    ),
    "dunning_paid_within_30_days_rate": (
        lazy_gettext("Dunning paid within 30 days"),
        lazy_gettext(
            "Dunning effectiveness: of the dunning cases whose 30 days after their first level-1 notice "
            "ended in the period, the share closed paid within those 30 days × 100."
        ),
    ),
    "dispute_cycle_days": (
        lazy_gettext("Dispute cycle"),
        lazy_gettext(
            "Median days from the opening of a dispute to its closing, of the disputes closed in the period."
        ),
    ),
    "disputed_amount": (
        lazy_gettext("Disputed"),
        lazy_gettext(
            "The amounts of the disputes opened in the period, in the base currency at the period end's "
            "rate; by reason code in the table below."
        ),
    ),
}
