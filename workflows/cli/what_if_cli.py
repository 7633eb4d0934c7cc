"""`creditflow what-if KEY FILES... --from --to`: replay edited decision tables over the decision log."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from workflows.audit_trail import period_bound
from workflows.cli.context import Context, domain_call, fail, pass_ctx, print_json
from workflows.definitions.validation import InvalidBundle
from workflows.what_if.run import what_if


@click.command("what-if")
@click.argument("key")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--from", "start_text", required=True, help="First day (YYYY-MM-DD) or ISO 8601 time with offset."
)
@click.option(
    "--to", "end_text", required=True, help="Last day (YYYY-MM-DD, the whole day) or ISO 8601 time."
)
@click.option("--page", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--per-page", default=50, show_default=True, type=click.IntRange(1, 200))
@click.option("--all", "every", is_flag=True, help="Print every changed decision, not one page.")
@pass_ctx
def what_if_command(
    ctx: Context,
    key: str,
    files: tuple[Path, ...],
    start_text: str,
    end_text: str,
    page: int,
    per_page: int,
    every: bool,
) -> None:
    """Re-evaluate the edited .dmn FILES over the inputs the decision log recorded for process KEY in the
    period, with the runtime's DMN engine, and print {summary, changes} as POST /api/what-if answers.
    Reads only (the session is rolled back). A progress bar on stderr on a terminal. Exit 2: a file fails
    the DMN checks (FILE:LINE problems on stderr)."""
    try:
        start, end = period_bound(start_text, end=False), period_bound(end_text, end=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--from/--to") from exc
    uploads = {path.name: path.read_bytes() for path in files}
    console = Console(stderr=True)
    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    session = ctx.rt.factory()
    try:
        with Progress(*columns, console=console, disable=not console.is_terminal) as bars:
            bar = bars.add_task("replay", total=None)

            def progress(done: int, total: int) -> None:
                bars.update(bar, completed=done, total=total)

            answer = domain_call(
                what_if,
                session,
                key,
                uploads,
                start,
                end,
                base=ctx.settings.credit.base_currency,
                page=1 if every else page,
                per_page=10**9 if every else per_page,
                progress=progress,
            )
    except InvalidBundle as exc:
        fail("\n".join(str(p) for p in exc.problems), 2)
    finally:
        session.rollback()  # a what-if writes nothing
        session.close()
    print_json(answer)
