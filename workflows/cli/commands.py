"""The `creditflow` command line: set-up, serving, deployment and every engine action of the contract."""

from __future__ import annotations

import json
import logging
import re
import signal
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import select

from workflows.batch import daily_starts as chunks
from workflows.batch.jobs import tick
from workflows.cli.demo import seed_demo, start_demo_cases
from workflows.clock import parse_now, utcnow
from workflows.credit.csv_import import ImportRejected, ImportReport, import_customers
from workflows.credit.receivables import import_invoices, import_payments, provisions
from workflows.credit.suppliers import import_suppliers
from workflows.definitions.deploy import (
    DEPLOYABLE_SUFFIXES,
    PROCESS_OWNERS,
    deploy_files,
    read_files,
    validate_files,
)
from workflows.definitions.validation import InvalidBundle
from workflows.engine.runner import Runtime, complete_task, deliver_message, retry_instance, start_instance
from workflows.errors import DomainError
from workflows.inbox import InboxFilter, list_inbox, task_json
from workflows.instances import instance_json
from workflows.mail.outbox import mailer_for
from workflows.mail.sink import start_sink
from workflows.settings import BPMN_DIR, Settings, SettingsError, load_settings
from workflows.store.db import make_engine, make_session_factory, transaction
from workflows.store.jsonable import to_jsonable
from workflows.store.models import User
from workflows.store.schema import upgrade_schema
from workflows.users import SYSTEM, Actor, actor_for, add_user, get_user, issue_token


class Context:
    """Settings and runtime, built once per command invocation."""

    def __init__(self) -> None:
        try:
            self.settings: Settings = load_settings()
        except SettingsError as exc:
            raise click.ClickException(f"invalid configuration: {exc}") from exc
        self._rt: Runtime | None = None

    @property
    def rt(self) -> Runtime:
        if self._rt is None:
            engine = make_engine(self.settings.database)
            # Pooled connections are closed when the command ends (PostgreSQL warns about leaked ones).
            click.get_current_context().call_on_close(engine.dispose)
            self._rt = Runtime(make_session_factory(engine), self.settings)
        return self._rt

    def actor(self, username: str | None) -> Actor:
        """The named user's Actor; without a name the CLI acts as the trusted system operator."""
        if not username:
            return SYSTEM
        with self.rt.factory() as session:
            user = _domain_call(get_user, session, username)
            return actor_for(user)


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def _print_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, sort_keys=False))


def _parse_json(value: str | None, option: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        parsed = json.loads(value, parse_float=Decimal)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint=option) from exc
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object", param_hint=option)
    return parsed


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


@click.group()
def main() -> None:
    """creditflow: credit management processes run as BPMN diagrams."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# --- set-up -----------------------------------------------------------------------------------------------


@main.command()
@click.option(
    "--demo",
    is_flag=True,
    help="Also create the demo users (password 'demo'), customers, suppliers and a few open cases.",
)
@pass_ctx
def init(ctx: Context, demo: bool) -> None:
    """Create or migrate the schema and deploy the shipped diagrams (idempotent)."""
    upgrade_schema(ctx.rt.factory.kw["bind"])
    now = utcnow()
    try:
        with transaction(ctx.rt.factory) as session:
            for bundle in shipped_bundles():
                for deployed in deploy_files(session, read_files(bundle), deployed_by="system", now=now):
                    state = "unchanged" if deployed.unchanged else "deployed"
                    click.echo(f"{state}: {deployed.key} v{deployed.version}")
            if demo:
                seeded = seed_demo(session, now)
                click.echo(f"demo users (password 'demo'): {', '.join(seeded['users'])}")
                if seeded["customers"]:
                    click.echo(f"demo customers: {', '.join(seeded['customers'])}")
    except InvalidBundle as exc:
        _fail(f"a shipped diagram is invalid:\n{exc}", 2)
    if demo:
        for case in start_demo_cases(ctx.rt, now):
            click.echo(f"demo case: {case}")


def shipped_bundles(directory: Path = BPMN_DIR) -> Iterator[list[Path]]:
    """Each shipped .bpmn file with the decision tables and forms it references (and its start form).

    Bundling only what a diagram uses means changing one process's table does not version the others.
    """
    tables = {p: p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.dmn"))}
    for bpmn in sorted(directory.glob("*.bpmn")):
        text = bpmn.read_text(encoding="utf-8")
        decisions = set(re.findall(r"calledDecisionId>\s*([\w.-]+)\s*<", text))
        forms = set(re.findall(r'value="([\w.-]+\.json)"', text)) | {f"{bpmn.stem}_start.json"}
        dmn = [
            p for p, body in tables.items() if decisions & set(re.findall(r'<decision id="([\w.-]+)"', body))
        ]
        json_files = [directory / name for name in sorted(forms) if (directory / name).is_file()]
        yield [bpmn, *dmn, *json_files]


@main.command()
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
    from werkzeug.serving import make_server

    from webui import create_app
    from workflows.batch.scheduler import EmbeddedScheduler, SingleSchedulerLock

    settings = ctx.settings
    try:
        sink = None if settings.mail.smtp_host else start_sink(ctx.rt.factory, port=settings.mail.sink_port)
    except OSError as exc:  # the message names the setting to change
        _fail(str(exc), 1)
    app = create_app(settings, sink_port=sink.port if sink else None)
    svc = app.extensions["creditflow"]
    lock = SingleSchedulerLock(svc.rt)
    scheduler = None
    if settings.scheduler.enabled and lock.acquire():
        scheduler = EmbeddedScheduler(svc.rt, svc.mailer(), utcnow)
        svc.nudge = scheduler.nudge
        scheduler.start()
    host, port = host or settings.web.host, port or settings.web.port
    server = make_server(host, port, app, threaded=True)
    # SystemExit unwinds serve_forever, so the finally block below stops the scheduler and the sink.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    mail = f"127.0.0.1:{sink.port}" if sink else settings.mail.smtp_host
    held = "on" if scheduler else "held by another process"
    click.echo(f"creditflow on http://{host}:{port}  (mail: {mail}, scheduler: {held})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C is the normal way to stop the foreground server
    finally:
        if scheduler:
            scheduler.shutdown()
        lock.release()
        if sink:
            sink.stop()


@main.group("prefect")
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
        _fail(f"Prefect is not installed ({exc}); install it with: pip install 'creditflow[prefect]'", 1)
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
            _fail(f"{raw}: no such file", 2)
        if path.suffix not in DEPLOYABLE_SUFFIXES:
            _fail(f"{raw}: only {', '.join(DEPLOYABLE_SUFFIXES)} files can be deployed", 2)
        if path.name in files:  # a bundle is keyed by base name, so one would silently replace the other
            _fail(f"{raw}: {shown[path.name]} has the same file name; rename one of them", 2)
        files.update(read_files([path]))
        shown[path.name] = raw
    return files, shown


def _report_invalid(exc: InvalidBundle, shown: dict[str, str]) -> NoReturn:
    for problem in exc.problems:
        click.echo(
            f"{shown.get(problem.file, problem.file)}:{problem.line}: {problem.element_id}: {problem.message}"
        )
    sys.exit(2)


@main.command()
@click.argument("files", nargs=-1, required=True)
def validate(files: tuple[str, ...]) -> None:
    """Check BPMN/DMN/form files; exit 2 with FILE:LINE: ELEMENT_ID: message per problem."""
    bundle, shown = _bundle_from(files)
    try:
        validated = validate_files(bundle)
    except InvalidBundle as exc:
        _report_invalid(exc, shown)
    click.echo(f"valid: {', '.join(validated.process_ids)}")


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--user", default=None, help="Deploy as this user (recorded as deployed_by).")
@pass_ctx
def deploy(ctx: Context, files: tuple[str, ...], user: str | None) -> None:
    """Validate and deploy files together; each process gets a new version. Invalid input deploys nothing."""
    bundle, shown = _bundle_from(files)
    actor = ctx.actor(user)
    if not actor.in_any(PROCESS_OWNERS):
        _fail(f"{actor.username} may not deploy: only process_owner or admin may", 1)
    try:
        with transaction(ctx.rt.factory) as session:
            deployed = deploy_files(session, bundle, deployed_by=actor.username, now=utcnow())
    except InvalidBundle as exc:
        _report_invalid(exc, shown)
    for d in deployed:
        click.echo(json.dumps(d.as_dict()))


# --- instances and tasks ------------------------------------------------------------------------------------


def _domain_call(func: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return func(*args, **kwargs)
    except DomainError as exc:
        _fail(f"error ({exc.code}): {exc.message}", 1)


@main.command()
@click.argument("key")
@click.option("--data", "data_json", default="{}", help="Start data as a JSON object.")
@click.option("--business-key", default=None)
@click.option("--user", default=None, help="Start as this user (their groups are checked).")
@pass_ctx
def start(ctx: Context, key: str, data_json: str, business_key: str | None, user: str | None) -> None:
    """Start an instance of the latest version of KEY and print it."""
    data = _parse_json(data_json, "--data")
    now = utcnow()
    instance = _domain_call(
        start_instance, ctx.rt, key, data, actor=ctx.actor(user), now=now, business_key=business_key
    )
    with ctx.rt.factory() as session:
        _print_json(instance_json(session, instance, now))


@main.command()
@click.option("--user", default=None, help="Only tasks this user may act on (default: all open tasks).")
@click.option("--page", default=1, type=int)
@pass_ctx
def tasks(ctx: Context, user: str | None, page: int) -> None:
    """List open tasks."""
    now = utcnow()
    with ctx.rt.factory() as session:
        found = list_inbox(session, ctx.actor(user), InboxFilter(page=page), now)
        _print_json(
            {"items": [task_json(t, now) for t in found.items], "total": found.total, "page": found.page}
        )


@main.command()
@click.argument("task_id", type=int)
@click.option("--user", required=True, help="Complete as this user.")
@click.option("--data", "data_json", default="{}", help="Form data as a JSON object.")
@pass_ctx
def complete(ctx: Context, task_id: int, user: str, data_json: str) -> None:
    """Complete a task with form data (same checks as the API: group, claim, four-eyes, form)."""
    now = utcnow()
    item = _domain_call(
        complete_task, ctx.rt, task_id, _parse_json(data_json, "--data"), actor=ctx.actor(user), now=now
    )
    _print_json(task_json(item, now))


@main.command()
@click.argument("name")
@click.option("--key", "correlation_key", required=True, help="Business key (or id) of the waiting instance.")
@click.option("--data", "data_json", default="{}")
@click.option("--user", default=None)
@pass_ctx
def message(ctx: Context, name: str, correlation_key: str, data_json: str, user: str | None) -> None:
    """Deliver a message to the instances waiting for it."""
    delivered = _domain_call(
        deliver_message,
        ctx.rt,
        name,
        correlation_key,
        _parse_json(data_json, "--data"),
        actor=ctx.actor(user),
        now=utcnow(),
    )
    _print_json({"delivered_to": delivered})


@main.command()
@click.argument("instance_id", type=int)
@pass_ctx
def retry(ctx: Context, instance_id: int) -> None:
    """Re-run the failed step of an instance in status error."""
    now = utcnow()
    instance = _domain_call(retry_instance, ctx.rt, instance_id, actor=SYSTEM, now=now)
    with ctx.rt.factory() as session:
        _print_json(instance_json(session, instance, now))


@main.command("tick")
@click.option("--now", "now_text", default=None, help="ISO 8601 time to act as of (default: now).")
@pass_ctx
def tick_command(ctx: Context, now_text: str | None) -> None:
    """Do what the scheduler would have done by NOW: timers, reminders, daily jobs, e-mail."""
    try:
        now = parse_now(now_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from exc
    if ctx.settings.mail.smtp_host:
        _print_json(tick(ctx.rt, mailer_for(ctx.settings.mail, None), now).as_dict())
        return
    # Without a relay, due mail goes to a built-in sink for this run, so it shows up at /mail.
    with start_sink(ctx.rt.factory) as sink:
        _print_json(tick(ctx.rt, mailer_for(ctx.settings.mail, sink.port), now).as_dict())


# --- users -------------------------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Manage users, groups and API tokens."""


@users.command("add")
@click.argument("name")
@click.option("--groups", required=True, help="Comma-separated groups (created when missing).")
@click.option("--email", default="")
@click.option("--password", default=None, help="Web login password (omit for API-only users).")
@pass_ctx
def users_add(ctx: Context, name: str, groups: str, email: str, password: str | None) -> None:
    """Create a user, or add groups to an existing one."""
    with transaction(ctx.rt.factory) as session:
        user = _domain_call(
            add_user, session, name, groups=groups.split(","), now=utcnow(), email=email, password=password
        )
        click.echo(
            json.dumps({"username": user.username, "email": user.email, "groups": sorted(user.group_names)})
        )


@users.command("token")
@click.argument("name")
@pass_ctx
def users_token(ctx: Context, name: str) -> None:
    """Print a new API token for NAME (only its hash is stored)."""
    with transaction(ctx.rt.factory) as session:
        click.echo(_domain_call(issue_token, session, name, utcnow()))


@users.command("list")
@pass_ctx
def users_list(ctx: Context) -> None:
    """List users and their groups."""
    with ctx.rt.factory() as session:
        for user in session.scalars(select(User).order_by(User.username)):
            click.echo(f"{user.username}\t{user.email}\t{','.join(sorted(user.group_names))}")


# --- imports -----------------------------------------------------------------------------------------------


# Each kind of ERP file and the function that imports it (all-or-nothing, in the caller's transaction).
IMPORTERS: dict[str, Callable[..., ImportReport]] = {
    "customers": import_customers,
    "invoices": import_invoices,
    "payments": import_payments,
    "suppliers": import_suppliers,
}


@main.command("import")
@click.argument("kind", type=click.Choice(sorted(IMPORTERS)))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--user", default=None, help="Record the import as done by this user.")
@pass_ctx
def import_command(ctx: Context, kind: str, file: Path, user: str | None) -> None:
    """Import an ERP CSV file; a file with any bad row imports nothing (exit 2, each bad line named)."""
    actor = ctx.actor(user)
    now = utcnow()
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(f"importing {kind}", total=_count_rows(file))
        try:
            with transaction(ctx.rt.factory) as session:
                report = IMPORTERS[kind](
                    session, file, actor=actor.username, now=now, progress=lambda n: bar.advance(task, n)
                )
        except ImportRejected as exc:
            bar.stop()
            for line in exc.report.errors:
                click.echo(f"{file}: {line}", err=True)
            _fail(f"{file}: nothing imported ({len(exc.report.errors)} problem(s))", 2)
    click.echo(json.dumps({"kind": kind, "imported": report.imported}))


def _count_rows(path: Path) -> int | None:
    try:
        with path.open("rb") as fh:
            return max(0, sum(1 for _ in fh) - 1)
    except OSError:
        return None  # read_rows reports the problem with the file's name


# --- collections ------------------------------------------------------------------------------------------


def _as_of(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else utcnow().date()
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO date (YYYY-MM-DD)", param_hint="--as-of") from exc


@main.command("dunning-run")
@click.option("--as-of", "as_of_text", default=None, help="Day to run for (default: today).")
@pass_ctx
def dunning_run_command(ctx: Context, as_of_text: str | None) -> None:
    """Open a dunning case for every customer overdue past the grace days (idempotent per day)."""
    as_of = _as_of(as_of_text)
    _print_json(_run_batch(ctx, "dunning", chunks.plan_dunning(ctx.rt, as_of), _batch_now(as_of_text)))


def _batch_now(as_of_text: str | None) -> datetime:
    """The time a batch run acts at: now, or noon of a later --as-of day (so timers compare correctly)."""
    if not as_of_text:
        return utcnow()
    return max(utcnow(), datetime.combine(_as_of(as_of_text), time(12), tzinfo=UTC))


@main.command("provisions")
@click.option("--as-of", "as_of_text", default=None, help="Day of the aging (default: today).")
@pass_ctx
def provisions_command(ctx: Context, as_of_text: str | None) -> None:
    """Print the provision matrix applied to the aging buckets, plus specific provisions."""
    with ctx.rt.factory() as session:
        _print_json(provisions(session, _as_of(as_of_text), ctx.settings.provisions))


@main.command("limit-review-sweep")
@click.option("--as-of", "as_of_text", default=None, help="Day to sweep for (default: today).")
@pass_ctx
def limit_review_sweep_command(ctx: Context, as_of_text: str | None) -> None:
    """Start a credit limit review for every customer a trigger names (idempotent per day)."""
    as_of = _as_of(as_of_text)
    plan = chunks.plan_reviews(ctx.rt, as_of)
    _print_json(_run_batch(ctx, "credit_limit_review", plan, _batch_now(as_of_text)))


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

        return chunks.summary(process_key, chunks.run_chunks(ctx.rt, plan, now, run_one=one))
