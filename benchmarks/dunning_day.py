"""A dunning day over 100,000 customers and 300,000 invoices: wall time and peak memory.

The book (bulk Core inserts, three invoices per customer) is a day in steady state: `--new-cases`
customers (default 2,000, 2 %) have an invoice that passes the grace period today, so the dunning run
opens their cases, which catch up to level 1 at once and queue a payment reminder each; 10 % of the
customers are already in dunning (active case rows, so the run skips them); the rest owe nothing
overdue. Credit limits are high and reviews not due, so the limit-review sweep scans the whole book but
starts nothing. The day is everything `tick` does at the daily hour: due timers, reminders, the dunning
run, the review sweep, and sending the notices to an SMTP server on 127.0.0.1 that accepts and discards.

Modes, each measured in a fresh process (so peak memory is the day's, not the seeding's):
- embedded: one process calls `workflows.jobs.tick` (what the embedded scheduler does);
- prefect:  `--prefect-workers N` processes each run `workflows.flows.tick_flow` for the same day
  against a `prefect server start` on 127.0.0.1 (PostgreSQL only): they share the chunks through the
  customers' claims. Each process stands for one Prefect worker's flow-run process (a worker starts
  exactly such a process per run); the worker's own ~10 s polling delay is not counted.
Goal (issue 8): <= 60 s and <= 1 GB.

The last line printed is JSON: {"customers": ..., "invoices": ...,
"embedded": {"wall_s": ..., "peak_rss_mb": ...},
"prefect": {...}}
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from workflows.cli import shipped_bundles  # noqa: E402
from workflows.db import make_engine, make_session_factory, transaction  # noqa: E402
from workflows.definitions import deploy_files, read_files  # noqa: E402
from workflows.models import Customer, DunningCase, Invoice, OutboxEmail  # noqa: E402
from workflows.schema import upgrade_schema  # noqa: E402
from workflows.settings import load_settings  # noqa: E402
from workflows.smtp_sink import start_controller  # noqa: E402
from workflows.users import seed_demo_users  # noqa: E402

DAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
BATCH = 10_000


def seed(url: str, customers: int, new_cases: int) -> float:
    settings = load_settings({}, database={"url": url})
    engine = make_engine(settings.database)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade_schema(engine)
    began = time.perf_counter()
    with transaction(make_session_factory(engine)) as session:
        seed_demo_users(session, NOW)
        for bundle in shipped_bundles():
            deploy_files(session, read_files(bundle), deployed_by="bench", now=NOW)
    rng = random.Random(3)
    grace = settings.dunning.grace_days
    new = set(rng.sample(range(customers), new_cases))
    rest = [c for c in range(customers) if c not in new]
    in_dunning = set(rng.sample(rest, customers // 10))
    created = NOW - timedelta(days=400)
    for start in range(0, customers, BATCH):
        people, invoices, cases = [], [], []
        for c in range(start, min(customers, start + BATCH)):
            people.append(
                dict(
                    id=c + 1,
                    external_id=f"ERP-{c + 1:06d}",
                    name=f"Customer {c + 1}",
                    email=f"ap{c + 1}@customers.example",
                    currency="EUR",
                    credit_limit=1_000_000,
                    next_review_date=DAY + timedelta(days=90 + c % 200),
                    grade="BCD"[c % 3],
                    created_at=created,
                    updated_at=created,
                )
            )
            for k in range(3):
                number = f"INV-{c + 1}-{k}"
                amount = 500 + (c * 7 + k * 13) % 5000
                if k == 0 and c in new:
                    due, status = DAY - timedelta(days=grace + 1), "open"  # passes the grace period today
                elif k == 0 and c in in_dunning:
                    due, status = DAY - timedelta(days=10 + c % 15), "open"
                elif k == 2:
                    due, status = DAY + timedelta(days=5 + c % 25), "open"  # not due yet
                else:
                    due, status = DAY - timedelta(days=30 + c % 300), "paid"
                invoices.append(
                    dict(
                        customer_id=c + 1,
                        number=number,
                        amount=amount,
                        open_amount=amount if status == "open" else 0,
                        currency="EUR",
                        issue_date=due - timedelta(days=30),
                        due_date=due,
                        status=status,
                        paid_date=None if status == "open" else due,
                        disputed=False,
                        created_at=created,
                    )
                )
            if c in in_dunning:
                cases.append(
                    dict(
                        customer_id=c + 1,
                        status="open",
                        level=1,
                        currency="EUR",
                        opened_at=NOW - timedelta(days=5),
                    )
                )
        with engine.begin() as conn:
            conn.execute(insert(Customer.__table__), people)
            conn.execute(insert(Invoice.__table__), invoices)
            if cases:
                conn.execute(insert(DunningCase.__table__), cases)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - began


# --- one day, in a fresh process --------------------------------------------------------------------------


def run_day(mode: str, chunk_size: int) -> dict[str, Any]:
    """Called in the child process: run the day and report wall time and this process's peak memory."""
    began = time.perf_counter()
    if mode == "embedded":
        from workflows.jobs import tick
        from workflows.mail import dispatch_due_emails, mailer_for
        from workflows.runner import Runtime

        settings = load_settings()
        rt = Runtime(make_session_factory(make_engine(settings.database)), settings)
        mailer = mailer_for(settings.mail, None)
        did = tick(rt, mailer, NOW).as_dict()
        # tick sends at most 200 e-mails per round; the scheduler's next rounds (due at once) send the rest.
        while (more := dispatch_due_emails(rt.factory, mailer, settings.mail, NOW).sent) > 0:
            did["emails"] += more
    else:
        from workflows.flows import tick_flow

        did = tick_flow(now=NOW, chunk_size=chunk_size)
    wall = time.perf_counter() - began
    jobs = {j["job"]: j.get("cases_started", j.get("reviews_started")) for j in did["jobs"]}
    return {
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "jobs": jobs,
        "emails": did.get("emails", 0),
    }


def _child(
    mode: str, url: str, smtp_port: int, chunk_size: int, extra_env: dict[str, str]
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        **extra_env,
        "CREDITFLOW_DATABASE_URL": url,
        "CREDITFLOW_SMTP_HOST": "127.0.0.1",
        "CREDITFLOW_SMTP_PORT": str(smtp_port),
    }
    return subprocess.Popen(
        [sys.executable, __file__, "--child", mode, "--chunk-size", str(chunk_size)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def _last_json(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the day's process failed with exit code {proc.returncode}:\n{out}")
    return dict(json.loads(out.strip().splitlines()[-1]))


class Discard:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _outcome(url: str) -> dict[str, int]:
    engine = make_engine(load_settings({}, database={"url": url}).database)
    with engine.connect() as conn:
        cases = conn.scalar(select(func.count()).select_from(DunningCase.__table__))
        sent = conn.scalar(select(func.count()).where(OutboxEmail.status == "sent"))
        pending = conn.scalar(select(func.count()).where(OutboxEmail.status != "sent"))
    engine.dispose()
    return {"cases": int(cases or 0), "emails_sent": int(sent or 0), "emails_not_sent": int(pending or 0)}


def _prefect_server(home: Path, port: int) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "prefect"),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ui",
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2).status == 200:
                return server, env
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError("prefect server did not answer /api/health within 90 s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (schema rebuilt); default SQLite")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--new-cases", type=int, default=2_000)
    parser.add_argument(
        "--prefect-workers", type=int, default=0, help="also run the day as N Prefect flow runs"
    )
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_day(args.child, args.chunk_size)))
        return
    sink = start_controller(Discard())
    results: dict[str, Any] = {
        "customers": args.customers,
        "invoices": args.customers * 3,
        "new_cases": args.new_cases,
    }
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/book.db"
        results["seed_s"] = round(seed(url, args.customers, args.new_cases), 1)
        print(
            f"seeded {args.customers:,} customers / {args.customers * 3:,} invoices in {results['seed_s']} s"
        )
        embedded = _last_json(_child("embedded", url, sink.port, args.chunk_size, {}))
        results["embedded"] = {**embedded, **_outcome(url)}
        print(f"embedded: {results['embedded']}")
        if args.prefect_workers:
            if not url.startswith("postgresql"):
                raise SystemExit("--prefect-workers needs --database-url of a PostgreSQL database")
            seed(url, args.customers, args.new_cases)
            server, env = _prefect_server(Path(tmp) / "prefect", 4290)
            try:
                began = time.perf_counter()
                procs = [
                    _child("prefect", url, sink.port, args.chunk_size, env)
                    for _ in range(args.prefect_workers)
                ]
                runs = [_last_json(p) for p in procs]
                wall = time.perf_counter() - began
            finally:
                server.terminate()
                server.wait(timeout=30)
            results["prefect"] = {
                "workers": args.prefect_workers,
                "wall_s": round(wall, 1),
                "peak_rss_mb_per_process": [r["peak_rss_mb"] for r in runs],
                "started_per_process": [r["jobs"].get("dunning_run") for r in runs],
                "emails_per_process": [r["emails"] for r in runs],
                **_outcome(url),
            }
            print(f"prefect: {results['prefect']}")
    sink.stop()
    results["goal"] = {"wall_s": 60, "peak_rss_mb": 1024}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
