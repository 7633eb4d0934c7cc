"""Progress bars for `creditflow tick` on a terminal: one rich bar per phase (timers, retries, e-mail)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class TickBars:
    """The `workflows.batch.sweeps.Progress` of a tick drawn on stderr; JSON on stdout stays clean."""

    def __init__(self, bars: Progress) -> None:
        self._bars = bars
        self._tasks: dict[str, TaskID] = {}

    def begin(self, phase: str, total: int | None) -> None:
        # A phase with nothing due shows no bar: a quiet tick prints only its JSON.
        if total != 0:
            self._tasks[phase] = self._bars.add_task(phase, total=total)

    def advance(self, phase: str, done: int) -> None:
        task = self._tasks.get(phase)
        if task is not None and done:
            self._bars.advance(task, done)


@contextmanager
def tick_bars(console: Console | None = None) -> Iterator[TickBars]:
    """Bars on stderr while the block runs; drawn only on a terminal (scripts and tests see none)."""
    console = console or Console(stderr=True)
    columns = (TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as bars:
        yield TickBars(bars)
