"""Inbox API at scale: GET /api/tasks for one analyst with 100,000 open and 1,000,000 completed tasks.

Seeds with bulk Core inserts (no engine steps), on SQLite (a temporary file) or PostgreSQL (the URL
given; its public schema is dropped and rebuilt first, so give it a database of its own). Open tasks are
spread over eight groups as benchmarks/task_book.py describes (about a third visible to an analyst, who sees
the first page of 50); completed tasks are history: ten per completed instance, with no candidate rows
(closed tasks leave the candidate index). Requests go through the real Flask app (test client: routing,
auth, JSON) but not a socket. Goal (issue 8): p95 <= 50 ms.

The last line printed is JSON: {"database": ..., "open_tasks": ..., "completed_tasks": ...,
"api_tasks_median_ms": ..., "api_tasks_p95_ms": ..., "seed_s": ...}
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from benchmarks.task_book import NOW, seed_task_book, summary, timed  # noqa: E402
from webui import create_app  # noqa: E402
from workflows.settings import load_settings  # noqa: E402
from workflows.store.db import transaction  # noqa: E402
from workflows.users import issue_token  # noqa: E402


def measure(url: str, runs: int) -> dict[str, Any]:
    settings = load_settings({}, database={"url": url}, web={"secret_key": "bench"}, mail={"sink_port": 0})
    app = create_app(settings, clock=lambda: NOW)
    factory = app.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        token = issue_token(session, "analyst1", NOW)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    total = client.get("/api/tasks", headers=headers).json["total"]
    results: dict[str, Any] = {"visible_to_analyst": total}
    for name, path in {"api_tasks": "/api/tasks", "api_tasks_page_20": "/api/tasks?page=20"}.items():
        median, p95 = summary(timed(client, path, runs, headers))
        results[f"{name}_median_ms"], results[f"{name}_p95_ms"] = round(median, 1), round(p95, 1)
        print(f"GET {path:22} median {median:6.1f} ms   p95 {p95:6.1f} ms")
    app.extensions["creditflow"].engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", default="", help="PostgreSQL URL (its schema is rebuilt); default SQLite"
    )
    parser.add_argument("--open-tasks", type=int, default=100_000)
    parser.add_argument("--completed-tasks", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/scale_inbox.db"
        seed_s = seed_task_book(url, args.open_tasks, args.completed_tasks)
        print(f"seeded {args.open_tasks:,} open + {args.completed_tasks:,} completed tasks in {seed_s:.0f} s")
        results = measure(url, args.runs)
    print(
        json.dumps(
            {
                "database": url.split(":", 1)[0].split("+")[0],
                "open_tasks": args.open_tasks,
                "completed_tasks": args.completed_tasks,
                **results,
                "seed_s": round(seed_s, 1),
                "goal_p95_ms": 50,
            }
        )
    )


if __name__ == "__main__":
    main()
