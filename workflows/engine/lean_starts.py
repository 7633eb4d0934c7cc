"""Batch starts without a savepoint per handler, redone with them when a handler fails.

A step runs each handler that writes in a savepoint of its own, so a failing handler's writes vanish while
the step records the incident and commits the rest. A batch job (workflows/batch/daily_starts.py) already
runs each start in a savepoint; there, a start may run its handlers "lean" (no savepoint each: 12 % of a
dunning case start's CPU, issue 19) on the understanding that if any handler fails, the whole start is
rolled back and run again the usual way, which records the failure exactly as a start outside a batch
does. Handlers write only through the step's session (none calls out of the process), so the attempt
that was rolled back leaves nothing behind; its handlers simply run twice in that rare case.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


class RedoWithSavepoints(BaseException):
    """A handler failed in a lean start: the start must be rolled back and run again with savepoints.

    A BaseException on purpose: it passes SpiffWorkflow's and the engine's `except Exception`, which would
    turn it into the instance's incident; only `in_savepoint` below catches it.
    """


def run_lean(session: Session, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a handler without a savepoint: flushed before (it reads the step's rows as written) and after
    (its writes fail here, as they would at its savepoint's release); any failure asks for the redo."""
    try:
        session.flush()
        result = run()
        session.flush()
    except Exception as exc:
        raise RedoWithSavepoints(str(exc)) from exc
    return result


def in_savepoint(session: Session, start: Callable[[bool], T]) -> T:
    """`start(lean=True)` in a savepoint; if a handler failed in it, everything it did is rolled back and
    `start(lean=False)` runs in a fresh savepoint, with a savepoint per handler as outside a batch."""
    with contextlib.suppress(RedoWithSavepoints), session.begin_nested():  # its savepoint rolled back
        return start(True)
    with session.begin_nested():
        return start(False)
