"""The outbox's dispatch: CPU per e-mail sent to a local SMTP server.

Queues `-n` generic e-mails (one recipient each, no attachment, like a level-1 dunning notice) in a fresh
SQLite database and sends them with `dispatch_due_emails` to an aiosmtpd server in this process that
accepts and discards. CPU is the dispatching thread's own (thread_time), so the server's thread is not
counted; wall time is printed too. The last line printed is JSON: {"emails", "sent", "cpu_ms_per_email",
"process_cpu_ms_per_email", "wall_ms_per_email", "load_avg"}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.fresh_db import fresh_database  # noqa: E402
from workflows.mail.outbox import dispatch_due_emails, queue_email  # noqa: E402
from workflows.mail.sink import start_controller  # noqa: E402
from workflows.mail.smtp import mailer_for  # noqa: E402
from workflows.settings import load_settings  # noqa: E402
from workflows.store.db import make_session_factory, transaction  # noqa: E402

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


class Discard:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=500, help="e-mails (default 500)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        factory = make_session_factory(fresh_database(f"sqlite:///{tmp}/outbox.db", NOW))
        with transaction(factory) as session:
            for n in range(args.n):
                queue_email(
                    session,
                    to=[f"customer{n}@example.com"],
                    template="generic",
                    context={"subject": f"Payment reminder {n}", "message": "Please pay. " * 20},
                    dedupe_key=f"notice:{n}",
                    now=NOW,
                )
        sink = start_controller(Discard())
        try:
            settings = load_settings({})
            mailer = mailer_for(settings.mail, sink.port)
            thread, process, wall = time.thread_time(), time.process_time(), time.perf_counter()
            result = dispatch_due_emails(factory, mailer, settings.mail, NOW, limit=args.n)
            thread, process = time.thread_time() - thread, time.process_time() - process
            wall = time.perf_counter() - wall
        finally:
            sink.stop()
    print(f"{result.sent} of {args.n} sent: {thread / args.n * 1000:.2f} ms CPU per e-mail")
    print(
        json.dumps(
            {
                "emails": args.n,
                "sent": result.sent,
                "cpu_ms_per_email": round(thread / args.n * 1000, 2),
                "process_cpu_ms_per_email": round(process / args.n * 1000, 2),
                "wall_ms_per_email": round(wall / args.n * 1000, 2),
                "load_avg": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
