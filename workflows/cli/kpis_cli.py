"""`creditflow kpis`: the credit KPIs of a period (docs/kpis.md), and posting a missed period's snapshot."""

from __future__ import annotations

from datetime import date

import click

from workflows.batch.kpi_month_end import post_kpi_snapshot
from workflows.cli.context import Context, fail, pass_ctx, print_json
from workflows.credit import roles
from workflows.credit.kpi_periods import PERIODS, period_end_on_or_before
from workflows.credit.kpis import compute_kpis
from workflows.errors import DomainError
from workflows.store.db import transaction


@click.command("kpis")
@click.option(
    "--as-of", "as_of_text", default=None, help="The period ending on or before this day (default: today)."
)
@click.option("--period", type=click.Choice(PERIODS), default="month", show_default=True)
@click.option("--post", is_flag=True, help="Store the period's snapshot (a period end the daily job missed).")
@click.option("--user", default=None, help="Post as this user (finance, credit_manager or admin).")
@pass_ctx
def kpis_command(ctx: Context, as_of_text: str | None, period: str, post: bool, user: str | None) -> None:
    """Print the KPIs of the month (or quarter) ending on or before --as-of with their trends, in the base
    currency; --post stores that period's snapshot, which is never changed afterwards (exit 2: a currency
    without a rate, named; exit 1: a snapshot exists, or the user may not post)."""
    try:
        as_of = date.fromisoformat(as_of_text) if as_of_text else ctx.rt.clock().date()
    except ValueError as exc:
        raise click.BadParameter(
            f"{as_of_text!r} is not an ISO date (YYYY-MM-DD)", param_hint="--as-of"
        ) from exc
    if as_of > ctx.rt.clock().date():
        raise click.BadParameter("a day on or before today: the period must have ended", param_hint="--as-of")
    base = ctx.settings.credit.base_currency
    try:
        if not post:
            with ctx.rt.factory() as session:
                print_json(compute_kpis(session, as_of, period, base))
            return
        actor = ctx.actor(user)
        if not actor.in_any(roles.PROVISION_POSTERS) or roles.changes_nothing(actor):
            groups = ", ".join(sorted(roles.PROVISION_POSTERS))
            fail(f"{actor.username} may not post KPI snapshots: only {groups} or admin may", 1)
        end = period_end_on_or_before(as_of, period)
        if end >= ctx.rt.clock().date():
            fail(
                f"the {period} ending {end.isoformat()} has not ended: post its snapshot the day after",
                1,
            )
        with transaction(ctx.rt.factory) as session:
            now = ctx.rt.clock()
            stored = post_kpi_snapshot(session, period, end, base=base, actor=actor.username, now=now)
            if stored is None:
                fail(
                    f"the {period} ending {end.isoformat()} has a snapshot already; snapshots never change", 1
                )
            print_json({"posted": period, "period_end": end.isoformat(), "posted_by": actor.username})
    except DomainError as exc:
        fail(f"error ({exc.code}): {exc.message}", 2)
