"""Inbox API at scale: GET /api/tasks for one analyst with 100,000 open and 1,000,000 completed tasks.

Seeds with bulk Core inserts (no engine steps), on SQLite (a temporary file) or PostgreSQL (the URL
given; its public schema is dropped and rebuilt first, so give it a database of its own). Open tasks are
spread over eight groups as in benchmarks/inbox.py (about a third visible to a credit analyst, who sees
the first page of 50); completed tasks are history: ten per completed instance, with no candidate rows
(closed tasks leave the candidate index). Requests go through the real Flask app (test client: routing,
auth, JSON) but not a socket. Goal (issue 8): p95 <= 50 ms.

The last line printed is JSON: {"database": ..., "open_tasks": ..., "completed_tasks": ...,
"api_tasks_median_ms": ..., "api_tasks_p95_ms": ..., "seed_s": ...}
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from benchmarks.inbox import GROUPS, NOW, TITLES, _forms, _summary, _timed  # noqa: E402
from webui import create_app  # noqa: E402
from workflows.cli import shipped_bundles  # noqa: E402
from workflows.db import make_engine, make_session_factory, transaction  # noqa: E402
from workflows.definitions import deploy_files, read_files  # noqa: E402
from workflows.models import (  # noqa: E402
    NO_DUE_DATE,
    InboxItem,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
)
from workflows.schema import upgrade_schema  # noqa: E402
from workflows.settings import load_settings  # noqa: E402
from workflows.users import issue_token, seed_demo_users  # noqa: E402

BATCH = 5000
COMPLETED_PER_INSTANCE = 10


def _rows(
    definition: ProcessDefinition, schema: dict[str, Any], open_tasks: int, completed: int
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]:
    """Batches of (instances, inbox items, candidate rows), open tasks first."""
    rng = random.Random(8)
    groups, weights = list(GROUPS), list(GROUPS.values())
    completed_instances = -(-completed // COMPLETED_PER_INSTANCE)
    instance_count = open_tasks + completed_instances
    task_id = 0
    for start in range(0, instance_count, BATCH // COMPLETED_PER_INSTANCE):
        instances, items, candidates = [], [], []
        for i in range(start, min(instance_count, start + BATCH // COMPLETED_PER_INSTANCE)):
            is_open = i < open_tasks
            created = NOW - timedelta(minutes=rng.randrange(10, 60 * 24 * 365))
            data = {"customer_id": i % 100_000 + 1, "requested_limit": rng.randrange(5_000, 2_000_000, 500)}
            instances.append(
                dict(
                    id=i + 1,
                    definition_id=definition.id,
                    process_key=definition.process_key,
                    version=definition.version,
                    business_key=f"CUST-{i % 100_000 + 1:06d}",
                    status="running" if is_open else "completed",
                    state="{}",
                    data=data,
                    waits=[],
                    lock_version=1,
                    started_by="sales1",
                    started_at=created,
                    updated_at=created,
                    completed_at=None if is_open else created + timedelta(days=3),
                )
            )
            tasks_here = 1 if is_open else min(COMPLETED_PER_INSTANCE, completed - (i - open_tasks) * 10)
            for k in range(tasks_here):
                task_id += 1
                group = rng.choices(groups, weights)[0]
                bpmn_id, title = TITLES[group]
                claimed = is_open and rng.random() < 0.2
                due_in = rng.randrange(-10 * 24, 21 * 24) if rng.random() > 0.15 else None
                cand = [group] if rng.random() > 0.1 else sorted({group, rng.choices(groups, weights)[0]})
                items.append(
                    dict(
                        id=task_id,
                        instance_id=i + 1,
                        spiff_task_id=f"00000000-0000-4000-8000-{task_id:012d}",
                        process_key=definition.process_key,
                        bpmn_id=bpmn_id,
                        title=title,
                        lane=group,
                        candidate_groups=cand,
                        assignee=f"{group}2" if claimed or not is_open else None,
                        subject=f"Customer {i % 100_000 + 1} · {data['requested_limit']:,} EUR",
                        instructions="Check the customer's credit file and decide.",
                        form_file="review.json",
                        form_schema=schema,
                        four_eyes=["initiator"],
                        context=data,
                        status="open" if is_open else "completed",
                        due_at=NOW + timedelta(hours=due_in) if due_in is not None else None,
                        due_sort=NOW + timedelta(hours=due_in) if due_in is not None else NO_DUE_DATE,
                        reminded_at=None,
                        created_at=created + timedelta(hours=k),
                        claimed_at=created if claimed else None,
                        completed_by=None if is_open else f"{group}2",
                        completed_at=None if is_open else created + timedelta(hours=k + 1),
                    )
                )
                if is_open:
                    candidates += [{"group_name": g, "task_id": task_id} for g in cand]
        yield instances, items, candidates


def seed(url: str, open_tasks: int, completed: int) -> float:
    settings = load_settings({}, database={"url": url})
    engine = make_engine(settings.database)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade_schema(engine)
    began = time.perf_counter()
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        seed_demo_users(session, NOW)
        for bundle in shipped_bundles():
            deploy_files(session, read_files(bundle), deployed_by="bench", now=NOW)
        definition = session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.id)).first()
        assert definition is not None
        schema = json.loads(next(iter(_forms(session, definition))))
    done = 0
    for instances, items, candidates in _rows(definition, schema, open_tasks, completed):
        with engine.begin() as conn:  # one transaction per batch keeps the WAL / memory small
            conn.execute(insert(ProcessInstance.__table__), instances)
            conn.execute(insert(InboxItem.__table__), items)
            if candidates:
                conn.execute(insert(TaskCandidate.__table__), candidates)
        done += len(items)
        if done % 100_000 < len(items):
            print(f"  {done:,} tasks seeded ({time.perf_counter() - began:.0f} s)", flush=True)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("inbox_items", "process_instances"):  # ids were given explicitly
                conn.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
            conn.execute(text("ANALYZE"))
        else:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - began


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
        median, p95 = _summary(_timed(client, path, runs, headers))
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
        seed_s = seed(url, args.open_tasks, args.completed_tasks)
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
