"""Small helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from workflows.credit.customers import migrate_customer, parse_migrated_customer
from workflows.store.db import transaction

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
