"""Inbox latency with 10,000 open tasks: GET /inbox (web page, logged in) and GET /api/tasks, as an analyst.

Seeds a SQLite file with benchmarks/task_book.py (bulk inserts, no engine steps): the shipped diagrams, one
running instance per open task, 10,000 open inbox items spread over eight groups (some offered to two
groups), about a fifth claimed by a named user, due dates from ten days overdue to three weeks ahead
(some with none), plus 10,000 completed tasks as history. Requests go through the real Flask app (test
client: routing, session, CSRF, templates, JSON) but not a network socket.

Peer figure: SpiffArena answers its task list in 79 ms at 10,000 open human tasks
(measured on this 2-core machine; see benchmarks/README.md).

The last line printed is JSON: {"open_tasks": ..., "inbox_median_ms": ..., "inbox_p95_ms": ..., ...}
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from benchmarks.task_book import NOW, seed_task_book, summary, timed  # noqa: E402
from webui import create_app  # noqa: E402
from workflows.settings import load_settings  # noqa: E402
from workflows.store.db import transaction  # noqa: E402
from workflows.users import issue_token  # noqa: E402


def measure(db_path: Path, runs: int) -> dict[str, Any]:
    settings = load_settings(
        {}, database={"url": f"sqlite:///{db_path}"}, web={"secret_key": "bench"}, mail={"sink_port": 0}
    )
    app = create_app(settings, clock=lambda: NOW)
    factory = app.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        token = issue_token(session, "analyst1", NOW)
    web = app.test_client()
    page = web.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    login = web.post("/login", data={"username": "analyst1", "password": "demo", "csrf_token": csrf.group(1)})
    assert login.status_code == 302
    inbox = web.get("/inbox").get_data(as_text=True)
    visible = int(re.search(r"(\d+) open tasks?", inbox).group(1))  # type: ignore[union-attr]
    results: dict[str, Any] = {"visible_to_analyst": visible}
    cases = {
        "inbox": ("/inbox", web, None),
        "inbox_filtered": ("/inbox?overdue=1&q=gmbh", web, None),
        "inbox_page_20": ("/inbox?page=20", web, None),
        "api_tasks": ("/api/tasks", app.test_client(), {"Authorization": f"Bearer {token}"}),
    }
    for name, (path, client, headers) in cases.items():
        median, p95 = summary(timed(client, path, runs, headers))
        results[f"{name}_median_ms"] = round(median, 1)
        results[f"{name}_p95_ms"] = round(p95, 1)
        print(f"GET {path:28} median {median:6.1f} ms   p95 {p95:6.1f} ms")
    app.extensions["creditflow"].engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--open-tasks", type=int, default=10_000)
    parser.add_argument("--completed-tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=50, help="timed requests per URL (default 50)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "inbox.db"
        began = time.perf_counter()
        seed_task_book(f"sqlite:///{db}", args.open_tasks, args.completed_tasks, completed_per_instance=1)
        print(
            f"seeded {args.open_tasks} open + {args.completed_tasks} completed tasks "
            f"in {time.perf_counter() - began:.1f} s; analyst1 (credit_analyst), {args.runs} requests each"
        )
        results = measure(db, args.runs)
    print(f"peer: SpiffArena's task list at 10,000 open tasks: 79 ms; ours {results['inbox_median_ms']} ms")
    print(json.dumps({"open_tasks": args.open_tasks, "peer_spiffarena_ms": 79, **results}))


if __name__ == "__main__":
    main()
