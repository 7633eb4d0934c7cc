"""Inbox latency with 10,000 open tasks: GET /inbox (web page, logged in) and GET /api/tasks, as an analyst.

Seeds a SQLite file directly (bulk Core inserts, no engine steps): the shipped diagrams deployed, one
running instance per open task, 10,000 open inbox items spread over eight groups (some offered to two
groups), about a fifth claimed by a named user, due dates from ten days overdue to three weeks ahead
(some with none), plus 10,000 completed tasks as history. Requests go through the real Flask app (test
client: routing, session, CSRF, templates, JSON) but not a network socket.

Peer figure: SpiffArena answers its task list in 79 ms at 10,000 open human tasks
(../shared/research/spiffarena-baseline.md).

The last line printed is JSON: {"open_tasks": ..., "inbox_median_ms": ..., "inbox_p95_ms": ..., ...}
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

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
from workflows.users import add_user, issue_token, seed_demo_users  # noqa: E402

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
CHUNK = 2000


def seed(db_path: Path, open_tasks: int, completed_tasks: int) -> None:
    """Fill a fresh SQLite file with users, the shipped diagrams and the tasks described above."""
    settings = load_settings({}, database={"url": f"sqlite:///{db_path}"})
    engine = make_engine(settings.database)
    upgrade_schema(engine)
    factory = make_session_factory(engine)
    rng = random.Random(42)
    with transaction(factory) as session:
        seed_demo_users(session, NOW)
        for group in GROUPS:
            for n in range(2, 6):
                add_user(session, f"{group}{n}", groups=[group], now=NOW)
        for bundle in shipped_bundles():
            deploy_files(session, read_files(bundle), deployed_by="bench", now=NOW)
        definition = session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.id)).first()
        assert definition is not None
        schema = json.loads(next(iter(_forms(session, definition))))
        _insert_tasks(session, definition, schema, rng, open_tasks, completed_tasks)
    engine.dispose()


def _forms(session: Session, definition: ProcessDefinition) -> list[str]:
    files = definition.deployment.files
    return [text for name, text in sorted(files.items()) if name.endswith(".json") and '"properties"' in text]


def _insert_tasks(
    session: Session,
    definition: ProcessDefinition,
    schema: dict[str, Any],
    rng: random.Random,
    open_tasks: int,
    completed_tasks: int,
) -> None:
    conn = session.connection()
    groups, weights = list(GROUPS), list(GROUPS.values())
    total = open_tasks + completed_tasks
    instances, items = [], []
    for i in range(total):
        is_open = i < open_tasks
        amount = rng.randrange(5_000, 2_000_000, 500)
        customer = f"Customer {i % 3000:04d} {rng.choice(['Ltd', 'GmbH', 'S.p.A.', 'Inc', 'SARL'])}"
        data = {
            "customer_id": i % 3000 + 1,
            "customer_name": customer,
            "requested_limit": amount,
            "currency": "EUR",
            "payment_terms_days": rng.choice([30, 45, 60, 90]),
            "justification": "Seasonal volume increase for the spring programme.",
            "score": rng.randrange(300, 900),
            "grade": rng.choice("ABCDE"),
        }
        created = NOW - timedelta(minutes=rng.randrange(10, 60 * 24 * 30))
        instances.append(
            dict(
                id=i + 1,
                definition_id=definition.id,
                process_key=definition.process_key,
                version=definition.version,
                business_key=f"CUST-{i % 3000 + 1:05d}",
                status="running" if is_open else "completed",
                state="{}",
                data=data,
                waits=[],
                lock_version=1,
                started_by="sales1",
                started_at=created,
                updated_at=created,
                completed_at=None if is_open else created + timedelta(hours=4),
            )
        )
        group = rng.choices(groups, weights)[0]
        bpmn_id, title = TITLES[group]
        candidates = [group] if rng.random() > 0.1 else sorted({group, rng.choices(groups, weights)[0]})
        claimed = rng.random() < 0.2
        assignee = f"{group}{rng.randrange(2, 6)}" if claimed else None
        due_in = rng.randrange(-10 * 24, 21 * 24) if rng.random() > 0.15 else None
        items.append(
            dict(
                id=i + 1,
                instance_id=i + 1,
                spiff_task_id=f"00000000-0000-4000-8000-{i + 1:012d}",
                process_key=definition.process_key,
                bpmn_id=bpmn_id,
                title=title,
                lane=group,
                candidate_groups=candidates,
                assignee=assignee if is_open else f"{group}2",
                subject=f"{customer} · {amount:,} EUR",
                instructions="Check the customer's credit file and decide.",
                form_file="review.json",
                form_schema=schema,
                four_eyes=["initiator"],
                context=data,
                status="open" if is_open else "completed",
                due_at=NOW + timedelta(hours=due_in) if due_in is not None else None,
                due_sort=NOW + timedelta(hours=due_in) if due_in is not None else NO_DUE_DATE,
                reminded_at=None,
                created_at=created,
                claimed_at=created if claimed else None,
                completed_by=None if is_open else f"{group}2",
                completed_at=None if is_open else created + timedelta(hours=4),
            )
        )
    candidates_rows = [
        {"group_name": g, "task_id": item["id"]}
        for item in items
        if item["status"] == "open"
        for g in item["candidate_groups"]
    ]
    for start in range(0, total, CHUNK):
        conn.execute(insert(ProcessInstance.__table__), instances[start : start + CHUNK])
        conn.execute(insert(InboxItem.__table__), items[start : start + CHUNK])
    for start in range(0, len(candidates_rows), CHUNK):
        conn.execute(insert(TaskCandidate.__table__), candidates_rows[start : start + CHUNK])


def _timed(client: FlaskClient, path: str, runs: int, headers: dict[str, str] | None = None) -> list[float]:
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


def _summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


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
        median, p95 = _summary(_timed(client, path, runs, headers))
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
        seed(db, args.open_tasks, args.completed_tasks)
        print(
            f"seeded {args.open_tasks} open + {args.completed_tasks} completed tasks "
            f"in {time.perf_counter() - began:.1f} s; analyst1 (credit_analyst), {args.runs} requests each"
        )
        results = measure(db, args.runs)
    print(f"peer: SpiffArena's task list at 10,000 open tasks: 79 ms; ours {results['inbox_median_ms']} ms")
    print(json.dumps({"open_tasks": args.open_tasks, "peer_spiffarena_ms": 79, **results}))


if __name__ == "__main__":
    main()
