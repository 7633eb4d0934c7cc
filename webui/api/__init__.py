"""REST API of the public contract (JSON, `Authorization: Bearer TOKEN`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import or_, select

from webui import services
from workflows.batch.jobs import tick
from workflows.clock import parse_now
from workflows.credit.customers import (
    CUSTOMER_CREATORS,
    CUSTOMER_READERS,
    create_customer,
    customer_json,
    get_customer,
    list_customers,
    parse_customer,
)
from workflows.credit.limit_review import record_rating
from workflows.credit.record_fields import iso_text
from workflows.definitions.deploy import PROCESS_OWNERS, deploy_files, list_definitions
from workflows.definitions.validation import InvalidBundle
from workflows.engine import runner
from workflows.errors import BadRequest, Forbidden, Unauthorized
from workflows.inbox import InboxFilter, get_task_for, list_inbox, task_json
from workflows.instances import get_instance_for, instance_json, instance_summary, list_instances
from workflows.store.db import transaction
from workflows.store.models import OutboxEmail, ProcessInstance
from workflows.store.paging import page_rows
from workflows.users import Actor, actor_for_token, emails_of

bp = Blueprint("api", __name__, url_prefix="/api")


def current_actor() -> Actor:
    """The caller behind the bearer token.

    Raises:
        Unauthorized: no token, or an unknown one.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "send an API token as 'Authorization: Bearer TOKEN' (see `creditflow users token`)"
        )
    # A plain connection: an ORM session costs more than this one query.
    with services().rt.factory.kw["bind"].connect() as connection:
        actor = actor_for_token(connection, token.strip())
    if actor is None:
        raise Unauthorized("the API token is not valid")
    return actor


def json_body() -> dict[str, Any]:
    """The request's JSON object, with numbers that have a fraction kept exact as Decimal.

    Raises:
        BadRequest: the body is not a JSON object.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name, "")
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise BadRequest(f"query parameter {name} must be a whole number, not {value!r}") from exc


def _paged(items: list[Any], total: int, page: int, per_page: int) -> Response:
    return jsonify({"items": items, "total": total, "page": page, "per_page": per_page})


@bp.get("/health")
def health() -> Response:
    with services().rt.factory() as session:
        session.execute(select(1))
    return jsonify({"status": "ok"})


# --- definitions ---------------------------------------------------------------------------------------


@bp.get("/process-definitions")
def get_definitions() -> Response:
    current_actor()
    with services().rt.factory() as session:
        return jsonify(
            [
                {
                    "key": d.process_key,
                    "version": d.version,
                    "name": d.name,
                    "bpmn_file": d.bpmn_file,
                    "content_hash": d.content_hash,
                    "start_groups": d.start_groups,
                    "deployed_by": d.deployed_by,
                    "deployed_at": d.deployed_at.isoformat(),
                }
                for d in list_definitions(session)
            ]
        )


@bp.post("/process-definitions")
def post_definitions() -> tuple[Response, int]:
    actor = current_actor()
    if not actor.in_any(PROCESS_OWNERS):
        raise Forbidden(f"{actor.username} may not deploy: only process_owner or admin may")
    uploads = request.files.getlist("files")
    if not uploads:
        raise BadRequest("upload the BPMN, DMN and form files as multipart field 'files'")
    files = {u.filename or f"file{i}": u.read() for i, u in enumerate(uploads)}
    svc = services()
    try:
        with transaction(svc.rt.factory) as session:
            deployed = deploy_files(session, files, deployed_by=actor.username, now=svc.clock())
    except InvalidBundle as exc:
        problems = [str(p) for p in exc.problems]
        body = {"error": {"code": "invalid_definition", "message": "\n".join(problems), "problems": problems}}
        return jsonify(body), 422
    result = [d.as_dict() for d in deployed]
    return jsonify(result[0] if len(result) == 1 else result), 201


# --- instances ------------------------------------------------------------------------------------------


@bp.post("/process-instances")
def post_instance() -> tuple[Response, int]:
    actor = current_actor()
    body = json_body()
    key = body.get("process_key")
    if not isinstance(key, str) or not key:
        raise BadRequest("process_key is required")
    business_key = body.get("business_key")
    if business_key is not None and not isinstance(business_key, str):
        business_key = str(business_key)
    svc = services()
    now = svc.clock()
    instance = runner.start_instance(
        svc.rt, key, body.get("data") or {}, actor=actor, now=now, business_key=business_key
    )
    svc.nudge()  # the step may have queued e-mail or armed a timer
    with svc.rt.factory() as session:
        return jsonify(instance_json(session, instance, now)), 201


@bp.get("/process-instances")
def get_instances() -> Response:
    actor = current_actor()
    page, per_page = _int_arg("page", 1), _int_arg("per_page", 50)
    with services().rt.factory() as session:
        rows, total = list_instances(
            session,
            actor,
            process_key=request.args.get("process_key") or None,
            status=request.args.get("status") or None,
            business_key=request.args.get("business_key") or None,
            page=page,
            per_page=per_page,
        )
        return _paged([instance_summary(r) for r in rows], total, page, per_page)


@bp.get("/process-instances/<int:instance_id>")
def get_instance(instance_id: int) -> Response:
    actor = current_actor()
    svc = services()
    with svc.rt.factory() as session:
        return jsonify(instance_json(session, get_instance_for(session, actor, instance_id), svc.clock()))


@bp.post("/process-instances/<int:instance_id>/retry")
def retry_instance(instance_id: int) -> Response:
    actor = current_actor()
    svc = services()
    now = svc.clock()
    instance = runner.retry_instance(svc.rt, instance_id, actor=actor, now=now)
    with svc.rt.factory() as session:
        return jsonify(instance_json(session, instance, now))


# --- tasks ------------------------------------------------------------------------------------------------


@bp.get("/tasks")
def get_tasks() -> Response:
    actor = current_actor()
    svc = services()
    now = svc.clock()
    flt = InboxFilter(
        process_key=request.args.get("process_key") or None,
        group=request.args.get("group") or None,
        overdue=request.args.get("overdue") in ("1", "true", "yes"),
        text=request.args.get("q") or None,
        mine_only=request.args.get("mine") in ("1", "true", "yes"),
        sort=request.args.get("sort", "due"),
        page=_int_arg("page", 1),
        per_page=_int_arg("per_page", 50),
    )
    with svc.rt.factory() as session:
        found = list_inbox(session, actor, flt, now)
        return _paged([task_json(t, now) for t in found.items], found.total, found.page, found.per_page)


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int) -> Response:
    actor = current_actor()
    svc = services()
    with svc.rt.factory() as session:
        return jsonify(task_json(get_task_for(session, actor, task_id), svc.clock()))


@bp.post("/tasks/<int:task_id>/claim")
def claim(task_id: int) -> Response:
    actor = current_actor()
    svc = services()
    return jsonify(task_json(runner.claim_task(svc.rt, task_id, actor=actor, now=svc.clock()), svc.clock()))


@bp.post("/tasks/<int:task_id>/unclaim")
def unclaim(task_id: int) -> Response:
    actor = current_actor()
    svc = services()
    return jsonify(task_json(runner.unclaim_task(svc.rt, task_id, actor=actor, now=svc.clock()), svc.clock()))


@bp.post("/tasks/<int:task_id>/complete")
def complete(task_id: int) -> Response:
    actor = current_actor()
    body = json_body()
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise BadRequest("'data' must be a JSON object with the form fields")
    svc = services()
    now = svc.clock()
    item = runner.complete_task(svc.rt, task_id, data, actor=actor, now=now)
    svc.nudge()
    with svc.rt.factory() as session:
        instance = session.get(ProcessInstance, item.instance_id)
        assert instance is not None
        return jsonify({**task_json(item, now), "instance": instance_summary(instance)})


# --- messages, admin, mail ---------------------------------------------------------------------------------


@bp.post("/messages")
def post_message() -> Response:
    actor = current_actor()
    body = json_body()
    payload = body.get("data") or {}
    svc = services()
    delivered = runner.deliver_message(
        svc.rt,
        str(body.get("name") or ""),
        str(body.get("correlation_key") or ""),
        payload,
        actor=actor,
        now=svc.clock(),
    )
    svc.nudge()
    return jsonify({"delivered_to": delivered})


@bp.post("/admin/tick")
def admin_tick() -> Response:
    actor = current_actor()
    if not actor.is_admin:
        raise Forbidden(f"{actor.username} may not tick the scheduler: admin only")
    body = json_body()
    svc = services()
    try:
        now = parse_now(body.get("now"))
    except ValueError as exc:
        raise BadRequest(f"now must be an ISO 8601 time, not {body.get('now')!r}") from exc
    return jsonify(tick(svc.rt, svc.mailer(), now).as_dict())


def _addressed_to(address: str) -> Any:
    """Rows whose comma-separated recipients include exactly this address (no substring matches)."""
    to = OutboxEmail.to
    return or_(
        to == address,
        to.startswith(f"{address},", autoescape=True),
        to.endswith(f", {address}", autoescape=True),
        to.contains(f", {address},", autoescape=True),
    )


@bp.get("/emails")
def get_emails() -> Response:
    actor = current_actor()
    page, per_page = _int_arg("page", 1), min(_int_arg("per_page", 50), 200)
    query = select(OutboxEmail)
    if request.args.get("to"):
        query = query.where(OutboxEmail.to.contains(request.args["to"]))
    if request.args.get("status"):
        query = query.where(OutboxEmail.status == request.args["status"])
    with services().rt.factory() as session:
        if not actor.is_admin:
            # Staff see mail addressed to them; the whole outbox is for admins.
            mine = emails_of(session, usernames=[actor.username])
            query = query.where(or_(*(_addressed_to(a) for a in mine)) if mine else OutboxEmail.id < 0)
        rows, total = page_rows(session, query.order_by(OutboxEmail.id.desc()), page, per_page)
        items = [
            {
                "id": e.id,
                "to": e.to,
                "subject": e.subject,
                "template": e.template,
                "status": e.status,
                "attempts": e.attempts,
                "instance_id": e.instance_id,
                "created_at": e.created_at.isoformat(),
                "sent_at": iso_text(e.sent_at),
                "last_error": e.last_error,
            }
            for e in rows
        ]
    return _paged(items, total, page, per_page)


# --- customers ------------------------------------------------------------------------------------------


def require_groups(actor: Actor, groups: frozenset[str], action: str) -> None:
    """Raises: Forbidden unless the actor is in one of the groups (or admin)."""
    if not actor.in_any(groups):
        raise Forbidden(f"{actor.username} may not {action}: only {', '.join(sorted(groups))} or admin may")


def _bool_arg(name: str) -> bool | None:
    value = request.args.get(name, "")
    if not value:
        return None
    if value not in ("true", "false", "1", "0"):
        raise BadRequest(f"query parameter {name} must be true or false, not {value!r}")
    return value in ("true", "1")


@bp.get("/customers")
def get_customers() -> Response:
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, "read customers")
    page, per_page = _int_arg("page", 1), _int_arg("per_page", 50)
    svc = services()
    with svc.rt.factory() as session:
        rows, total = list_customers(
            session,
            text=request.args.get("q") or None,
            grade=request.args.get("grade") or None,
            blocked=_bool_arg("blocked"),
            page=page,
            per_page=per_page,
        )
        today = svc.clock().date()
        return _paged(
            [customer_json(session, c, today=today, full=False) for c in rows], total, page, per_page
        )


@bp.post("/customers")
def post_customer() -> tuple[Response, int]:
    actor = current_actor()
    require_groups(actor, CUSTOMER_CREATORS, "create customers")
    svc = services()
    now = svc.clock()
    fields = parse_customer(json_body(), today=now.date())
    with transaction(svc.rt.factory) as session:
        customer = create_customer(session, fields, actor=actor.username, now=now)
        return jsonify(customer_json(session, customer, today=now.date())), 201


@bp.get("/customers/<int:customer_id>")
def get_customer_file(customer_id: int) -> Response:
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, "read customers")
    svc = services()
    with svc.rt.factory() as session:
        return jsonify(customer_json(session, get_customer(session, customer_id), today=svc.clock().date()))


@bp.post("/customers/<int:customer_id>/rating")
def post_rating(customer_id: int) -> Response:
    """Record a new external rating; the next sweep starts a review with reason rating_change."""
    actor = current_actor()
    require_groups(actor, frozenset({"credit_analyst", "credit_manager"}), "record external ratings")
    svc = services()
    now = svc.clock()
    with transaction(svc.rt.factory) as session:
        customer = record_rating(session, customer_id, json_body(), actor=actor.username, now=now)
        return jsonify(customer_json(session, customer, today=now.date()))
