"""/api/collections and /api/dunning-cases/ID/contacts: the collectors' worklist and the contact log."""

from __future__ import annotations

from typing import Literal

from flask import Response, jsonify
from pydantic import Field

from webui.api import bp, current_actor, json_body, paged
from webui.api.openapi import Body, Day, Id, Model, Money, Page, PageQuery, Timestamp, api, responses
from webui.services import services
from workflows.credit.collection_contacts import (
    KINDS,
    NEXT_ACTION_MAX,
    NOTE_MAX,
    OUTCOMES,
    contact_json,
    list_contacts,
)
from workflows.credit.collection_log import load_case_for, log_contact, worklist_scope
from workflows.credit.collection_next import Source
from workflows.credit.collection_priority import deployed_priority
from workflows.credit.collection_worklist import row_json, worklist


class Contact(Model):
    id: Id
    case_id: int
    customer_id: int
    kind: Literal[KINDS]  # type: ignore[valid-type]
    outcome: Literal[OUTCOMES]  # type: ignore[valid-type]
    note: str
    next_action: str
    next_action_date: Day | None
    promise_id: int | None = Field(
        description='the promise an outcome "promise" recorded (GET /api/dunning-cases)'
    )
    actor: str
    at: Timestamp


class ContactPage(Page):
    items: list[Contact]


class NewContact(Body):
    kind: Literal[KINDS] = Field(examples=["call"])  # type: ignore[valid-type]
    outcome: Literal[OUTCOMES] = Field(examples=["promise"])  # type: ignore[valid-type]
    note: str = Field("", max_length=NOTE_MAX, examples=["spoke to AP; payment run on Friday"])
    next_action: str = Field("", max_length=NEXT_ACTION_MAX, examples=["call back"])
    next_action_date: Day | None = Field(
        None, description="today or later; a promise's is its promised date (leave it empty)"
    )
    promised_date: Day | None = Field(None, description='outcome "promise" only: today or later')
    promised_amount: str | None = Field(
        None,
        description='outcome "promise" only: a decimal string in the case currency',
        examples=["1500.00"],
        json_schema_extra={"format": "money"},
    )


class WorkQuery(PageQuery):
    due: Literal["today", "all"] = Field(
        "today",
        description="today: next action due (a collector's action dated today or earlier, or none set by a "
        "collector); all: every open case",
    )


class WorkItem(Model):
    case_id: Id
    customer_id: int
    customer_name: str
    status: str
    level: int
    grade: str
    overdue: dict[str, Money] = Field(description="undisputed amount overdue per currency")
    overdue_base: Money | None = Field(description="in the base currency; null: a rate is missing")
    missing_rate: str | None = Field(description="which rate is missing: a person must rank the case")
    days_overdue: int
    score: Money | None = Field(description="collection_priority.dmn's score (null: a rate is missing)")
    grade_factor: str | None
    next_action: str = Field(
        description="what comes next: a collector's next action, a void promise's check, or the ladder's step"
    )
    next_action_date: Day | None = Field(description="its date (null: now, or nothing is waiting)")
    next_action_source: Literal[Source.ALL] = Field(  # type: ignore[valid-type]
        description="void_promise: the logged promise was refused, lapsed or replaced, check the case now; "
        "contact: set by the newest contact; ladder: no collector set a date, the dunning ladder's next step "
        "and the day it falls due; none: nothing set and no ladder step waiting"
    )
    last_contact: Contact | None
    promises: dict[str, int] = Field(description="the case's promises by status")
    disputes: int = Field(description="the customer's open disputes")
    disputed: dict[str, Money] = Field(description="held by them, per currency")


class WorkPage(Page):
    items: list[WorkItem]


@bp.get("/collections")
@api.validate(resp=responses(200, WorkPage, 403, 409))
def get_collections(query: WorkQuery) -> Response:
    """The collectors' worklist: open dunning cases of the caller's collector groups, by priority score."""
    actor = current_actor()
    svc = services()
    now = svc.clock()
    with svc.rt.factory() as session:
        scope = worklist_scope(svc.rt, session, actor)
        rows, total = worklist(
            session,
            today=now.date(),
            base=svc.rt.settings.credit.base_currency,
            priority=deployed_priority(session),
            scope=scope,
            due_only=query.due == "today",
            page=query.page,
            per_page=min(query.per_page, 200),
        )
        return paged([row_json(r) for r in rows], total, query.page, query.per_page)


@bp.get("/dunning-cases/<int:case_id>/contacts")
@api.validate(resp=responses(200, ContactPage, 403, 404))
def get_case_contacts(case_id: int, query: PageQuery) -> Response:
    """A dunning case's contact log, newest first."""
    actor = current_actor()
    svc = services()
    with svc.rt.factory() as session:
        load_case_for(svc.rt, session, case_id, actor, work=False)
        rows, total = list_contacts(session, case_id, page=query.page, per_page=query.per_page)
        return paged([contact_json(r) for r in rows], total, query.page, query.per_page)


@bp.post("/dunning-cases/<int:case_id>/contacts")
@api.validate(json=NewContact, resp=responses(201, Contact, 403, 404, 409, 413, 422))
def post_case_contact(case_id: int) -> tuple[Response, int]:
    """Log a call, e-mail, letter or visit. Outcome "promise" records the promise through the case's
    dunning instance (the ladder's limits apply; outside them a credit manager decides), and the case's
    next action date becomes the promised date."""
    actor = current_actor()
    svc = services()
    contact = log_contact(svc.rt, case_id, json_body(), actor=actor, now=svc.clock())
    svc.nudge()
    return jsonify(contact), 201
