"""50 concurrent web users on the inbox and task pages of `creditflow serve --workers N` on 127.0.0.1.

Seeds tasks with benchmarks/task_book.py (default 10,000 open + 10,000 completed), starts the real
server (gunicorn, N workers, the embedded scheduler in one of them) on a free loopback port, logs each
user in through the login form (demo users of eight groups, round robin), then every user loops for
`--seconds`: GET /inbox, then GET /tasks/<id> of a task on that page. The load generator is threads
in this process (keep-alive sessions); it shares the machine's cores with the server and the database.
Like a browser, a user resends a GET once when its kept-alive connection was reset (the server
closing an idle connection as the request goes out: a race every keep-alive server has); such
resends are counted in `connection_resends`, and a request that still fails is an error.
Goal (issue 8): zero errors; p95 reported.
Set WEB_LOAD_SERVER_LOG=FILE to keep the server's log.

The last line printed is JSON: {"users": 50, "requests": ..., "errors": ..., "inbox_p95_ms": ...,
"task_p95_ms": ..., "all_p95_ms": ..., ...}
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
import requests.adapters
import urllib3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.task_book import seed_task_book  # noqa: E402

USERS = ["analyst1", "manager1", "collector1", "sales1", "cfo1", "buyer1", "legal1", "finance1"]
TASK_LINK = re.compile(r'href="/tasks/(\d+)"')
LOGIN_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(url: str, workers: int, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    config = tmp / "web.toml"
    # Plain HTTP on loopback, no proxy: `serve --workers` would otherwise mark the session cookie Secure,
    # and requests does not send a Secure cookie over http (README "Security of the web UI").
    config.write_text(
        f'[scheduler]\nlock_file = "{tmp / "scheduler.lock"}"\n[mail]\nsink_port = 0\n'
        '[web]\nsecure_cookie = "false"\nbehind_proxy = "false"\n'
    )
    env = {
        **os.environ,
        "CREDITFLOW_DATABASE_URL": url,
        "CREDITFLOW_SECRET_KEY": "bench",
        "CREDITFLOW_CONFIG": str(config),
    }
    log_path = os.environ.get("WEB_LOAD_SERVER_LOG")
    server_log: Any = Path(log_path).open("wb") if log_path else subprocess.DEVNULL
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "creditflow"),
            "serve",
            "--workers",
            str(workers),
            "--port",
            str(port),
        ],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=server_log,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return server
        except (requests.ConnectionError, requests.Timeout):
            # gunicorn accepts before its workers have loaded the app: under load the probe times out.
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not answer /api/health within 60 s")


class CountingRetry(urllib3.util.Retry):
    """urllib3's retry policy, counting every resend across all users."""

    resends = 0
    lock = threading.Lock()

    def increment(self, *args: Any, **kwargs: Any) -> urllib3.util.Retry:
        with CountingRetry.lock:
            CountingRetry.resends += 1
        return super().increment(*args, **kwargs)


class User(threading.Thread):
    def __init__(self, base: str, username: str, seconds: float, start: threading.Barrier) -> None:
        super().__init__(daemon=True)
        self.base, self.username, self.seconds, self.start_together = base, username, seconds, start
        self.times: dict[str, list[float]] = {"inbox": [], "task": []}
        self.errors: list[str] = []

    def _get(self, kind: str, session: requests.Session, path: str) -> str | None:
        began = time.perf_counter()
        try:
            response = session.get(self.base + path, timeout=30)
        except requests.RequestException as exc:
            self.errors.append(f"{path}: {exc}")
            return None
        self.times[kind].append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            self.errors.append(f"{path}: HTTP {response.status_code}")
            return None
        return response.text

    def log_in(self, session: requests.Session) -> None:
        # Not timed: 50 password checks at once take tens of seconds on a loaded 2-core machine.
        page = session.get(self.base + "/login", timeout=LOGIN_TIMEOUT_S).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf, "no CSRF token on /login"
        login = session.post(
            self.base + "/login",
            data={"username": self.username, "password": "demo", "csrf_token": csrf.group(1)},
            allow_redirects=False,
            timeout=LOGIN_TIMEOUT_S,
        )
        assert login.status_code == 302, f"login of {self.username} failed: {login.status_code}"

    def run(self) -> None:
        session = requests.Session()
        # One resend of a GET on a connection error, as browsers do on reused sockets; never on a status.
        retry = CountingRetry(total=1, connect=1, read=1, status=0, other=0, allowed_methods={"GET"})
        session.mount("http://", requests.adapters.HTTPAdapter(max_retries=retry))
        try:
            self.log_in(session)
        except (requests.RequestException, AssertionError) as exc:
            # An error of the run; the other users must not wait at the barrier for this one forever.
            self.errors.append(f"login of {self.username}: {exc}")
            self.start_together.wait()
            return
        self.start_together.wait()
        until, turn = time.monotonic() + self.seconds, 0  # timed from the moment all are logged in
        while time.monotonic() < until:
            inbox = self._get("inbox", session, "/inbox" if turn % 3 else "/inbox?page=2")
            turn += 1
            ids = TASK_LINK.findall(inbox or "")
            if ids:
                self._get("task", session, f"/tasks/{ids[turn % len(ids)]}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (schema rebuilt); default SQLite")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--open-tasks", type=int, default=10_000)
    parser.add_argument("--completed-tasks", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = args.database_url or f"sqlite:///{tmp}/web.db"
        seed_task_book(url, args.open_tasks, args.completed_tasks)
        port = free_port()
        server = start_server(url, args.workers, port, tmp)
        try:
            began: list[float] = []  # when the last user has logged in: the load starts
            barrier = threading.Barrier(args.users, action=lambda: began.append(time.monotonic()))
            users = [
                User(f"http://127.0.0.1:{port}", USERS[n % len(USERS)], args.seconds, barrier)
                for n in range(args.users)
            ]
            for user in users:
                user.start()
            for user in users:
                user.join()
            wall = time.monotonic() - began[0]
        finally:
            server.terminate()
            server.wait(timeout=30)
    times = {kind: [t for u in users for t in u.times[kind]] for kind in ("inbox", "task")}
    everything = times["inbox"] + times["task"]
    errors = [e for u in users for e in u.errors]
    result: dict[str, Any] = {
        "database": url.split(":", 1)[0].split("+")[0],
        "workers": args.workers,
        "users": args.users,
        "requests": len(everything),
        "requests_per_s": round(len(everything) / wall, 1),
        "errors": len(errors),
        "first_errors": errors[:5],
        "connection_resends": CountingRetry.resends,
    }
    for kind, values in {**times, "all": everything}.items():
        result[f"{kind}_median_ms"] = round(statistics.median(values), 1) if values else None
        result[f"{kind}_p95_ms"] = round(percentile(values, 0.95), 1)
    result["goal"] = "zero errors"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
