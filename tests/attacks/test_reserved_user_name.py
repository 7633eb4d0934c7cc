"""No person can be named "system". Checks trust that name: a version deployed by "system" is active at once
(no second process owner), an instance "system" started may open dunning cases, and every dunning case is
started by "system", so its initiator reads them all. An admin could create a user "system" (say, for an
integration) in process_owner, and that user's money-moving diagram went live alone. Found by an attack on
the build."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.helpers import auth
from tests.sod_diagrams import bundle, money_diagram
from workflows.errors import BadRequest
from workflows.store.db import transaction
from workflows.store.models import ProcessDefinition, User
from workflows.users import add_user, issue_token

pytestmark = pytest.mark.usefixtures("shipped")


@pytest.mark.parametrize("name", ["system", "System", "SYSTEM"])
def test_a_user_cannot_be_named_system(app: Flask, name: str) -> None:
    svc = app.extensions["creditflow"]
    with pytest.raises(BadRequest, match="reserved"), transaction(svc.rt.factory) as session:
        add_user(session, name, groups=["process_owner"], now=svc.clock())
    with svc.rt.factory() as session:
        assert session.scalars(select(User.username).where(func.lower(User.username) == "system")).all() == []


def test_a_process_owner_named_otherwise_still_waits_for_a_second_owner(
    app: Flask, client: FlaskClient
) -> None:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        add_user(session, "systemd", groups=["process_owner"], now=svc.clock())
        token = issue_token(session, "systemd", svc.clock())
    params = {"customer_id": "1", "new_limit": "99000000", "reason": '"x"', "review_months": "12"}
    files = bundle("grant", money_diagram("grant", "credit.apply_limit", params))
    response = client.post(
        "/api/process-definitions",
        data={"files": [(io.BytesIO(data), name) for name, data in files.items()]},
        headers=auth(token),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    with svc.rt.factory() as session:
        status = session.scalar(
            select(ProcessDefinition.status).where(ProcessDefinition.process_key == "grant")
        )
    assert status == "pending"
