"""`creditflow tick` draws one progress bar per phase on a terminal, and none when nothing is due."""

from __future__ import annotations

import io

from rich.console import Console

from workflows.cli.progress import tick_bars


def test_tick_bars_show_each_phase_with_work_and_skip_empty_phases() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with tick_bars(console) as bars:
        bars.begin("timers", 0)
        bars.begin("emails", 450)
        for _ in range(3):
            bars.advance("emails", 150)
        bars.advance("timers", 0)
    shown = out.getvalue()
    assert "emails" in shown and "450/450" in shown
    assert "timers" not in shown


def test_tick_bars_stay_off_when_stderr_is_not_a_terminal() -> None:
    out = io.StringIO()
    with tick_bars(Console(file=out, force_terminal=False)) as bars:
        bars.begin("emails", 2)
        bars.advance("emails", 2)
    assert out.getvalue() == ""
