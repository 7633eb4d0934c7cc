"""Migration 0014d on a database with open and closed tasks: the open tasks' candidate rows get their task's
sort keys and the mark of a task offered to several groups, rows a closed task left behind go, and the
inbox lists the same tasks afterwards (issue 19)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from workflows.inbox import InboxFilter, list_inbox
from workflows.store.db import make_session_factory
from workflows.store.schema import alembic_config
from workflows.users import Actor

NOW = "2026-03-02 09:00:00.000000"
DUE = {1: "2026-03-04 09:00:00.000000", 2: "2026-03-03 09:00:00.000000", 3: "9999-12-31 00:00:00.000000"}


def test_upgrade_to_0014d_gives_the_open_tasks_candidate_rows_their_sort_keys(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0014c")
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO deployments (id, content_hash, files, deployed_by, deployed_at) "
                "VALUES (1, 'h', '{}', 'system', :now)"
            ),
            {"now": NOW},
        )
        db.execute(
            text(
                "INSERT INTO process_definitions (id, process_key, version, name, deployment_id,"
                " content_hash, spec_json, start_groups, bpmn_file, deployed_by, deployed_at, status) VALUES"
                " (1, 'credit_hold', 1, '', 1, 'h', '{}', '[\"sales\"]', 'x.bpmn', 'system', :now, 'active')"
            ),
            {"now": NOW},
        )
        db.execute(
            text(
                "INSERT INTO process_instances (id, definition_id, process_key, version, status, state, data,"
                " waits, lock_version, started_by, started_at, updated_at) VALUES"
                " (1, 1, 'credit_hold', 1, 'running', '{}', '{}', '[]', 1, 'sales1', :now, :now)"
            ),
            {"now": NOW},
        )
        for task_id, groups, status, created in (
            (1, ["credit_analyst"], "open", "2026-03-01 08:00:00.000000"),
            (2, ["credit_analyst", "credit_manager"], "open", "2026-03-01 07:00:00.000000"),
            (3, ["credit_manager"], "open", "2026-03-01 06:00:00.000000"),  # no due date
            (4, ["credit_analyst"], "completed", NOW),  # its candidate row left behind
        ):
            db.execute(
                text(
                    "INSERT INTO inbox_items (id, instance_id, spiff_task_id, process_key, bpmn_id, title,"
                    " candidate_groups, subject, instructions, form_schema, four_eyes, context, status,"
                    " due_at, due_sort, created_at) VALUES (:id, 1, :spiff, 'credit_hold', 't', 'T', :groups,"
                    " '', '', '{}', '[]', '{}', :status, :due_at, :due_sort, :created)"
                ),
                {
                    "id": task_id,
                    "spiff": f"task-{task_id}",
                    "groups": str(groups).replace("'", '"'),
                    "status": status,
                    "due_at": None if task_id in (3, 4) else DUE[task_id],
                    "due_sort": DUE.get(task_id, DUE[3]),
                    "created": created,
                },
            )
            for group in groups:
                db.execute(
                    text("INSERT INTO task_candidates (group_name, task_id) VALUES (:group, :task)"),
                    {"group": group, "task": task_id},
                )
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0014d")
    with engine.connect() as db:
        rows = db.execute(
            text(
                "SELECT task_id, group_name, due_sort, created_at, shared FROM task_candidates"
                " ORDER BY task_id, group_name"
            )
        ).all()
    assert [(r.task_id, r.group_name, r.shared) for r in rows] == [
        (1, "credit_analyst", False),
        (2, "credit_analyst", True),
        (2, "credit_manager", True),
        (3, "credit_manager", False),
    ]
    assert {r.task_id: r.due_sort for r in rows} == {t: DUE[t] for t in (1, 2, 3)}
    assert rows[0].created_at == "2026-03-01 08:00:00.000000"
    # The inbox reads rows through today's models: the later migrations first (0014g adds a column).
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")
    with make_session_factory(engine)() as session:
        now = datetime(2026, 3, 2, 9, tzinfo=UTC)
        analyst = Actor("analyst1", frozenset({"credit_analyst"}))
        manager = Actor("manager1", frozenset({"credit_manager"}))
        both = Actor("both1", frozenset({"credit_analyst", "credit_manager"}))
        assert [t.id for t in list_inbox(session, analyst, InboxFilter(), now).items] == [2, 1]
        assert [t.id for t in list_inbox(session, manager, InboxFilter(), now).items] == [2, 3]
        found = list_inbox(session, both, InboxFilter(sort="created"), now)
        assert ([t.id for t in found.items], found.total) == ([3, 2, 1], 3)
    engine.dispose()
