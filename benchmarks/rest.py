"""Small approvals driven over REST, the way the SpiffArena baseline was measured.

One approval = create the instance, list the caller's tasks, complete the review, list tasks,
complete the approval: 5 HTTP calls, each client on one keep-alive connection (as SpiffArena's
`requests` session), sequential within a client. By default the server is `creditflow serve` in its
own process, as users run it, with the embedded scheduler and the mail sink (each approval sends one
e-mail through it); `--workers N` runs `serve --workers N`; `--in-process` is werkzeug's threaded server
on a thread of this process (client and server share the GIL; no scheduler, no sink). `--clients K`
runs K client processes at once; each lists only its own instances' tasks (`q=` its business keys).
SQLite on a temporary file unless `--database-url` names an empty database (e.g. PostgreSQL). Peer
figure on this machine: SpiffArena 5.18 approvals/s (benchmarks/README.md), one sequential client
against its server in its own process. After the last approval the server runs on until its outbox has
sent every approval's e-mail (at most `--mail-wait` s): `cpu_ms_per_approval.server` is the server's CPU
while the clients drove, `server_with_mail` adds the mail still sent after them (`mail_drain_s`), so
runs whose dispatch lagged differently compare on the latter. The last line is JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from handlers.registry import build_operations

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, inspect, select  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from webui import create_app  # noqa: E402
from workflows.cli.demo import seed_demo_users  # noqa: E402
from workflows.definitions.deploy import deploy_files, read_files  # noqa: E402
from workflows.definitions.shipped import shipped_bundles  # noqa: E402
from workflows.settings import load_settings  # noqa: E402
from workflows.store.db import make_engine, make_session_factory, transaction  # noqa: E402
from workflows.store.models import MailStatus, OutboxEmail  # noqa: E402
from workflows.store.schema import upgrade_schema  # noqa: E402
from workflows.users import SYSTEM_ACTOR, issue_token  # noqa: E402

SPIFFARENA_PER_S = 5.18
START = {
    "customer_name": "Benchmark Ltd",
    "order_value": 250000,
    "standard_terms_days": 30,
    "requested_terms_days": 45,
    "justification": "benchmark",
}


class Client:
    """One keep-alive HTTP/1.1 connection to the server (no proxy: the benchmark talks to loopback)."""

    def __init__(self, port: int, tokens: dict[str, str]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.tokens = tokens

    def call(self, user: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.tokens[user]}", "Content-Type": "application/json"}
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        payload = response.read()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
        return json.loads(payload)

    def approval(self, key: str, own_tasks: bool) -> None:
        """One small approval; with `own_tasks` the lists ask only for this business key's tasks (so
        concurrent clients never take each other's)."""
        data = {**START, "customer_name": f"Benchmark {key}"}  # the tasks' subject: what `q=` finds
        body = {"process_key": "payment_terms_exception", "business_key": key, "data": data}
        self.call("sales1", "POST", "/api/process-instances", body)
        listing = f"/api/tasks?per_page=1&q={key}" if own_tasks else "/api/tasks?per_page=1"
        for user, form in (
            ("analyst1", {"decision": "approve", "approved_terms_days": 45}),
            ("manager1", {"decision": "approve"}),
        ):
            [task] = self.call(user, "GET", listing)["items"]
            self.call(user, "POST", f"/api/tasks/{task['id']}/complete", {"data": form})


def drive(job: tuple[int, dict[str, str], int, int, bool, Any, Any]) -> tuple[list[float], float]:
    """One client: `n` approvals after a start signal; (durations in s, CPU s of this process)."""
    port, tokens, client_no, n, own_tasks, ready, start = job
    client = Client(port, tokens)
    for i in range(3):  # warm-up: this connection, the server's caches
        client.approval(f"W{client_no}x{i}x", own_tasks)
    ready.put(client_no)
    start.wait()
    cpu, durations = time.process_time(), []
    for i in range(n):
        began = time.perf_counter()
        client.approval(f"B{client_no}x{i}x", own_tasks)
        durations.append(time.perf_counter() - began)
    client.connection.close()
    return durations, time.process_time() - cpu


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants (Linux /proc)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue  # ended meanwhile
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))  # ppid, utime+stime
    tree = {pid}
    for _ in range(4):  # serve -> gunicorn arbiter -> worker: a shallow tree
        tree |= {p for p, (ppid, _cpu) in stats.items() if ppid in tree}
    return sum(stats[p][1] for p in tree if p in stats) / os.sysconf("SC_CLK_TCK")


@contextmanager
def in_process(settings: Any) -> Iterator[int]:
    """werkzeug's threaded server on a thread of this process; yields its port."""
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port
    finally:
        server.shutdown()


@contextmanager
def serve_process(url: str, workers: int | None, tmp: Path, pids: list[int]) -> Iterator[int]:
    """`creditflow serve [--workers N]` in its own process, with the embedded scheduler and the mail sink
    (on a free port); yields the port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = tmp / "rest.toml"
    config.write_text('[mail]\nsink_port = 0\n[web]\nsecure_cookie = "false"\nbehind_proxy = "false"\n')
    env = {
        **os.environ,
        "CREDITFLOW_DATABASE_URL": url,
        "CREDITFLOW_SECRET_KEY": "bench",
        "CREDITFLOW_CONFIG": str(config),
    }
    command = [str(Path(sys.executable).parent / "creditflow"), "serve", "--port", str(port)]
    if workers:
        command += ["--workers", str(workers)]
    with (tmp / "server.log").open("wb") as log:  # the server keeps its own copy of the handle
        server = subprocess.Popen(command, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=log)
    pids.append(server.pid)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as probe:
                    probe.sendall(b"GET /api/health HTTP/1.0\r\n\r\n")
                    if probe.recv(12).startswith(b"HTTP/1."):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the server did not answer; see {tmp / 'server.log'}")
            time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def seed(url: str) -> dict[str, str]:
    """Schema, shipped diagrams and demo users in an empty database; the users' API tokens."""
    settings = load_settings({}, database={"url": url}, web={"secret_key": "bench"})
    engine = make_engine(settings.database)
    if inspect(engine).get_table_names():
        engine.dispose()
        raise SystemExit(f"{url} is not empty: give an empty database")
    upgrade_schema(engine)
    now = datetime.now(UTC)
    with transaction(make_session_factory(engine)) as session:
        for bundle in shipped_bundles():
            # As `creditflow init`: the system's deployments of money-moving diagrams are active at once.
            deploy_files(session, read_files(bundle), build_operations(), deployed_by=SYSTEM_ACTOR, now=now)
        tokens = {name: issue_token(session, name, now) for name in seed_demo_users(session, now)}
    engine.dispose()
    return tokens


def mail_counts(url: str) -> dict[str, int]:
    """The outbox by status once the server has stopped: with the sink, every approval's e-mail is sent."""
    engine = make_engine(load_settings({}, database={"url": url}).database)
    try:
        with engine.connect() as connection:
            query = select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)
            return {str(status): int(n) for status, n in connection.execute(query)}
    finally:
        engine.dispose()


def wait_for_mail(url: str, seconds: float) -> float:
    """Seconds until no e-mail is pending in the outbox (the server still running), at most `seconds`."""
    began = time.perf_counter()
    while mail_counts(url).get(MailStatus.PENDING, 0) and time.perf_counter() - began < seconds:
        time.sleep(0.5)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=200, help="approvals to drive in all (default 200)")
    parser.add_argument("--clients", type=int, default=1, help="client processes at once (default 1)")
    parser.add_argument("--workers", type=int, default=None, help="measure `serve --workers N`")
    parser.add_argument("--in-process", action="store_true", help="werkzeug on a thread of this process")
    parser.add_argument("--database-url", default=None, help="an empty database (default: SQLite file)")
    parser.add_argument(
        "--mail-wait", type=float, default=120.0, help="seconds to wait for the outbox after the drive"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/rest.db"
        tokens = seed(url)
        load_before = os.getloadavg()[0]
        pids: list[int] = []
        if args.in_process:
            settings = load_settings({}, database={"url": url}, web={"secret_key": "bench"})
            server = in_process(settings)
        else:
            server = serve_process(url, args.workers, Path(tmp), pids)
        per_client = [args.n // args.clients + (c < args.n % args.clients) for c in range(args.clients)]
        context = multiprocessing.get_context("fork")  # the clients need nothing but the tokens
        with server as port, context.Manager() as manager, context.Pool(args.clients) as pool:
            ready, start = manager.Queue(), manager.Event()
            own_tasks = args.clients > 1
            jobs = [(port, tokens, c, k, own_tasks, ready, start) for c, k in enumerate(per_client)]
            running = pool.map_async(drive, jobs)
            for _client in per_client:  # every client warmed up; then all start at once
                while not running.ready():
                    try:
                        ready.get(timeout=1)
                        break
                    except queue.Empty:
                        pass
                else:
                    running.get()  # a client failed: raise its error
            # CPU time is what a loaded machine (other processes on the 2 cores) disturbs least.
            server_cpu, began = tree_cpu_s(pids[0]) if pids else 0.0, time.perf_counter()
            start.set()
            results = running.get(timeout=3600)
            wall = time.perf_counter() - began
            driven_cpu = tree_cpu_s(pids[0]) if pids else 0.0
            drain_s = wait_for_mail(url, args.mail_wait) if pids else 0.0
            with_mail_cpu = tree_cpu_s(pids[0]) - server_cpu if pids else 0.0
            server_cpu = driven_cpu - server_cpu if pids else 0.0
        load_after = os.getloadavg()[0]
        emails = mail_counts(url)
    durations = sorted(d for client_durations, _cpu in results for d in client_durations)
    client_cpu = sum(cpu for _durations, cpu in results)
    rate = len(durations) / wall
    median_ms = statistics.median(durations) * 1000
    kind = "serve" + (f" --workers {args.workers}" if args.workers else "")
    kind = "in-process werkzeug" if args.in_process else kind
    print(f"{args.n} approvals over REST, {args.clients} client(s), {kind}: {rate:.1f}/s")
    print(
        json.dumps(
            {
                "approvals_per_s": round(rate, 1),
                "median_ms": round(median_ms, 1),
                "p95_ms": round(durations[int(len(durations) * 0.95) - 1] * 1000, 1),
                "spiffarena_per_s": SPIFFARENA_PER_S,
                "ratio_vs_spiffarena": round(rate / SPIFFARENA_PER_S, 1),
                "server": kind,
                "clients": args.clients,
                "database": url.partition(":")[0],
                # In-process: the server's and the client's CPU together; else each apart.
                "cpu_ms_per_approval": {
                    "clients": round(client_cpu / args.n * 1000, 2),
                    "server": round(server_cpu / args.n * 1000, 2) if pids else None,
                    "server_with_mail": round(with_mail_cpu / args.n * 1000, 2) if pids else None,
                },
                "mail_drain_s": round(drain_s, 1),
                "emails": emails,
                "load_avg": {"before": load_before, "after": load_after, "cpus": os.cpu_count()},
            }
        )
    )


if __name__ == "__main__":
    main()
