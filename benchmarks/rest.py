"""Small approvals driven over REST, the way the SpiffArena baseline was measured.

One approval = create the instance, list the caller's tasks, complete the review, list tasks,
complete the approval: 5 HTTP calls on one keep-alive-less client, sequential, on a SQLite file.
By default the server is werkzeug's threaded server in this process (the client shares its GIL; no
scheduler). `--serve` measures `creditflow serve` itself in its own process, as users run it, with
the embedded scheduler and the mail sink: `--serve werkzeug` is the default `serve`, `--serve gunicorn`
is `serve --workers 1` (gunicorn gthread). Peer figure on this machine: SpiffArena 5.18 approvals/s
(benchmarks/README.md), measured with its server in its own process. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from handlers.registry import build_operations

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from werkzeug.serving import make_server  # noqa: E402

from webui import create_app  # noqa: E402
from workflows.cli.demo import seed_demo_users  # noqa: E402
from workflows.definitions.deploy import deploy_files, read_files  # noqa: E402
from workflows.definitions.shipped import shipped_bundles  # noqa: E402
from workflows.settings import load_settings  # noqa: E402
from workflows.store.db import make_engine, make_session_factory, transaction  # noqa: E402
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
# The process-wide opener would honour proxy variables; the benchmark only talks to loopback.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(base: str, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with OPENER.open(request, timeout=30) as response:
        return json.loads(response.read())


def one_approval(base: str, tokens: dict[str, str], i: int) -> None:
    call(
        base,
        tokens["sales1"],
        "POST",
        "/api/process-instances",
        {"process_key": "payment_terms_exception", "business_key": f"B-{i}", "data": START},
    )
    for user, form in (
        ("analyst1", {"decision": "approve", "approved_terms_days": 45}),
        ("manager1", {"decision": "approve"}),
    ):
        [task] = call(base, tokens[user], "GET", "/api/tasks?per_page=1")["items"]
        call(base, tokens[user], "POST", f"/api/tasks/{task['id']}/complete", {"data": form})


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
    tree, ticks = {pid}, 0
    for _ in range(4):  # serve -> gunicorn arbiter -> worker: a shallow tree
        tree |= {p for p, (ppid, _cpu) in stats.items() if ppid in tree}
    ticks = sum(stats[p][1] for p in tree if p in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def in_process(settings: Any) -> Iterator[str]:
    """werkzeug's threaded server on a thread of this process; yields the base URL."""
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextmanager
def serve_process(url: str, kind: str, tmp: Path, pids: list[int]) -> Iterator[str]:
    """`creditflow serve` (werkzeug) or `serve --workers 1` (gunicorn) in its own process, with the
    embedded scheduler and the mail sink (on a free port); yields the base URL."""
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
    if kind == "gunicorn":
        command += ["--workers", "1"]
    with (tmp / "server.log").open("wb") as log:  # the server keeps its own copy of the handle
        server = subprocess.Popen(command, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    pids.append(server.pid)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with OPENER.open(f"{base}/api/health", timeout=10):
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"the server did not answer; see {tmp / 'server.log'}") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=200, help="approvals to drive (default 200)")
    parser.add_argument(
        "--serve",
        choices=["werkzeug", "gunicorn"],
        default=None,
        help="measure `creditflow serve` (werkzeug) or `serve --workers 1` (gunicorn) in its own process",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/rest.db"
        settings = load_settings({}, database={"url": url}, web={"secret_key": "bench"})
        engine = make_engine(settings.database)
        upgrade_schema(engine)
        factory = make_session_factory(engine)
        now = datetime.now(UTC)
        with transaction(factory) as session:
            for bundle in shipped_bundles():
                # As `creditflow init`: the system's deployments of money-moving diagrams are active at once.
                files = read_files(bundle)
                deploy_files(session, files, build_operations(), deployed_by=SYSTEM_ACTOR, now=now)
            tokens = {name: issue_token(session, name, now) for name in seed_demo_users(session, now)}
        engine.dispose()
        durations = []
        load_before = os.getloadavg()[0]
        pids: list[int] = []
        server = serve_process(url, args.serve, Path(tmp), pids) if args.serve else in_process(settings)
        with server as base:
            for i in range(10):
                one_approval(base, tokens, -i - 1)  # warm-up
            # CPU time is what a loaded machine (other processes on the 2 cores) disturbs least.
            client_cpu, server_cpu = time.process_time(), tree_cpu_s(pids[0]) if pids else 0.0
            for i in range(args.n):
                began = time.perf_counter()
                one_approval(base, tokens, i)
                durations.append(time.perf_counter() - began)
            client_cpu = time.process_time() - client_cpu
            server_cpu = tree_cpu_s(pids[0]) - server_cpu if pids else 0.0
        load_after = os.getloadavg()[0]
    rate = len(durations) / sum(durations)
    durations.sort()
    median_ms = statistics.median(durations) * 1000
    print(f"{args.n} approvals over REST (5 calls each): {rate:.1f}/s, median {median_ms:.1f} ms")
    print(
        json.dumps(
            {
                "approvals_per_s": round(rate, 1),
                "median_ms": round(median_ms, 1),
                "p95_ms": round(durations[int(len(durations) * 0.95) - 1] * 1000, 1),
                "spiffarena_per_s": SPIFFARENA_PER_S,
                "ratio_vs_spiffarena": round(rate / SPIFFARENA_PER_S, 1),
                "server": args.serve or "in-process werkzeug",
                # In-process: the server's and the client's CPU together; with --serve, each apart.
                "cpu_ms_per_approval": {
                    "this_process": round(client_cpu / args.n * 1000, 2),
                    "server": round(server_cpu / args.n * 1000, 2) if pids else None,
                },
                "load_avg": {"before": load_before, "after": load_after, "cpus": os.cpu_count()},
            }
        )
    )


if __name__ == "__main__":
    main()
