"""Commands that set up and serve: init, serve, prefect deploy, validate, deploy."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import NoReturn

import click

from handlers.registry import build_operations
from workflows.batch.month_end import post_last_month_end
from workflows.cli.context import Context, fail, pass_ctx
from workflows.cli.demo import seed_demo, start_demo_cases
from workflows.credit.roles import PROCESS_OWNERS
from workflows.definitions.deploy import DEPLOYABLE_SUFFIXES, deploy_files, read_files, validate_files
from workflows.definitions.shipped import shipped_bundles
from workflows.definitions.validation import InvalidBundle
from workflows.store.db import transaction
from workflows.store.schema import upgrade_schema

# How long stopping `serve` waits for a scheduler round that runs to end before the mail sink stops.
SHUTDOWN_WAIT_S = 10.0

# --- set-up -----------------------------------------------------------------------------------------------


@click.command()
@click.option(
    "--demo",
    is_flag=True,
    help="Also create the demo users (password 'demo'), customers, suppliers and a few open cases.",
)
@pass_ctx
def init(ctx: Context, demo: bool) -> None:
    """Create or migrate the schema and deploy the shipped diagrams (idempotent)."""
    upgrade_schema(ctx.rt.engine)
    now = ctx.rt.clock()  # after the upgrade: a simulated clock is a table
    try:
        with transaction(ctx.rt.factory) as session:
            for bundle in shipped_bundles():
                for deployed in deploy_files(
                    session, read_files(bundle), ctx.rt.operations, deployed_by="system", now=now
                ):
                    state = "unchanged" if deployed.unchanged else "deployed"
                    click.echo(f"{state}: {deployed.key} v{deployed.version}")
            if demo:
                seeded = seed_demo(session, now)
                click.echo(f"demo users (password 'demo'): {', '.join(seeded['users'])}")
                if seeded["customers"]:
                    click.echo(f"demo customers: {', '.join(seeded['customers'])}")
    except InvalidBundle as exc:
        fail(f"a shipped diagram is invalid:\n{exc}", 2)
    if demo:
        for case in start_demo_cases(ctx.rt, now):
            click.echo(f"demo case: {case}")
        if posted := post_last_month_end(ctx.rt, now):
            click.echo(f"demo provisions: {posted}")


@click.command()
@click.option("--host", default=None, help="Interface to listen on (default from config, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default from config, 5000).")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="Serve with gunicorn and N worker processes (one of them runs the scheduler).",
)
@pass_ctx
def serve(ctx: Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the web UI and API with the embedded scheduler and, without an SMTP relay, the mail sink."""
    if workers:
        from workflows.cli.serve import serve_workers

        serve_workers(ctx.settings, host or ctx.settings.web.host, port or ctx.settings.web.port, workers)
        return
    from webui import create_app
    from workflows.batch.jobs import DAILY_JOBS
    from workflows.batch.scheduler import EmbeddedScheduler, SingleSchedulerLock
    from workflows.cli.serve import http_server, nudge_both, start_mail_child

    settings = ctx.settings
    try:
        # The mail runs in a child process (it ends with this one), beside the web process, not on its GIL:
        # the sink without a relay, and with the scheduler on the outbox's sending (to the sink or relay).
        mail_child = start_mail_child(settings, dispatch=settings.scheduler.enabled)
    except OSError as exc:  # the message names the setting to change
        fail(str(exc), 1)
    sink_port = mail_child.port if mail_child else None
    app = create_app(settings, sink_port=sink_port)
    svc = app.extensions["creditflow"]
    lock = SingleSchedulerLock(svc.rt)
    scheduler, held = None, "off"
    if settings.scheduler.enabled:
        held = "on" if lock.acquire() else "standing by: another process holds the lock"
        # Without the lock it stands by, and takes over when the holder dies (or loses its session).
        dispatched = mail_child is not None and mail_child.dispatches
        mailer = None if dispatched else svc.mailer()  # else the mail process sends the outbox itself
        scheduler = EmbeddedScheduler(svc.rt, mailer, svc.rt.clock, DAILY_JOBS, lock=lock)
        svc.nudge = nudge_both(scheduler, mail_child)
        scheduler.start()
    host, port = host or settings.web.host, port or settings.web.port
    server = http_server(app, host, port)
    # SystemExit (and Ctrl-C) ends server.run(), so the finally block below stops the scheduler and the sink.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    mail = f"127.0.0.1:{sink_port}" if sink_port else settings.mail.smtp_host
    click.echo(f"creditflow on http://{host}:{port}  (mail: {mail}, scheduler: {held})")
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # Ctrl-C is the normal way to stop the foreground server
    finally:
        server.close()
        if scheduler:
            scheduler.shutdown(wait_s=SHUTDOWN_WAIT_S)
        lock.release()
        if mail_child:
            mail_child.stop()


@click.group("prefect")
def prefect_group() -> None:
    """Run the batch work as Prefect deployments on Prefect workers (pip install 'creditflow[prefect]')."""


@prefect_group.command("deploy")
@click.option(
    "--pool", default="creditflow", show_default=True, help="Process work pool (created if missing)."
)
@click.option(
    "--copies",
    default=1,
    type=click.IntRange(1, 16),
    show_default=True,
    help="Daily runs started per day; they share the day's chunks, so start one worker for each.",
)
@click.option(
    "--daily-cron", default=None, help="Cron of the daily run (default: 0 <[scheduler] daily_hour> * * *)."
)
@click.option(
    "--frequent-cron", default="* * * * *", show_default=True, help="Cron of timers, reminders and mail."
)
@pass_ctx
def prefect_deploy(ctx: Context, pool: str, copies: int, daily_cron: str | None, frequent_cron: str) -> None:
    """Register the deployments with their cron schedules in a work pool (on the PREFECT_API_URL server)."""
    try:
        from workflows.batch.flows import deploy_flows
    except ImportError as exc:
        fail(f"Prefect is not installed ({exc}); install it with: pip install 'creditflow[prefect]'", 1)
    for deployed in deploy_flows(
        ctx.settings, pool=pool, copies=copies, daily_cron=daily_cron, frequent_cron=frequent_cron
    ):
        click.echo(json.dumps(deployed))


# --- definitions -------------------------------------------------------------------------------------------


def _bundle_from(paths: tuple[str, ...]) -> tuple[dict[str, bytes], dict[str, str]]:
    files: dict[str, bytes] = {}
    shown: dict[str, str] = {}  # base name -> the path as given, for problem lines
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            fail(f"{raw}: no such file", 2)
        if path.suffix not in DEPLOYABLE_SUFFIXES:
            fail(f"{raw}: only {', '.join(DEPLOYABLE_SUFFIXES)} files can be deployed", 2)
        if path.name in files:  # a bundle is keyed by base name, so one would silently replace the other
            fail(f"{raw}: {shown[path.name]} has the same file name; rename one of them", 2)
        files.update(read_files([path]))
        shown[path.name] = raw
    return files, shown


def _report_invalid(exc: InvalidBundle, shown: dict[str, str]) -> NoReturn:
    for problem in exc.problems:
        click.echo(
            f"{shown.get(problem.file, problem.file)}:{problem.line}: {problem.element_id}: {problem.message}"
        )
    sys.exit(2)


@click.command()
@click.argument("files", nargs=-1, required=True)
def validate(files: tuple[str, ...]) -> None:
    """Check BPMN/DMN/form files; exit 2 with FILE:LINE: ELEMENT_ID: message per problem."""
    bundle, shown = _bundle_from(files)
    try:
        validated = validate_files(bundle, build_operations())
    except InvalidBundle as exc:
        _report_invalid(exc, shown)
    click.echo(f"valid: {', '.join(validated.process_ids)}")


class _NeedsOwner(Exception):
    """A money-moving diagram deployed from the shell without --user (rolls the deployment back)."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__(keys)
        self.keys = keys


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--user", default=None, help="Deploy as this user (recorded as deployed_by).")
@pass_ctx
def deploy(ctx: Context, files: tuple[str, ...], user: str | None) -> None:
    """Validate and deploy files together; each process gets a new version. Invalid input deploys nothing."""
    bundle, shown = _bundle_from(files)
    actor = ctx.actor(user)
    if not actor.in_any(PROCESS_OWNERS):
        fail(f"{actor.username} may not deploy: only process_owner or admin may", 1)
    # Without --user a person at the shell deploys, not creditflow itself (only `init` deploys as system),
    # recorded under their account; a diagram that moves money needs a process owner named with --user (a
    # second one approves it), or it would go live with no second owner.
    deployed_by = actor.username if user else ctx.operator()
    try:
        with transaction(ctx.rt.factory) as session:
            deployed = deploy_files(
                session, bundle, ctx.rt.operations, deployed_by=deployed_by, now=ctx.rt.clock()
            )
            moving = [d.key for d in deployed if d.pending]
            if moving and not user:
                raise _NeedsOwner(moving)
    except _NeedsOwner as exc:
        fail(
            f"{', '.join(exc.keys)}: calls an operation that moves money: deploy it with --user NAME (a "
            "process owner); a second process owner approves it in the inbox. Nothing was deployed.",
            1,
        )
    except InvalidBundle as exc:
        _report_invalid(exc, shown)
    for d in deployed:
        click.echo(json.dumps(d.as_dict()))
