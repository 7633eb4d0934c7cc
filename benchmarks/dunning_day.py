"""A dunning day over 100,000 customers and 300,000 invoices: wall time and peak memory.

The book (bulk Core inserts, three invoices per customer) is a day in steady state: `--overdue-share`
of the customers (default 0.25, a quarter, as a book a new user tried had; `--new-cases N` gives the
number instead: the benchmark's book before issue 19 opened 2,000, 2 %) have an invoice that passes the
grace period today, so the dunning run opens their cases, which catch up to level 1 at once and queue a
payment reminder each; 10 % of the customers are already in dunning (active case rows, so the run skips
them); the rest owe nothing overdue. Credit limits are high and reviews not due, so the limit-review
sweep scans the whole book but starts nothing. The day is everything `tick` does at the daily hour: due
timers, reminders, the dunning run, the review sweep, and sending the notices to an SMTP server on
127.0.0.1 that accepts and discards.

Modes, each measured in a fresh process (so peak memory is the day's, not the seeding's):
- embedded: one process calls `workflows.batch.jobs.tick` (what the embedded scheduler does);
- prefect:  `--prefect-workers N` real `prefect worker start --pool ... --limit 1` processes, a
  `prefect server start` on 127.0.0.1, and the deployments `creditflow prefect deploy` registers
  (PostgreSQL only). N runs of the `creditflow-tick/daily` deployment are created for the day; each
  worker picks one and starts its flow-run process, and the runs share the chunks through the
  customers' claims. Reported: from creating the runs to the last one finishing (includes the
  workers' polling, `PREFECT_WORKER_QUERY_SECONDS`, set to 2 here), the runs' own start-to-end
  time, and each flow-run process's peak RSS (VmHWM, sampled from /proc).
Goal (issue 19): 100,000 customers at 25 % overdue, every due notice sent, in <= 60 s at <= 500 MB
(about 400 case starts per second). Embedded, each phase of the tick is timed (`phases_s`, from its
first to its last progress report), and the dunning run's own time gives `case_starts_per_s` and
`ms_per_case_start`.

The last line printed is JSON: {"customers": ..., "invoices": ..., "new_cases": ...,
"embedded": {"wall_s": ..., "peak_rss_mb": ..., "phases_s": {...}, "case_starts_per_s": ...,
"ms_per_case_start": ..., "cases": ..., "emails_sent": ..., "emails_not_sent": ...},
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
import threading
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from handlers.registry import build_operations

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from benchmarks.fresh_db import fresh_database  # noqa: E402
from workflows.credit.models import Customer, DunningCase, Invoice  # noqa: E402
from workflows.mail.sink import start_controller  # noqa: E402
from workflows.settings import load_settings  # noqa: E402
from workflows.store.db import make_engine  # noqa: E402
from workflows.store.models import OutboxEmail  # noqa: E402

DAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
BATCH = 10_000


def seed(url: str, customers: int, new_cases: int) -> float:
    began = time.perf_counter()
    engine = fresh_database(url, NOW)
    rng = random.Random(3)
    grace = 7  # level 1 of the slowest ladder (grades A/B, bpmn/dunning_policy.dmn): due for every grade
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


class PhaseClock:
    """A tick's progress hook that times each phase, from its first report to its last: wall seconds and
    this process's CPU seconds (on a shared machine the CPU time is what the load disturbs least)."""

    def __init__(self) -> None:
        self.spans: dict[str, list[float]] = {}

    def begin(self, phase: str, total: int | None) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.spans.setdefault(phase, [wall, wall, cpu, cpu])

    def advance(self, phase: str, done: int) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.spans.setdefault(phase, [wall, wall, cpu, cpu])[1::2] = [wall, cpu]

    def seconds(self, cpu: bool = False) -> dict[str, float]:
        first, last = (2, 3) if cpu else (0, 1)
        return {phase: round(span[last] - span[first], 2) for phase, span in self.spans.items()}


def run_day(mode: str, chunk_size: int) -> dict[str, Any]:
    """Called in the child process: run the day and report wall time and this process's peak memory."""
    began = time.perf_counter()
    clock = PhaseClock()
    if mode == "embedded":
        from workflows.batch.jobs import tick
        from workflows.engine.runner import Runtime
        from workflows.mail.smtp import mailer_for

        settings = load_settings()
        rt = Runtime(make_engine(settings.database), settings, build_operations())
        mailer = mailer_for(settings.mail, None)
        # ONE tick: it sends every notice the day queues, in batches (issue 13; it used to stop at 200).
        did = tick(rt, mailer, NOW, progress=clock).as_dict()
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    wall = time.perf_counter() - began
    jobs = {j["job"]: j.get("cases_started", j.get("reviews_started")) for j in did["jobs"]}
    phases, phases_cpu = clock.seconds(), clock.seconds(cpu=True)
    dunning_s = phases.get("job dunning_run")
    dunning_cpu_s = phases_cpu.get("job dunning_run")
    starts = jobs.get("dunning_run")
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(time.process_time(), 1),
        "phases_s": phases,
        "phases_cpu_s": phases_cpu,
        "case_starts_per_s": round(starts / dunning_s, 1) if starts and dunning_s else None,
        "ms_per_case_start": round(1000 * dunning_s / starts, 2) if starts and dunning_s else None,
        "cpu_ms_per_case_start": (
            round(1000 * dunning_cpu_s / starts, 2) if starts and dunning_cpu_s else None
        ),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "jobs": jobs,
        "emails": did.get("emails", 0),
        "failed_instances": len(did.get("failed", [])),
        "errors": did.get("errors", []),
    }


def _day_env(url: str, smtp_port: int, extra_env: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        **extra_env,
        "CREDITFLOW_DATABASE_URL": url,
        "CREDITFLOW_SMTP_HOST": "127.0.0.1",
        "CREDITFLOW_SMTP_PORT": str(smtp_port),
    }


def _child(
    mode: str, url: str, smtp_port: int, chunk_size: int, extra_env: dict[str, str], copies: int = 1
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--child", mode, "--chunk-size", str(chunk_size), "--copies", str(copies)],
        env=_day_env(url, smtp_port, extra_env),
        stdout=subprocess.PIPE,
        text=True,
    )


# --- the day on real Prefect workers -------------------------------------------------------------------

POOL = "creditflow-bench"


def deploy_for_bench() -> dict[str, Any]:
    """Child: register the deployments as `creditflow prefect deploy` does (frequent flow kept idle)."""
    from workflows.batch.flows import deploy_flows

    deployed = deploy_flows(load_settings(), pool=POOL, copies=1, daily_cron=None, frequent_cron="0 0 1 1 *")
    return {"deployed": deployed}


def trigger_and_wait(copies: int, chunk_size: int) -> dict[str, Any]:
    """Child: create `copies` runs of the daily tick deployment for the seeded day; wait for all."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    began = time.perf_counter()
    runs = [
        run_deployment(
            "creditflow-tick/daily",
            parameters={"now": NOW.isoformat(), "chunk_size": chunk_size},
            timeout=0,
        )
        for _ in range(copies)
    ]
    with get_client(sync_client=True) as client:
        while True:
            states = [client.read_flow_run(run.id) for run in runs]
            if all(r.state is not None and r.state.is_final() for r in states):
                break
            if time.perf_counter() - began > 900:
                raise RuntimeError("the flow runs did not finish within 15 minutes")
            time.sleep(0.5)
    wall = time.perf_counter() - began
    starts = [r.start_time for r in states if r.start_time]
    ends = [r.end_time for r in states if r.end_time]
    return {
        "wall_s": round(wall, 1),
        "runs_start_to_end_s": round((max(ends) - min(starts)).total_seconds(), 1),
        "per_run_s": [round(r.total_run_time.total_seconds(), 1) for r in states],
        "states": [r.state.name for r in states if r.state is not None],
    }


class FlowRunMemory(threading.Thread):
    """Samples the peak RSS (VmHWM) of every flow-run process (`python -m prefect.engine`)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks: dict[int, int] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            for pid_dir in Path("/proc").iterdir():
                if not pid_dir.name.isdigit():
                    continue
                try:
                    if b"prefect.engine" not in (pid_dir / "cmdline").read_bytes():
                        continue
                    for line in (pid_dir / "status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            kb = int(line.split()[1])
                            self.peaks[int(pid_dir.name)] = max(kb, self.peaks.get(int(pid_dir.name), 0))
                except OSError:
                    continue

    def peaks_mb(self) -> list[int]:
        return [round(kb / 1024) for kb in self.peaks.values()]


def day_on_prefect_workers(
    url: str, smtp_port: int, workers: int, chunk_size: int, home: Path
) -> dict[str, Any]:
    server, env = _prefect_server(home / "prefect", 4290)
    env = {**env, "PREFECT_WORKER_QUERY_SECONDS": "2"}
    started: list[subprocess.Popen[bytes]] = []
    memory = FlowRunMemory()
    try:
        deployed = _last_json(_child("deploy", url, smtp_port, chunk_size, env))
        for n in range(workers):
            log = (home / f"worker-{n}.log").open("wb")
            started.append(
                subprocess.Popen(
                    [str(Path(sys.executable).parent / "prefect"), "worker", "start", "--pool", POOL]
                    + ["--limit", "1", "--name", f"bench-worker-{n}"],
                    env=_day_env(url, smtp_port, env),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=ROOT,
                )
            )
        memory.start()
        result = _last_json(_child("trigger", url, smtp_port, chunk_size, env, copies=workers))
    finally:
        memory.stopping.set()
        for proc in started:
            proc.terminate()
        for proc in started:
            proc.wait(timeout=30)
        server.terminate()
        server.wait(timeout=30)
    return {
        "workers": workers,
        **result,
        "peak_rss_mb_per_flow_run": memory.peaks_mb(),
        "deployments": [d["deployment"] for d in deployed["deployed"]],
    }


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
    parser.add_argument(
        "--overdue-share",
        type=float,
        default=0.25,
        help="share of the customers whose invoice passes the grace period today (a case each)",
    )
    parser.add_argument("--new-cases", type=int, default=None, help="that many customers instead of a share")
    parser.add_argument(
        "--prefect-workers", type=int, default=0, help="also run the day as N Prefect flow runs"
    )
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--copies", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        children = {
            "deploy": deploy_for_bench,
            "trigger": lambda: trigger_and_wait(args.copies, args.chunk_size),
        }
        call = children.get(args.child, lambda: run_day(args.child, args.chunk_size))
        print(json.dumps(call()))
        return
    if args.new_cases is None:
        if not 0 <= args.overdue_share <= 0.9:  # 10 % of the book is already in dunning
            raise SystemExit("--overdue-share must be between 0 and 0.9")
        args.new_cases = round(args.customers * args.overdue_share)
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
            results["prefect"] = {
                **day_on_prefect_workers(url, sink.port, args.prefect_workers, args.chunk_size, Path(tmp)),
                **_outcome(url),
            }
            print(f"prefect: {results['prefect']}")
    sink.stop()
    results["goal"] = {"wall_s": 60, "peak_rss_mb": 500, "case_starts_per_s": 400}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
