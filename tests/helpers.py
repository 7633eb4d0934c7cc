"""Small helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from workflows.credit.customers import migrate_customer, parse_migrated_customer
from workflows.store.db import transaction
from workflows.store.models import Deployment, InstanceStatus, ProcessDefinition, ProcessInstance

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ACCEPTANCE = FIXTURES / "acceptance"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload(client: FlaskClient, token: str, paths: list[Path]) -> Any:
    """POST files to /api/process-definitions as multipart 'files'."""
    files = [(p.open("rb"), p.name) for p in paths]
    try:
        return client.post(
            "/api/process-definitions",
            data={"files": files},
            headers=auth(token),
            content_type="multipart/form-data",
        )
    finally:
        for fh, _ in files:
            fh.close()


def credit_hold_files() -> list[Path]:
    return sorted(ACCEPTANCE.glob("*"))


def migrated_customer(app: Flask, fields: dict[str, Any], *, source: str = "erp.csv") -> int:
    """A customer as the admin's ERP migration import leaves it (the only way to get a limit without an
    approved application or review); its id."""
    svc = app.extensions["creditflow"]
    now = svc.clock()
    with transaction(svc.rt.factory) as session:
        customer = migrate_customer(
            session, parse_migrated_customer(fields, today=now.date()), actor="admin", now=now, source=source
        )
        return customer.id


def running_instance(
    session: Session,
    now: datetime,
    *,
    process_key: str,
    started_by: str,
    start_groups: list[str],
    files: dict[str, str] | None = None,
    deployed_by: str = "owner1",
    name: str | None = None,
    business_key: str | None = None,
) -> ProcessInstance:
    """A running instance row of a version 1 deployed with `files`, without state: for handler tests that
    need an instance (its starter, its deployed tables) but not a diagram."""
    deployment = Deployment(
        content_hash="0" * 64, files=files or {}, deployed_by=deployed_by, deployed_at=now
    )
    session.add(deployment)
    session.flush()
    definition = ProcessDefinition(
        process_key=process_key,
        version=1,
        deployment_id=deployment.id,
        content_hash="0" * 64,
        spec_json="{}",
        start_groups=start_groups,
        bpmn_file=f"{process_key}.bpmn",
        deployed_by=deployed_by,
        deployed_at=now,
    )
    if name is not None:
        definition.name = name
    session.add(definition)
    session.flush()
    instance = ProcessInstance(
        definition_id=definition.id,
        process_key=process_key,
        version=1,
        business_key=business_key,
        status=InstanceStatus.RUNNING,
        state="{}",
        data={},
        started_by=started_by,
        started_at=now,
        updated_at=now,
    )
    session.add(instance)
    session.flush()
    return instance
