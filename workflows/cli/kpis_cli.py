"""`creditflow kpis`: the credit KPIs of a period (docs/kpis.md), and posting a missed period's snapshot."""

from __future__ import annotations

from datetime import date, timedelta

import click

from workflows.batch.kpi_month_end import backfill_snapshots, post_kpi_snapshot
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
@click.option(
    "--backfill",
    is_flag=True,
    help="Store the snapshot of every finished month and quarter of the trend window that has none "
    "(as the daily job kpi_snapshot does; run it right after an import).",
)
@click.option("--user", default=None, help="Post as this user (finance, credit_manager or admin).")
@pass_ctx
def kpis_command(
    ctx: Context, as_of_text: str | None, period: str, post: bool, backfill: bool, user: str | None
) -> None:
    """Print the KPIs of the month (or quarter) ending on or before --as-of with their trends, in the base
    currency; --post stores that period's snapshot, which is never changed afterwards (exit 2: a currency
    without a rate, named; exit 1: a snapshot exists, or the user may not post). --backfill stores every
    missing snapshot of the 12 months and 12 quarters ended by yesterday, oldest first, one line each on
    stderr, then prints the job's summary (exit 2 when a missing rate refused one)."""
    if backfill:
        _backfill(ctx, user)
        return
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


def _backfill(ctx: Context, user: str | None) -> None:
    actor = ctx.actor(user)
    if not actor.in_any(roles.PROVISION_POSTERS) or roles.changes_nothing(actor):
        groups = ", ".join(sorted(roles.PROVISION_POSTERS))
        fail(f"{actor.username} may not post KPI snapshots: only {groups} or admin may", 1)
    now = ctx.rt.clock()

    def report(period: str, end: date, outcome: str) -> None:
        click.echo(f"{period} {end.isoformat()}: {outcome}", err=True)

    base = ctx.settings.credit.base_currency
    last = now.date() - timedelta(days=1)
    summary = backfill_snapshots(ctx.rt.factory, base, last, actor=actor.username, now=now, report=report)
    print_json(summary)
    if "missing_rates" in summary:
        fail("a missing exchange rate refused some snapshots (missing_rates above); post it and run again", 2)
