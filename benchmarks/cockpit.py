"""The credit manager's cockpit at scale (issue 17): latency of the KPI API, the portfolio, the dashboard,
the watchlist and the collector worklist on a book of 100,000 customers and 1,000,000 invoices.

Seeds the book with benchmarks/cockpit_book.py (bulk inserts, three currencies with stored daily rates,
13 months of invoices, ~60 % paid through payments and allocations, credit notes, write-offs, dunning
cases), on SQLite (a temporary file, or --sqlite-file) or PostgreSQL (--database-url; its public schema
is dropped and rebuilt, so give it a database of its own). Then, by default, starts the real server
(`creditflow serve --workers 2` on a free loopback port, gunicorn, the embedded scheduler switched off so
its daily jobs do not run during the measurement), logs each user in through the login form (pages) and
gives it an API token (API routes), and sends each route `--requests` times one after another after two
warm-up requests, timing from sending to the last byte read. `--test-client` measures through Flask's test
client in this process instead (routing, auth, views, templates; no socket, no gunicorn).

Routes, as a credit manager (manager1) except the collector worklist (collector1): GET /api/kpis for a
month and a quarter, /portfolio (first page, and filtered to grade D), the portfolio's CSV and XLSX
exports (found as links on the page; timed separately: the 300 ms goal is for the pages), /dashboard,
/api/watchlist, /watchlist and /collections. A route answering 404 is reported as "missing" (not built
yet), any other non-200 as an error with its status. Goal (issue 17): p95 <= 300 ms.

The last line printed is JSON: {"scale": {...}, "db": ..., "mode": ..., "seed_seconds": ...,
"routes": {NAME: {"p50_ms", "p95_ms", "max_ms", "first_ms", "n", "bytes"} | {"status": "missing"}},
"goal_p95_ms": 300, "load_avg": {...}}
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.cockpit_book import NOW, post_month_ends, seed_cockpit_book  # noqa: E402
from workflows.settings import load_settings  # noqa: E402
from workflows.store.db import make_engine, make_session_factory, transaction  # noqa: E402
from workflows.users import issue_token  # noqa: E402

GOAL_P95_MS = 300
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
EXPORT_LINK = re.compile(r'href="(/portfolio[^"]*?(?:xlsx|csv)[^"]*)"', re.IGNORECASE)
MANAGER, COLLECTOR = "manager1", "collector1"
# name: (user, path); the exports are found on the portfolio page (see export_routes).
ROUTES: dict[str, tuple[str, str]] = {
    "api_kpis_month": (MANAGER, "/api/kpis?period=month"),
    "api_kpis_quarter": (MANAGER, "/api/kpis?period=quarter"),
    "portfolio": (MANAGER, "/portfolio"),
    "portfolio_grade_d": (MANAGER, "/portfolio?grade=D"),
    "api_portfolio": (MANAGER, "/api/portfolio"),
    "dashboard": (MANAGER, "/dashboard"),
    "api_watchlist": (MANAGER, "/api/watchlist"),
    "watchlist": (MANAGER, "/watchlist"),
    "collections": (COLLECTOR, "/collections"),
    "customers_baseline": (MANAGER, "/customers"),  # an existing list page on the same book, for comparison
}
Get = Callable[[str, str], tuple[int, bytes]]  # (user, path) -> (status, body)


def _tokens(url: str) -> dict[str, str]:
    engine = make_engine(load_settings({}, database={"url": url}).database)
    with transaction(make_session_factory(engine)) as session:
        tokens = {user: issue_token(session, user, NOW) for user in (MANAGER, COLLECTOR)}
    engine.dispose()
    return tokens


def _headers(path: str, tokens: dict[str, str], user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[user]}"} if path.startswith("/api/") else {}


def test_client_get(url: str, today: date | None = None) -> tuple[Get, Callable[[], None]]:
    """GET through Flask's test client, one logged-in client per user (the clock at `today`, 09:00 UTC)."""
    from webui import create_app

    settings = load_settings({}, database={"url": url}, web={"secret_key": "bench"}, mail={"sink_port": 0})
    now = NOW if today is None else datetime(today.year, today.month, today.day, 9, 0, tzinfo=UTC)
    app = create_app(settings, clock=lambda: now)
    tokens = _tokens(url)
    clients = {}
    for user in (MANAGER, COLLECTOR):
        client = app.test_client()
        csrf = CSRF.search(client.get("/login").get_data(as_text=True))
        assert csrf, "no CSRF token on /login"
        login = client.post(
            "/login", data={"username": user, "password": "demo", "csrf_token": csrf.group(1)}
        )
        assert login.status_code == 302, f"login of {user} failed: {login.status_code}"
        clients[user] = client

    def get(user: str, path: str) -> tuple[int, bytes]:
        response = clients[user].get(path, headers=_headers(path, tokens, user))
        return response.status_code, response.get_data()

    return get, app.extensions["creditflow"].engine.dispose


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(
    url: str, workers: int, tmp: Path, today: date | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`creditflow serve --workers N` on a free loopback port, scheduler off; returns (process, base URL).
    `today`: the server's clock is the simulated one, standing at that day 09:00 UTC (DESIGN.md clock)."""
    config = tmp / "cockpit.toml"
    # Plain HTTP on loopback without a proxy (as benchmarks/web_load.py); no scheduler: its daily jobs
    # (dunning run, review sweep over the whole book) would run at start and skew the figures.
    clock = (
        ""
        if today is None
        else f'[clock]\nmode = "simulated"\nstart = "{today.isoformat()}T09:00:00+00:00"\n'
    )
    config.write_text(
        "[scheduler]\nenabled = false\n[mail]\nsink_port = 0\n"
        '[web]\nsecure_cookie = "false"\nbehind_proxy = "false"\n' + clock
    )
    env = {
        **os.environ,
        "CREDITFLOW_DATABASE_URL": url,
        "CREDITFLOW_SECRET_KEY": "bench",
        "CREDITFLOW_CONFIG": str(config),
    }
    port = free_port()
    creditflow = str(Path(sys.executable).parent / "creditflow")
    with (tmp / "server.log").open("wb") as log:  # the server keeps its own copy of the handle
        server = subprocess.Popen(
            [creditflow, "serve", "--workers", str(workers), "--port", str(port)],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if requests.get(f"{base}/api/health", timeout=10).status_code == 200:
                return server, base
        except requests.RequestException:
            time.sleep(0.2)
    server.terminate()
    server.wait(timeout=30)
    raise RuntimeError(f"the server did not answer /api/health within 60 s; see {tmp / 'server.log'}")


def http_get(url: str, base: str) -> Get:
    """GET over HTTP with a keep-alive session per user, logged in through the login form."""
    tokens = _tokens(url)
    sessions = {}
    for user in (MANAGER, COLLECTOR):
        session = requests.Session()
        csrf = CSRF.search(session.get(f"{base}/login", timeout=30).text)
        assert csrf, "no CSRF token on /login"
        login = session.post(
            f"{base}/login",
            data={"username": user, "password": "demo", "csrf_token": csrf.group(1)},
            allow_redirects=False,
            timeout=30,
        )
        assert login.status_code == 302, f"login of {user} failed: {login.status_code}"
        sessions[user] = session

    def get(user: str, path: str) -> tuple[int, bytes]:
        response = sessions[user].get(
            base + path, headers=_headers(path, tokens, user), timeout=600, allow_redirects=False
        )
        return response.status_code, response.content

    return get


# --- measuring ---------------------------------------------------------------------------------------------


def percentile(ordered: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def roll_balances_to(url: str, today: date) -> float:
    """Roll the maintained balances to `today` (what the first request of the day, or the daily job
    balances_roll, does), so the timed requests find them rolled; returns the seconds it took."""
    from workflows.credit.portfolio_balances import ensure_rolled

    engine = make_engine(load_settings({}, database={"url": url}).database)
    started = time.monotonic()
    with make_session_factory(engine)() as session:
        ensure_rolled(session, today, load_settings({}).credit.base_currency)
    engine.dispose()
    seconds = round(time.monotonic() - started, 1)
    print(f"balances rolled to {today.isoformat()} in {seconds} s", flush=True)
    return seconds


def touch_book(url: str) -> Callable[[], None]:
    """A change of the book as creditflow records one (an audit event), so the next request finds the
    KPI and portfolio caches (keyed by the book's highest ids) stale: a busy day, where something is
    posted between any two requests."""
    from workflows.store.audit import record_event

    factory = make_session_factory(make_engine(load_settings({}, database={"url": url}).database))

    def touch() -> None:
        with transaction(factory) as session:
            record_event(session, actor="finance1", action="benchmark_book_changed", now=NOW)

    return touch


def measure(
    get: Get, user: str, path: str, runs: int, budget_s: float, before: Callable[[], None], warmup: int = 2
) -> dict[str, Any]:
    """`runs` timed requests after `warmup` (the first of which is reported as first_ms); a route slower
    than `budget_s` in all gets fewer, and says so by its n. `before` runs (untimed) before each request."""
    before()
    began = time.perf_counter()
    status, body = get(user, path)
    first_ms = (time.perf_counter() - began) * 1000
    if status == 404:
        return {"status": "missing", "path": path}
    if status != 200:
        return {
            "status": "error",
            "http_status": status,
            "path": path,
            "body": body[:300].decode(errors="replace"),
        }
    if first_ms / 1000 * warmup < budget_s / 2:
        for _ in range(warmup - 1):
            before()
            get(user, path)
    times: list[float] = []
    for _ in range(runs):
        if times and sum(times) / 1000 > budget_s:
            break
        before()
        began = time.perf_counter()
        status, body = get(user, path)
        times.append((time.perf_counter() - began) * 1000)
        if status != 200:
            return {"status": "error", "http_status": status, "path": path}
    ordered = sorted(times)
    return {
        "p50_ms": round(percentile(ordered, 0.5), 1),
        "p95_ms": round(percentile(ordered, 0.95), 1),
        "max_ms": round(ordered[-1], 1),
        "first_ms": round(first_ms, 1),
        "n": len(times),
        "bytes": len(body),
        "path": path,
    }


def export_routes(get: Get) -> dict[str, tuple[str, str]]:
    """The portfolio's export links (CSV, XLSX), as its page shows them to a credit manager."""
    status, body = get(MANAGER, "/portfolio")
    if status != 200:
        return {}
    found: dict[str, tuple[str, str]] = {}
    for link in EXPORT_LINK.findall(body.decode(errors="replace")):
        link = link.replace("&amp;", "&")
        kind = "xlsx" if "xlsx" in link.lower() else "csv"
        found.setdefault(f"portfolio_export_{kind}", (MANAGER, link))
    return found


def measure_routes(
    get: Get,
    runs: int,
    budget_s: float,
    before: Callable[[], None] = lambda: None,
    *,
    verbose: bool = True,
    only: frozenset[str] = frozenset(),
) -> dict[str, dict[str, Any]]:
    """Each route timed (`only`: just those named, e.g. {"api_kpis_quarter"}; empty: all of them)."""
    results = {}
    wanted = only or frozenset(ROUTES) | {f"portfolio_export_{kind}" for kind in ("csv", "xlsx")}
    exports = export_routes(get) if any(n.startswith("portfolio_export_") for n in wanted) else {}
    routes = {name: route for name, route in {**ROUTES, **exports}.items() if name in wanted}
    for name, (user, path) in routes.items():
        results[name] = measure(get, user, path, runs, budget_s, before)
        if verbose:
            found = results[name]
            shown = found.get("status") or (
                f"p50 {found['p50_ms']:7.1f}  p95 {found['p95_ms']:7.1f}  max {found['max_ms']:7.1f} ms"
                f"  (n {found['n']}, first {found['first_ms']:.0f} ms)"
            )
            print(f"{name:24} {path:34} {shown}", flush=True)
    for kind in ("csv", "xlsx"):
        if f"portfolio_export_{kind}" in wanted:
            results.setdefault(
                f"portfolio_export_{kind}", {"status": "missing", "path": "(no link on /portfolio)"}
            )
    return results


SIZE_TABLES = ("customers", "invoices")
STATE_TABLES = ("provision_runs", "kpi_snapshots", "watchlist_entries")


def count_rows(url: str, tables: tuple[str, ...]) -> dict[str, int]:
    engine = make_engine(load_settings({}, database={"url": url}).database)
    with engine.connect() as conn:
        size = {t: int(conn.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in tables}
    engine.dispose()
    return size


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    url = args.database_url or f"sqlite:///{args.sqlite_file or tmp / 'cockpit.db'}"
    seed_seconds, rows, month_ends = None, None, None
    if not args.skip_seed:
        seed_seconds, rows = seed_cockpit_book(url, args.customers, args.invoices)
        print(
            f"seeded {args.customers:,} customers / {args.invoices:,} invoices in {seed_seconds:.0f} s:",
            rows,
        )
        if not args.new_installation:
            month_ends = post_month_ends(url)
            print(f"month ends posted in {month_ends['seconds']} s")
    scale, posted = count_rows(url, SIZE_TABLES), count_rows(url, STATE_TABLES)
    rolled = roll_balances_to(url, args.today) if args.today else None
    before = touch_book(url) if args.cold else lambda: None
    load_before = load_avg()
    if args.test_client:
        get, close = test_client_get(url, args.today)
        results = measure_routes(get, args.requests, args.route_budget_s, before, only=args.only)
        close()
    else:
        server, base = start_server(url, args.workers, tmp, args.today)
        try:
            results = measure_routes(
                http_get(url, base), args.requests, args.route_budget_s, before, only=args.only
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "scale": scale,
        "db": url.split(":", 1)[0].split("+")[0],
        "mode": "test_client" if args.test_client else f"http (creditflow serve --workers {args.workers})",
        "seed_seconds": None if seed_seconds is None else round(seed_seconds, 1),
        "state": "as found (--skip-seed)"
        if args.skip_seed
        else "new installation (no snapshots)"
        if args.new_installation
        else "month ends posted",
        "month_end_seconds": month_ends and month_ends["seconds"],
        "today": args.today and args.today.isoformat(),
        "roll_seconds": rolled,
        "posted": posted,
        "caches": "cold: the book changes before every request" if args.cold else "warm: repeated requests",
        "rows": rows,
        "routes": results,
        "goal_p95_ms": GOAL_P95_MS,
        "load_avg": {"before": load_before, "after": load_avg(), "cpus": os.cpu_count()},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (schema rebuilt); default SQLite")
    parser.add_argument(
        "--sqlite-file", default="", help="keep the SQLite book in this file (default: a temporary one)"
    )
    parser.add_argument(
        "--skip-seed", action="store_true", help="measure the book already in --sqlite-file / --database-url"
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 10,000 customers, 100,000 invoices"
    )
    parser.add_argument("--requests", type=int, default=30, help="timed requests per route, after 2 warm-ups")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the server")
    parser.add_argument(
        "--new-installation",
        action="store_true",
        help="skip the past month ends' provision runs, KPI snapshots and the watchlist run",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="record a change of the book before every request, so no answer comes from a cache",
    )
    parser.add_argument(
        "--route-budget-s", type=float, default=120, help="stop timing a route after this many seconds"
    )
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="run the server on the simulated clock at this day (e.g. a month end later than every posting: "
        "the KPIs of the period ending today, docs/kpis.md); the balances are rolled to it first",
    )
    parser.add_argument(
        "--test-client", action="store_true", help="Flask's test client instead of a real server"
    )
    names = [*ROUTES, "portfolio_export_csv", "portfolio_export_xlsx"]
    parser.add_argument(
        "--routes",
        default="",
        help=f"time only these routes, comma-separated (default: all): {', '.join(names)}",
    )
    args = parser.parse_args(argv)
    args.only = frozenset(n.strip() for n in args.routes.split(",") if n.strip())
    if unknown := sorted(args.only - set(names)):
        parser.error(f"unknown route(s) {', '.join(unknown)}; known: {', '.join(names)}")
    if args.quick:
        args.customers, args.invoices = 10_000, 100_000
    if args.invoices < args.customers:
        parser.error("--invoices must be at least --customers (every customer has an invoice)")
    if args.skip_seed and not (args.sqlite_file or args.database_url):
        parser.error("--skip-seed needs --sqlite-file or --database-url")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args, Path(tmp))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
