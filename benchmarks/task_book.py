"""A book of open and completed inbox tasks for the inbox benchmarks, bulk-inserted without engine steps.

Open tasks: one running instance each, spread over eight groups (credit work dominates; a tenth offered
to two groups), about a fifth claimed, due dates from ten days overdue to three weeks ahead (some
none). Completed tasks are history: `completed_per_instance` per completed instance, with no candidate
rows (closed tasks leave the candidate index). SQLite or PostgreSQL (its public schema is rebuilt).

`rare_tasks` open tasks (spread evenly over the book, default none) go to the group RARE_GROUP alone
instead, so a member of that group sees a handful among many (a CFO with 3 of 100,000); the random
draws are the same with or without them, so the rest of the book does not change.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from benchmarks.fresh_db import fresh_database  # noqa: E402
from workflows.money import format_money  # noqa: E402
from workflows.store.db import make_session_factory, transaction  # noqa: E402
from workflows.store.models import (  # noqa: E402
    NO_DUE_DATE,
    InboxItem,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
)
from workflows.users import add_user  # noqa: E402

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Share of open tasks per candidate group: credit work dominates, as in a credit department.
GROUPS = {
    "credit_analyst": 0.30,
    "credit_manager": 0.20,
    "collections": 0.15,
    "cfo": 0.05,
    "sales": 0.10,
    "procurement": 0.10,
    "legal": 0.05,
    "finance": 0.05,
}
TITLES = {
    "credit_analyst": ("review_application", "Review credit application"),
    "credit_manager": ("approve_limit", "Approve credit limit"),
    "collections": ("call_customer", "Call customer about overdue invoices"),
    "cfo": ("approve_large_limit", "Approve large credit limit"),
    "sales": ("provide_information", "Provide missing information"),
    "procurement": ("review_contract_change", "Review contract change"),
    "legal": ("prepare_handover", "Prepare legal handover"),
    "finance": ("book_provision", "Book provision"),
}
BATCH = 5000
CUSTOMERS = 100_000
RARE_GROUP = "board"


def seed_task_book(
    url: str, open_tasks: int, completed: int, *, completed_per_instance: int = 10, rare_tasks: int = 0
) -> float:
    """Create the schema, users and shipped diagrams, then the tasks; returns the seconds it took."""
    began = time.perf_counter()
    engine = fresh_database(url, NOW)
    with transaction(make_session_factory(engine)) as session:
        for group in GROUPS:
            for n in range(2, 6):
                add_user(session, f"{group}{n}", groups=[group], now=NOW)
        definition = session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.id)).first()
        assert definition is not None
        files = definition.deployment.files
        forms = [
            body for name, body in sorted(files.items()) if name.endswith(".json") and '"properties"' in body
        ]
        schema = json.loads(forms[0])
    done = 0
    rare = {open_tasks * k // (rare_tasks + 1) for k in range(1, rare_tasks + 1)}
    for instances, items, candidates in _rows(
        definition, schema, open_tasks, completed, completed_per_instance, rare
    ):
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


def _rows(
    definition: ProcessDefinition,
    schema: dict[str, Any],
    open_tasks: int,
    completed: int,
    per_instance: int,
    rare: set[int],
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]:
    """Batches of (instances, inbox items, candidate rows), open tasks first."""
    rng = random.Random(8)
    groups, weights = list(GROUPS), list(GROUPS.values())
    instance_count = open_tasks + -(-completed // per_instance)
    per_batch = max(1, BATCH // per_instance)
    task_id = 0
    for start in range(0, instance_count, per_batch):
        instances, items, candidates = [], [], []
        for i in range(start, min(instance_count, start + per_batch)):
            is_open = i < open_tasks
            created = NOW - timedelta(minutes=rng.randrange(10, 60 * 24 * 365))
            customer = i % CUSTOMERS + 1
            name = f"Customer {customer:06d} {rng.choice(['Ltd', 'GmbH', 'S.p.A.', 'Inc', 'SARL'])}"
            data = {
                "customer_id": customer,
                "customer_name": name,
                "requested_limit": rng.randrange(5_000, 2_000_000, 500),
                "currency": "EUR",
                "payment_terms_days": rng.choice([30, 45, 60, 90]),
                "justification": "Seasonal volume increase for the spring programme.",
            }
            instances.append(
                dict(
                    id=i + 1,
                    definition_id=definition.id,
                    process_key=definition.process_key,
                    version=definition.version,
                    business_key=f"CUST-{customer:06d}",
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
            tasks_here = 1 if is_open else min(per_instance, completed - (i - open_tasks) * per_instance)
            for k in range(tasks_here):
                task_id += 1
                group = rng.choices(groups, weights)[0]
                bpmn_id, title = TITLES[group]
                claimed = is_open and rng.random() < 0.2
                due_in = rng.randrange(-10 * 24, 21 * 24) if rng.random() > 0.15 else None
                cand = [group] if rng.random() > 0.1 else sorted({group, rng.choices(groups, weights)[0]})
                if is_open and i in rare:
                    cand = [RARE_GROUP]
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
                        assignee=f"{group}{rng.randrange(2, 6)}" if claimed or not is_open else None,
                        subject=f"{name} · {format_money(data['requested_limit'], 'EUR')}",
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
                if is_open:  # the candidate rows carry their task's sort keys
                    item = items[-1]
                    keys = {
                        "due_sort": item["due_sort"],
                        "created_at": item["created_at"],
                        "shared": len(cand) > 1,
                    }
                    candidates += [{"group_name": g, "task_id": task_id, **keys} for g in cand]
        yield instances, items, candidates


def timed(client: FlaskClient, path: str, runs: int, headers: dict[str, str] | None = None) -> list[float]:
    """Milliseconds per request, after a few warm-up requests (template compile, caches)."""
    for _ in range(3):
        assert client.get(path, headers=headers).status_code == 200, path
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, path
    return times


def summary(times: list[float]) -> tuple[float, float]:
    """Median and p95 of `times`."""
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
