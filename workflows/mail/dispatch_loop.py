"""The outbox dispatch of `serve`'s mail process (sink_process): due rows are sent from there, so that
building and sending every e-mail no longer takes turns with the web requests for the web process's GIL.

The web process says when a request may have queued mail (a nudge through the pipe); rows queued by the
scheduler's rounds (timers, reminders, daily jobs) and rows due for a retry are found by a look every
POLL_S. Each round is dispatch_due_emails as the scheduler ran it: claimed and committed before each send,
recorded after the server's answer, one SMTP connection per round.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from workflows.clock import Clock
from workflows.mail.dispatch import count_due_emails, dispatch_due_emails
from workflows.mail.smtp import Mailer
from workflows.settings import MailSettings

logger = logging.getLogger(__name__)

# How often the dispatcher looks for due rows nobody announced: what the scheduler's rounds queued, retries.
POLL_S = 1.0
# After a round in which a send failed (an unreachable relay ends the round after its one failure, the
# other rows stay due untried): the next look waits this long, as the scheduler's backoff did; nudges
# still run a round at once.
FAILED_ROUND_WAIT_S = 30.0
# As the scheduler's NUDGE_WINDOW: the nudges of a burst of requests share a round and its SMTP connection.
WINDOW_S = 0.25
BATCH = 200  # rows claimed per dispatch_due_emails call, as the scheduler's MAIL_BATCH


class MailDispatcher:
    """A thread sending due outbox rows: at once after a nudge (at most one round per WINDOW_S), and
    every POLL_S whatever happens. `stop` waits for the round that runs to end."""

    def __init__(
        self, factory: sessionmaker[Session], mailer: Mailer, settings: MailSettings, clock: Clock
    ) -> None:
        self._factory = factory
        self._mailer = mailer
        self._settings = settings
        self._clock = clock
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._failed = False  # a send of the last round failed
        self._thread = threading.Thread(target=self._run, name="mail-dispatch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def nudge(self) -> None:
        """Mail may have been queued: run a round soon."""
        self._wake.set()

    def stop(self, wait_s: float) -> None:
        """No round after this one; wait up to `wait_s` for the one that runs (a row cut off mid-send stays
        leased and is sent again when the lease runs out, as after a crash)."""
        self._stopped.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(wait_s)

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(FAILED_ROUND_WAIT_S if self._failed else POLL_S)
            self._wake.clear()
            if self._stopped.is_set():
                return
            began = time.monotonic()
            self.run_round(self._clock())
            # Nudges during the round and just after it wait for the window, then share one round.
            self._stopped.wait(max(0.0, WINDOW_S - (time.monotonic() - began)))

    def run_round(self, now: datetime) -> int:
        """Send every row due by `now`; returns how many were handled (sent, retried or failed)."""
        handled = 0
        self._failed = False
        try:
            with self._factory() as session:
                if not count_due_emails(session, now):
                    return 0  # no write transaction: on SQLite it would take the write lock from requests
            while not self._stopped.is_set():
                batch = dispatch_due_emails(self._factory, self._mailer, self._settings, now, limit=BATCH)
                done = batch.sent + batch.retried + batch.failed
                handled += done
                self._failed = self._failed or bool(batch.retried or batch.failed)
                if done < BATCH:  # nothing else due; a row retried with no delay waits for the next round
                    break
        except Exception as exc:  # a sweep loop: a failed round is a log line; the next look tries again
            logger.error("mail dispatch round at %s failed: %s: %s", now.isoformat(), type(exc).__name__, exc)
            self._failed = True
        return handled
