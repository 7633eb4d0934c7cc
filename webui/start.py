"""/start: start a deployed process from the web, with its start form when the deployment has one."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from webui import services
from webui.auth import login_required_view, web_actor
from webui.diagrams import deployment_files
from webui.schema_forms import field_errors, form_level_errors, form_widgets
from workflows import runner
from workflows.definitions import latest_definition
from workflows.errors import Forbidden, Invalid
from workflows.forms import coerce_form_strings, validate_form
from workflows.models import ProcessDefinition
from workflows.users import Actor

bp = Blueprint("start", __name__)

# A deployment may carry `<process key>_start.json`, the JSON schema of its start form.
START_FORM_SUFFIX = "_start.json"


def may_start(actor: Actor, definition: ProcessDefinition) -> bool:
    """Members of the start lane's groups may start a process; admins may start any."""
    return actor.is_admin or actor.in_any(definition.start_groups or [])


def startable_definitions(session: Session, actor: Actor) -> list[ProcessDefinition]:
    """The latest version of every process the actor may start, by key."""
    latest = (
        select(ProcessDefinition.process_key, func.max(ProcessDefinition.version).label("version"))
        .group_by(ProcessDefinition.process_key)
        .subquery()
    )
    rows = session.scalars(
        select(ProcessDefinition)
        .join(
            latest,
            (ProcessDefinition.process_key == latest.c.process_key)
            & (ProcessDefinition.version == latest.c.version),
        )
        .order_by(ProcessDefinition.process_key)
    )
    return [d for d in rows if may_start(actor, d)]


@bp.get("/start")
@login_required_view
def index() -> str:
    with services().rt.factory() as session:
        return render_template("start/index.html", definitions=startable_definitions(session, web_actor()))


@bp.route("/start/<key>", methods=["GET", "POST"])
@login_required_view
def start(key: str) -> str | Response | tuple[str, int]:
    svc = services()
    actor = web_actor()
    with svc.rt.factory() as session:
        definition = latest_definition(session, key)
        assert definition is not None
        if not may_start(actor, definition):
            groups = ", ".join(definition.start_groups) or "the system"
            raise Forbidden(f"{actor.username} may not start {key}: it is started by {groups}.")
        text = deployment_files(session, definition).get(f"{key}{START_FORM_SUFFIX}")
    schema: dict[str, Any] = json.loads(text) if text else {}
    if request.method == "GET":
        return _form(definition, schema, {}, {})
    business_key = request.form.get("business_key", "").strip() or None
    try:
        data = _start_data(schema)
    except Invalid as exc:
        return _form(definition, schema, request.form, field_errors(exc), status=422)
    instance = runner.start_instance(
        svc.rt, key, data, actor=actor, now=svc.clock(), business_key=business_key
    )
    svc.nudge()  # the first steps may have queued e-mail or armed a timer
    flash(f"Started {key} #{instance.id} (version {instance.version}).")
    return redirect(url_for("instances.show", instance_id=instance.id))


def _start_data(schema: dict[str, Any]) -> dict[str, Any]:
    """The start data from the schema form, or from the JSON text area when there is no schema.

    Raises:
        Invalid: with the bad fields.
    """
    if schema:
        return validate_form(schema, coerce_form_strings(schema, request.form))
    raw = request.form.get("data", "").strip() or "{}"
    try:
        data = json.loads(raw, parse_float=Decimal)
    except ValueError as exc:
        raise Invalid(
            "The start data is not JSON.", details={"fields": {"data": f"Not valid JSON: {exc}"}}
        ) from exc
    if not isinstance(data, dict):
        raise Invalid(
            "The start data must be a JSON object.",
            details={"fields": {"data": 'Write a JSON object, e.g. {"customer_id": 1}.'}},
        )
    return data


def _form(
    definition: ProcessDefinition,
    schema: dict[str, Any],
    values: Any,
    errors: dict[str, str],
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "start/form.html",
        definition=definition,
        schema=schema,
        widgets=form_widgets(schema, values, errors),
        form_errors=form_level_errors(schema, errors) if schema else [],
        errors=errors,
        business_key=values.get("business_key", ""),
        data_text=values.get("data", "{}"),
    ), status
