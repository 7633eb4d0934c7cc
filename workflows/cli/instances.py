"""Commands that act on instances and tasks: start, tasks, complete, message, retry, tick."""

from __future__ import annotations

import click

from workflows.batch.jobs import DAILY_JOBS, tick
from workflows.cli.context import Context, domain_call, parse_json, pass_ctx, print_json
from workflows.cli.progress import tick_bars
from workflows.clock import parse_now
from workflows.engine.runner import complete_task, deliver_message, retry_instance, start_instance
from workflows.inbox import InboxFilter, list_inbox, task_json
from workflows.instances import instance_json
from workflows.mail.sink import start_sink
from workflows.mail.smtp import mailer_for
from workflows.store.stored_clock import record_tick_as_of, tick_time

# --- instances and tasks ------------------------------------------------------------------------------------


@click.command()
@click.argument("key")
@click.option("--data", "data_json", default="{}", help="Start data as a JSON object.")
@click.option("--business-key", default=None)
@click.option("--user", default=None, help="Start as this user (groups checked; default: cli:ACCOUNT).")
@pass_ctx
def start(ctx: Context, key: str, data_json: str, business_key: str | None, user: str | None) -> None:
    """Start an instance of the latest version of KEY and print it."""
    data = parse_json(data_json, "--data")
    now = ctx.rt.clock()
    instance = domain_call(
        start_instance, ctx.rt, key, data, actor=ctx.actor(user), now=now, business_key=business_key
    )
    with ctx.rt.factory() as session:
        print_json(instance_json(session, instance, now))


@click.command()
@click.option("--user", default=None, help="Only tasks this user may act on (default: all open tasks).")
@click.option("--page", default=1, type=int)
@pass_ctx
def tasks(ctx: Context, user: str | None, page: int) -> None:
    """List open tasks."""
    now = ctx.rt.clock()
    with ctx.rt.factory() as session:
        found = list_inbox(session, ctx.actor(user), InboxFilter(page=page), now)
        print_json(
            {
                "items": [task_json(t, now) for t in found.items],
                "total": found.total,
                "total_is_lower_bound": found.total_is_lower_bound,
                "page": found.page,
            }
        )


@click.command()
@click.argument("task_id", type=int)
@click.option("--user", required=True, help="Complete as this user.")
@click.option("--data", "data_json", default="{}", help="Form data as a JSON object.")
@pass_ctx
def complete(ctx: Context, task_id: int, user: str, data_json: str) -> None:
    """Complete a task with form data (same checks as the API: group, claim, four-eyes, form)."""
    now = ctx.rt.clock()
    item = domain_call(
        complete_task, ctx.rt, task_id, parse_json(data_json, "--data"), actor=ctx.actor(user), now=now
    )
    print_json(task_json(item, now))


@click.command()
@click.argument("name")
@click.option("--key", "correlation_key", required=True, help="Business key (or id) of the waiting instance.")
@click.option("--data", "data_json", default="{}")
@click.option("--user", default=None, help="Send as this user (default: the shell operator, cli:ACCOUNT).")
@pass_ctx
def message(ctx: Context, name: str, correlation_key: str, data_json: str, user: str | None) -> None:
    """Deliver a message to the instances waiting for it."""
    delivered = domain_call(
        deliver_message,
        ctx.rt,
        name,
        correlation_key,
        parse_json(data_json, "--data"),
        actor=ctx.actor(user),
        now=ctx.rt.clock(),
    )
    print_json({"delivered_to": delivered})


@click.command()
@click.argument("instance_id", type=int)
@pass_ctx
def retry(ctx: Context, instance_id: int) -> None:
    """Re-run the failed step of an instance in status error."""
    now = ctx.rt.clock()
    instance = domain_call(retry_instance, ctx.rt, instance_id, actor=ctx.operator_actor(), now=now)
    with ctx.rt.factory() as session:
        print_json(instance_json(session, instance, now))


@click.command("tick")
@click.option("--now", "now_text", default=None, help="ISO 8601 time to act as of (default: now).")
@pass_ctx
def tick_command(ctx: Context, now_text: str | None) -> None:
    """Do what the scheduler would have done by NOW: timers, retries, reminders, daily jobs, e-mail.

    Everything due is done, in batches, with a progress bar per phase on a terminal.
    """
    try:
        requested = parse_now(now_text) if now_text else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from exc
    # Simulated clock: the tick moves the one clock to --now first (never back); real: --now is for this tick.
    now = domain_call(tick_time, ctx.rt.clock, requested, by=ctx.operator())
    record_tick_as_of(ctx.rt.factory, ctx.rt.clock, requested, by=ctx.operator())
    clock = ctx.rt.clock
    if ctx.settings.mail.smtp_host:
        relay = mailer_for(ctx.settings.mail, None, clock=clock)
        with tick_bars() as bars:
            did = tick(ctx.rt, relay, now, jobs=DAILY_JOBS, progress=bars)
        print_json(did.as_dict())
        return
    # Without a relay, due mail goes to a built-in sink for this run, so it shows up at /mail.
    with start_sink(ctx.rt.factory) as sink:
        mailer = mailer_for(ctx.settings.mail, sink.port, clock=clock)
        with tick_bars() as bars:
            did = tick(ctx.rt, mailer, now, jobs=DAILY_JOBS, progress=bars)
    print_json(did.as_dict())
