"""Small helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

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
