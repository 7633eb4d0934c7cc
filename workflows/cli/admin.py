"""Administrative commands: users, CSV imports, and the daily batch runs on demand."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import select

from workflows.batch import daily_starts as chunks
from workflows.batch.job_days import refresh_done_day
from workflows.batch.jobs import DAILY_JOBS
from workflows.cli.context import Context, domain_call, fail, pass_ctx, print_json
from workflows.credit import roles
from workflows.credit.csv_import import ImportRejected, ImportReport, import_customers
from workflows.credit.fx import import_fx_rates
from workflows.credit.orders import import_orders
from workflows.credit.provision_snapshots import post_run, run_json
from workflows.credit.provisions import compute_provisions
from workflows.credit.receivables import import_invoices, import_payments
from workflows.credit.suppliers import import_suppliers
from workflows.errors import DomainError
from workflows.languages import LANGUAGES
from workflows.store.audit import record_event
from workflows.store.db import transaction
from workflows.store.models import User
from workflows.store.stored_clock import SimulatedClock
from workflows.users import add_user, issue_token

# --- users -------------------------------------------------------------------------------------------------


@click.group()
def users() -> None:
    """Manage users, groups and API tokens."""


@users.command("add")
@click.argument("name")
@click.option("--groups", required=True, help="Comma-separated groups (created when missing).")
@click.option("--email", default="")
@click.option("--password", default=None, help="Web login password (omit for API-only users).")
@click.option(
    "--language",
    type=click.Choice(sorted(LANGUAGES)),
    default=None,
    help="Web UI language (default: unchanged; a new user's browser decides until they choose).",
)
@pass_ctx
def users_add(
    ctx: Context, name: str, groups: str, email: str, password: str | None, language: str | None
) -> None:
    """Create a user, or add groups to an existing one."""
    with transaction(ctx.rt.factory) as session:
        user = domain_call(
            add_user,
            session,
            name,
            groups=groups.split(","),
            now=ctx.rt.clock(),
            email=email,
            password=password,
            language=language,
            actor=ctx.operator(),
        )
        click.echo(
            json.dumps(
                {
                    "username": user.username,
                    "email": user.email,
                    "groups": sorted(user.group_names),
                    "language": user.language,
                }
            )
        )


@users.command("token")
@click.argument("name")
@pass_ctx
def users_token(ctx: Context, name: str) -> None:
    """Print a new API token for NAME (only its hash is stored)."""
    with transaction(ctx.rt.factory) as session:
        click.echo(domain_call(issue_token, session, name, ctx.rt.clock(), actor=ctx.operator()))


@users.command("list")
@pass_ctx
def users_list(ctx: Context) -> None:
    """List users, their groups and web UI language ("-": not chosen)."""
    with ctx.rt.factory() as session:
        for user in session.scalars(select(User).order_by(User.username)):
            groups = ",".join(sorted(user.group_names))
            click.echo(f"{user.username}\t{user.email}\t{groups}\t{user.language or '-'}")


# --- imports -----------------------------------------------------------------------------------------------


# Each kind of ERP file and the function that imports it (all-or-nothing, in the caller's transaction).
IMPORTERS: dict[str, Callable[..., ImportReport]] = {
    "customers": import_customers,
    "invoices": import_invoices,
    "payments": import_payments,
    "suppliers": import_suppliers,
    "fx-rates": import_fx_rates,  # called with base= (the configured base currency)
    "orders": import_orders,  # called with base= too
}


# Imports that set credit limits without an approval: the one-off migration from the ERP.
ADMIN_IMPORTS = frozenset({"customers"})
# Who else may import each kind with --user: the groups that may post it over the REST API (admins always).
IMPORT_GROUPS: dict[str, frozenset[str]] = {
    "invoices": roles.RECEIVABLE_WRITERS,
    "payments": roles.RECEIVABLE_WRITERS,
    "suppliers": roles.SUPPLIER_CREATORS,
    "fx-rates": roles.FX_RATE_WRITERS,
    "orders": roles.ORDER_WRITERS,
}


@click.command("import")
@click.argument("kind", type=click.Choice(sorted(IMPORTERS)))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--user", default=None, help="Record the import as done by this user.")
@pass_ctx
def import_command(ctx: Context, kind: str, file: Path, user: str | None) -> None:
    """Import an ERP CSV file; a file with any bad row imports nothing (exit 2, each bad line named).

    Customers are the ERP migration: they keep the ERP's credit limits, so only an admin may import them.
    """
    actor = ctx.actor(user)
    if kind in ADMIN_IMPORTS and not actor.is_admin:
        fail(f"{actor.username} may not import {kind}: it takes over the ERP's credit limits; admins only", 1)
    groups = IMPORT_GROUPS.get(kind, frozenset())
    if not actor.in_any(groups) or roles.changes_nothing(actor):
        fail(f"{actor.username} may not import {kind}: only {', '.join(sorted(groups))} or admin may", 1)
    now = ctx.rt.clock()
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(f"importing {kind}", total=_count_rows(file))
        try:
            with transaction(ctx.rt.factory) as session:
                importer = IMPORTERS[kind]
                if kind in ("fx-rates", "orders"):
                    importer = partial(importer, base=ctx.settings.credit.base_currency)
                if kind == "fx-rates":  # each line checked against the nearest stored rate, unforced
                    importer = partial(importer, max_move=ctx.settings.credit.fx_max_move)
                report = importer(
                    session, file, actor=actor.username, now=now, progress=lambda n: bar.advance(task, n)
                )
        except ImportRejected as exc:
            bar.stop()
            for line in exc.report.errors:
                click.echo(f"{file}: {line}", err=True)
            fail(f"{file}: nothing imported ({len(exc.report.errors)} problem(s))", 2)
    click.echo(json.dumps({"kind": kind, "imported": report.imported}))


def _count_rows(path: Path) -> int | None:
    try:
        with path.open("rb") as fh:
            return max(0, sum(1 for _ in fh) - 1)
    except OSError:
        return None  # read_rows reports the problem with the file's name


# --- collections ------------------------------------------------------------------------------------------


def _as_of(ctx: Context, value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else ctx.rt.clock().date()
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO date (YYYY-MM-DD)", param_hint="--as-of") from exc


@click.command("dunning-run")
@click.option("--as-of", "as_of_text", default=None, help="Day to run for (default: today).")
@pass_ctx
def dunning_run_command(ctx: Context, as_of_text: str | None) -> None:
    """Open a dunning case for every customer overdue past the grace days (idempotent per day)."""
    as_of = _as_of(ctx, as_of_text)
    print_json(
        _run_batch(ctx, roles.DUNNING, chunks.plan_dunning(ctx.rt, as_of), _batch_now(ctx, as_of_text))
    )
    _keep_day_record(ctx, "dunning_run", as_of)


def _batch_now(ctx: Context, as_of_text: str | None) -> datetime:
    """The time a batch run acts at: now, or noon of a later --as-of day (so timers compare correctly)."""
    now = ctx.rt.clock()
    if not as_of_text:
        return now
    as_of = _as_of(ctx, as_of_text)
    if isinstance(ctx.rt.clock, SimulatedClock) and as_of > now.date():
        # Acting at noon of that day would leave the one clock behind the cases, notices and timers.
        raise click.BadParameter(
            f"the simulated clock is at {now.isoformat()}: move it first with `creditflow tick --now "
            f"{as_of.isoformat()}T09:00Z`, which also runs that day's jobs",
            param_hint="--as-of",
        )
    return max(now, datetime.combine(as_of, time(12), tzinfo=UTC))


@click.command("provisions")
@click.option("--as-of", "as_of_text", default=None, help="Day of the balances (default: today).")
@click.option("--post", is_flag=True, help="Store the month end's snapshot with its movement.")
@click.option("--user", default=None, help="Post as this user (finance, credit_manager or admin).")
@pass_ctx
def provisions_command(ctx: Context, as_of_text: str | None, post: bool, user: str | None) -> None:
    """Print the provision matrix over the balances open on a day, plus specific provisions, in the base
    currency; --post stores it as the month end's snapshot (a currency without a rate refuses, exit 2)."""
    as_of = _as_of(ctx, as_of_text)
    base = ctx.settings.credit.base_currency
    if not post:
        with ctx.rt.factory() as session:
            report = _refusing(compute_provisions, session, as_of, base)
            print_json(report.as_dict())
        return
    actor = ctx.actor(user)
    if not actor.in_any(roles.PROVISION_POSTERS) or roles.changes_nothing(actor):
        groups = ", ".join(sorted(roles.PROVISION_POSTERS))
        fail(f"{actor.username} may not post the provision run: only {groups} or admin may", 1)
    with transaction(ctx.rt.factory) as session:
        run = _refusing(post_run, session, as_of, base=base, actor=actor.username, now=ctx.rt.clock())
        print_json(run_json(session, run))


def _refusing(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `func`; a refusal (a missing rate or matrix, a bad day) is printed and exits 2."""
    try:
        return func(*args, **kwargs)
    except DomainError as exc:
        fail(f"error ({exc.code}): {exc.message}", 2)


@click.command("limit-review-sweep")
@click.option("--as-of", "as_of_text", default=None, help="Day to sweep for (default: today).")
@pass_ctx
def limit_review_sweep_command(ctx: Context, as_of_text: str | None) -> None:
    """Start a credit limit review for every customer a trigger names (idempotent per day)."""
    as_of = _as_of(ctx, as_of_text)
    plan = chunks.plan_reviews(ctx.rt, as_of)
    print_json(_run_batch(ctx, roles.CREDIT_LIMIT_REVIEW, plan, _batch_now(ctx, as_of_text)))
    _keep_day_record(ctx, "limit_review_sweep", as_of)


def _keep_day_record(ctx: Context, job: str, as_of: date) -> None:
    """A day the daily job finished already gets the whole day's counts again, this run's work included."""
    entry = DAILY_JOBS[job]
    assert isinstance(entry, chunks.DailyStart), f"{job} is not a chunked daily job"
    summary = entry.day_summary(ctx.rt, as_of)
    refresh_done_day(ctx.rt, job, as_of, summary, count=partial(entry.day_counts, as_of=as_of))


def _run_batch(ctx: Context, process_key: str, plan: list[chunks.Chunk], now: datetime) -> dict[str, Any]:
    """Run a daily job's chunks (claim-safe, as the scheduler does) with a progress bar on a terminal."""
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(f"starting {process_key}", total=sum(len(c.customer_ids) for c in plan))

        def one(chunk: chunks.Chunk, wait: bool) -> chunks.ChunkResult:
            result = chunks.run_chunk(ctx.rt, chunk, now, wait=wait)
            bar.advance(task, len(chunk.customer_ids))
            return result

        done = chunks.summary(process_key, chunks.run_chunks(ctx.rt, plan, now, run_one=one))
    # The cases are the system's (as the scheduler's would be), but a person chose to run the day now.
    with transaction(ctx.rt.factory) as session:
        started = done.get("cases_started", done.get("reviews_started", 0))
        record_event(
            session,
            actor=ctx.operator(),
            action="batch_run",
            now=now,
            process_key=process_key,
            as_of=plan[0].as_of.isoformat() if plan else now.date().isoformat(),
            after={"started": started, "failed_customers": len(done["failed_customers"])},
        )
    return done
