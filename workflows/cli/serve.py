"""The HTTP servers of `creditflow serve`: waitress in the foreground process (the embedded scheduler
beside it, the mail sink in a child process that also sends the outbox), or `--workers N`: gunicorn
workers, one of them running the scheduler (and starting the sink's child process)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import click
from gunicorn.app.base import BaseApplication

from webui import create_app
from webui.security import for_workers
from workflows.batch.jobs import DAILY_JOBS
from workflows.batch.scheduler import EmbeddedScheduler, SingleSchedulerLock
from workflows.mail.sink_process import SinkProcess, start_mail_process, start_sink_process
from workflows.settings import Settings

# Threads answering requests in the foreground server. One process shares one GIL, so more threads add
# no CPU; they keep requests that wait (on the database's write lock, a slow client) from holding the others.
SERVE_THREADS = 8


def http_server(app: Any, host: str, port: int) -> Any:
    """The foreground `serve`'s HTTP server: waitress, with HTTP/1.1 keep-alive (werkzeug's development
    server, which it replaces, closed the connection after every answer and started a thread per request).

    X-Forwarded-* headers reach the app unchanged, as they did under werkzeug: the app trusts them only
    when `[web] behind_proxy` says so (webui/security.py), and waitress would otherwise drop them.
    """
    from waitress.server import create_server

    return create_server(
        app,
        host=host,
        port=port,
        threads=SERVE_THREADS,
        ident="creditflow",
        clear_untrusted_proxy_headers=False,
    )


def start_mail_child(settings: Settings, dispatch: bool) -> SinkProcess | None:
    """serve's child process for the mail: without a relay the built-in sink, which with `dispatch` also
    sends the outbox to itself; with a relay and `dispatch`, one that sends the outbox to the relay; else
    none. Either way the mail work runs beside the web process, not on its GIL.

    Raises:
        OSError: the sink's port cannot be bound (the message names the setting), or the child failed.
    """
    mail = settings.mail if dispatch else None
    if not settings.mail.smtp_host:
        port = settings.mail.sink_port
        return start_sink_process(settings.database, port=port, mail=mail, clock=settings.clock)
    if dispatch:
        return start_mail_process(settings.database, settings.mail, settings.clock)
    return None


def nudge_both(scheduler: EmbeddedScheduler, sink: SinkProcess | None) -> Callable[[], None]:
    """A web action's nudge: to the scheduler (timers it armed) and, when the mail process sends the
    outbox, to that process (mail it queued)."""
    if sink is None or not sink.dispatches:
        return scheduler.nudge

    def nudge() -> None:
        scheduler.nudge()
        sink.nudge()

    return nudge


def serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """gunicorn with `workers` processes and exactly one embedded scheduler among them.

    Each worker tries the SingleSchedulerLock (a file lock on SQLite, an advisory lock on PostgreSQL,
    so also across machines) once it has loaded the app; the one that gets it runs the scheduler and,
    without a relay, the mail sink. The others retry every `max_sleep_s`, so when gunicorn replaces the
    scheduler's worker another one takes over. The arbiter itself starts no threads (forking a process
    with threads is unsafe). Requests on other workers do not nudge the scheduler; it still wakes
    within `max_sleep_s`.
    """
    # Behind a proxy that terminates HTTPS: "auto" [web] secure_cookie and behind_proxy become true.
    settings = settings.replace("web", **for_workers(settings.web))

    class SchedulerRole:
        """One per worker: waits for the lock, then runs the scheduler (and sink) until the worker exits."""

        def __init__(self, app: Any) -> None:
            self.svc = app.extensions["creditflow"]
            self.lock = SingleSchedulerLock(self.svc.rt)
            self.scheduler: EmbeddedScheduler | None = None
            self.sink: Any = None
            self.stopped = threading.Event()

        def standby(self) -> None:
            while True:
                while not self.lock.acquire():
                    if self.stopped.wait(settings.scheduler.max_sleep_s):
                        return
                if self.stopped.is_set():
                    self.lock.release()
                    return
                try:
                    self.sink = start_mail_child(settings, dispatch=True)
                    break
                except OSError as exc:
                    # The sink port still held (the mail process of the worker gunicorn just replaced ends
                    # within seconds) or any start failure: let another worker, or this one later, try.
                    click.echo(f"creditflow: {exc}; trying again", err=True)
                    self.lock.release()
                    if self.stopped.wait(settings.scheduler.max_sleep_s):
                        return
            if self.sink is not None and self.sink.port is not None:
                self.svc.sink_port = self.sink.port
            mailer = None if self.sink else self.svc.mailer()  # the mail process sends the outbox itself
            self.scheduler = EmbeddedScheduler(
                self.svc.rt, mailer, self.svc.rt.clock, DAILY_JOBS, lock=self.lock
            )
            self.svc.nudge = nudge_both(self.scheduler, self.sink)
            self.scheduler.start()
            click.echo(f"creditflow: the scheduler runs in worker {os.getpid()}", err=True)

        def stop(self) -> None:
            self.stopped.set()
            if self.scheduler:
                self.scheduler.shutdown()
            self.lock.release()
            if self.sink:
                self.sink.stop()

    def post_worker_init(worker: Any) -> None:
        worker.creditflow_role = SchedulerRole(worker.wsgi)
        if settings.scheduler.enabled:
            threading.Thread(target=worker.creditflow_role.standby, daemon=True).start()

    def worker_exit(_server: Any, worker: Any) -> None:
        role = getattr(worker, "creditflow_role", None)
        if role is not None:
            role.stop()

    class Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "worker_class": "gthread",  # threads: a slow request does not block the worker's others
                "threads": 4,
                "timeout": 120,
                # Browsers keep connections between clicks; gunicorn's 2 s default (meant for a proxy in
                # front) closes them so often that a request racing the close gets a connection reset.
                "keepalive": 30,
                "post_worker_init": post_worker_init,
                "worker_exit": worker_exit,
                "control_socket_disable": True,  # gunicorn 24+: a management socket nothing here uses
            }
            for key, value in options.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(settings)  # in each worker, after the fork: no shared connections

    click.echo(f"creditflow on http://{host}:{port} with {workers} gunicorn workers", err=True)
    if settings.web.secure_cookie == "true":
        click.echo(
            "creditflow: the session cookie is Secure, so browsers log in over HTTPS only (the proxy's); "
            'for plain HTTP set [web] secure_cookie = "false"',
            err=True,
        )
    Gunicorn().run()
