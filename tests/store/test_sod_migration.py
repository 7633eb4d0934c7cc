"""Migration 0009 on a database with history: decisions come from the audit trail, existing versions stay
usable, and the groups already offered a task (not the requester's own) may read their instances."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from workflows.store.schema import alembic_config

NOW = "2026-03-02 09:00:00"


def test_upgrade_to_0009_backfills_decisions_statuses_and_instance_groups(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0008")
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
                " content_hash, spec_json, start_groups, bpmn_file, deployed_by, deployed_at) VALUES"
                " (1, 'credit_application', 1, '', 1, 'h', '{}', '[\"sales\"]', 'x.bpmn', 'system', :now)"
            ),
            {"now": NOW},
        )
        db.execute(
            text(
                "INSERT INTO process_instances (id, definition_id, process_key, version, status, state, data,"
                " waits, lock_version, started_by, started_at, updated_at) VALUES"
                " (1, 1, 'credit_application', 1, 'running', '{}', '{}', '[]', 1, 'sales1', :now, :now)"
            ),
            {"now": NOW},
        )
        for task_id, groups, assignee, claimed, completed_by in (
            (1, '["credit_analyst"]', "analyst1", None, "analyst1"),  # a group task, completed
            (2, '["sales"]', "sales1", None, None),  # assigned to the requester by the process
            (3, '["credit_manager"]', None, None, None),  # open in the managers' queue
        ):
            db.execute(
                text(
                    "INSERT INTO inbox_items (id, instance_id, spiff_task_id, process_key, bpmn_id, title,"
                    " candidate_groups, assignee, subject, instructions, form_schema, four_eyes, context,"
                    " status, due_sort, created_at, claimed_at, completed_by) VALUES (:id, 1, :spiff,"
                    " 'credit_application', 't', 'T', :groups, :assignee, '', '', '{}', '[]', '{}',"
                    " 'open', :now, :now, :claimed, :completed_by)"
                ),
                {
                    "id": task_id,
                    "spiff": f"task-{task_id}",
                    "groups": groups,
                    "assignee": assignee,
                    "claimed": claimed,
                    "completed_by": completed_by,
                    "now": NOW,
                },
            )
        db.execute(
            text(
                "INSERT INTO audit_events (instance_id, task_id, actor, action, detail, at) VALUES"
                " (1, 1, 'analyst1', 'task_completed', :detail, :now)"
            ),
            {"detail": '{"data": {"decision": "approve", "recommended_limit": "1"}}', "now": NOW},
        )
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")
    with engine.connect() as db:
        decisions = dict(db.execute(text("SELECT id, decision FROM inbox_items")).all())
        assert decisions == {1: "approve", 2: None, 3: None}
        assert db.execute(text("SELECT status FROM process_definitions")).scalar() == "active"
        groups = (
            db.execute(text("SELECT group_name FROM instance_groups ORDER BY group_name")).scalars().all()
        )
        assert groups == ["credit_analyst", "credit_manager"]
    engine.dispose()
