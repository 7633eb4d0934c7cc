"""/api/process-instances: start one, list and read those the caller may see, retry a failed one."""

from __future__ import annotations

from typing import Literal

from flask import Response, jsonify
from pydantic import Field

from webui.api import bp, current_actor, json_body, paged
from webui.api.openapi import Body, Id, JsonObject, Model, Page, PageQuery, Timestamp, api, responses
from webui.api.tasks import Task
from webui.incident_texts import instance_as_read
from webui.input_checks import check_business_key
from webui.services import services
from workflows.credit.roles import CREDIT_APPLICATION
from workflows.decision_log import decision_json, decisions_of
from workflows.engine import runner
from workflows.errors import BadRequest
from workflows.instances import (
    get_instance_for,
    instance_json,
    instance_summary,
    list_instances,
    started_instance_json,
)
from workflows.messages import _

Status = Literal["running", "completed", "cancelled", "error"]


class NewInstance(Body):
    process_key: str = Field(min_length=1, examples=[CREDIT_APPLICATION])
    business_key: str | None = Field(None, max_length=120, examples=["C-1001"])
    data: JsonObject = Field(
        default_factory=dict,
        description="the start form's fields",
        examples=[
            {
                "customer_id": 1,
                "requested_limit": "50000.00",
                "currency": "EUR",
                "payment_terms_days": 30,
                "justification": "A new distribution contract doubles the orders.",
            }
        ],
    )


class InstanceSummary(Model):
    id: Id
    process_key: str
    version: int
    status: Status
    business_key: str | None
    started_by: str
    started_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None


class InstanceEvent(Model):
    at: Timestamp
    actor: str
    action: str
    bpmn_id: str | None
    task_id: int | None
    detail: JsonObject


class Incident(Model):
    id: Id
    bpmn_id: str
    message: str = Field(
        description="why the step failed, to an admin; to anyone else a sentence that it failed and that an "
        "admin can see the details (the failure's own text may hold internal details)"
    )
    created_at: Timestamp


class Instance(InstanceSummary):
    data: JsonObject
    tasks: list[Task]
    events: list[InstanceEvent]
    incidents: list[Incident] = Field(description="open incidents of a failed instance")


class InstanceQuery(PageQuery):
    process_key: str | None = None
    status: Status | None = None
    business_key: str | None = None


class InstancePage(Page):
    items: list[InstanceSummary]


class DecisionQuery(PageQuery):
    decision: str | None = Field(None, max_length=120, description="only this decision's rows (its DMN id)")


class MatchedRule(Model):
    row: int = Field(ge=1, description="the rule's row in the table, from 1")
    id: str


class Decision(Model):
    id: Id
    instance_id: Id | None
    process_key: str | None
    version: int | None
    decision_id: str = Field(examples=["approval_authority"])
    bpmn_id: str | None = Field(description="the business rule task that took the decision")
    inputs: JsonObject = Field(
        description="each input expression of the table and its value (Decimal and dates as strings)",
        examples=[{'recommendation["limit_in_base"]': "250000.00", "grade": "B"}],
    )
    outputs: JsonObject = Field(examples=[{"approval_level": "manager"}])
    rules: list[MatchedRule] = Field(description="the rules that gave the outputs; empty when none matched")
    at: Timestamp


class DecisionPage(Page):
    items: list[Decision]


@bp.post("/process-instances")
@api.validate(json=NewInstance, resp=responses(201, Instance, 403, 404, 409, 413, 422))
def post_instance() -> tuple[Response, int]:
    """Start a process: its first steps run before the answer, which shows the tasks they opened."""
    actor = current_actor()
    body = json_body()
    key = body.get("process_key")
    if not isinstance(key, str) or not key:
        raise BadRequest(_("process_key is required"))
    business_key = body.get("business_key")
    if business_key is not None and not isinstance(business_key, str):
        business_key = str(business_key)
    check_business_key(business_key)
    svc = services()
    now = svc.clock()
    step = runner.start_step(
        svc.rt, key, body.get("data") or {}, actor=actor, now=now, business_key=business_key
    )
    svc.nudge()  # the step may have queued e-mail or armed a timer
    # From what the step wrote: no second session reads the new instance back (issue 19).
    # A failed first step: what the starter may read of it (webui/incident_texts.py).
    return jsonify(instance_as_read(started_instance_json(svc.rt.factory, step, now), actor)), 201


@bp.get("/process-instances")
@api.validate(resp=responses(200, InstancePage))
def get_instances(query: InstanceQuery) -> Response:
    """The instances the caller may see, newest first, filtered by process, status and business key."""
    actor = current_actor()
    with services().rt.factory() as session:
        rows, total = list_instances(
            session,
            actor,
            process_key=query.process_key,
            status=query.status,
            business_key=query.business_key,
            page=query.page,
            per_page=query.per_page,
        )
        return paged([instance_summary(r) for r in rows], total, query.page, query.per_page)


@bp.get("/process-instances/<int:instance_id>")
@api.validate(resp=responses(200, Instance, 403, 404))
def get_instance(instance_id: int) -> Response:
    """One instance: its data, every task (open and done), its history and open incidents."""
    actor = current_actor()
    svc = services()
    with svc.rt.factory() as session:
        found = instance_json(session, get_instance_for(session, actor, instance_id), svc.clock())
    # An incident's message: said in the caller's language (Accept-Language) to an admin, kept back from
    # anyone else (webui/incident_texts.py).
    return jsonify(instance_as_read(found, actor))


@bp.get("/process-instances/<int:instance_id>/decisions")
@api.validate(resp=responses(200, DecisionPage, 403, 404))
def get_instance_decisions(instance_id: int, query: DecisionQuery) -> Response:
    """The decision log of an instance: one row per business rule task it ran, oldest first."""
    actor = current_actor()
    with services().rt.factory() as session:
        found = decisions_of(
            session, actor, instance_id, decision=query.decision, page=query.page, per_page=query.per_page
        )
        return paged([decision_json(d) for d in found.items], found.total, query.page, query.per_page)


@bp.post("/process-instances/<int:instance_id>/retry")
@api.validate(resp=responses(200, Instance, 403, 404, 409))
def retry_instance(instance_id: int) -> Response:
    """Run a failed instance's step again (admins), after the cause of its incident was fixed."""
    actor = current_actor()
    svc = services()
    now = svc.clock()
    instance = runner.retry_instance(svc.rt, instance_id, actor=actor, now=now)
    with svc.rt.factory() as session:
        return jsonify(instance_json(session, instance, now))  # only an admin retries: all of it
