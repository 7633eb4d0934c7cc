"""A diagram whose ids, names, groups or file names are longer than the columns that store them deployed,
and PostgreSQL then refused the rows (a 500 at deploy for a 200-character process id, or a failed step for a
task named with 400 characters, a 100-character candidate group or assignee); SQLite stored them silently.
Deploy refuses them with FILE:LINE: ELEMENT: message. Found by an attack on the build."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth
from tests.sod_diagrams import bundle, money_diagram

pytestmark = pytest.mark.usefixtures("shipped")

NOTIFY = {"to": '"initiator"', "template": '"generic"', "context": '{"subject": "s", "message": "m"}'}
LONG = "x" * 130


def deploy(client: FlaskClient, token: str, files: dict[str, bytes]) -> tuple[int, str]:
    response = client.post(
        "/api/process-definitions",
        data={"files": [(io.BytesIO(data), name) for name, data in files.items()]},
        headers=auth(token),
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_data(as_text=True)


def diagram(key: str = "k", **replace: str) -> dict[str, bytes]:
    text = money_diagram(key, "notify.email", NOTIFY, approvals=["credit_analyst"])
    for old, new in replace.items():
        text = text.replace(old, new)
    return bundle(key, text)


@pytest.mark.parametrize(
    ("files", "what"),
    [
        (diagram("p" * 121), "p" * 121),
        (
            diagram(
                **{
                    'id="approve_0"': f'id="{LONG}"',
                    'targetRef="approve_0"': f'targetRef="{LONG}"',
                    'sourceRef="approve_0"': f'sourceRef="{LONG}"',
                }
            ),
            LONG,
        ),
        (diagram(**{'name="Approve as credit_analyst"': f'name="{"n" * 301}"'}), "301"),
        (diagram(**{'value="credit_analyst" />': f'value="credit_analyst,{"g" * 81}" />'}), "g" * 81),
        (
            diagram(
                **{
                    'name="candidateGroups"': 'name="assignee"',
                    'value="credit_analyst" />': f'value="{"u" * 81}" />',
                }
            ),
            "u" * 81,
        ),
    ],
)
def test_deploy_refuses_what_the_database_cannot_store(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], files: dict[str, bytes], what: str
) -> None:
    status, body = deploy(client, demo_tokens["owner1"], files)
    assert status == 422, body
    assert "characters" in body and what[:40] in body, body


def test_names_within_the_columns_deploy(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    status, body = deploy(client, demo_tokens["owner1"], diagram("p" * 120))
    assert status == 201, body
