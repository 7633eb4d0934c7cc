"""The machinery of the endpoint × role matrix (test_endpoint_roles.py): the row type, one app with a real
record behind every path parameter, a client per caller, one call per cell, and what writes send."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from io import BytesIO
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.helpers import auth, credit_hold_files
from tests.webui.test_pages import csrf_token, logged_in
from workflows.cli.demo import seed_demo, start_demo_cases
from workflows.credit.models import Contract, Customer, DunningCase
from workflows.credit.orders import OrderInput, post_order
from workflows.credit.roles import ADMIN, DEMO_USERS
from workflows.engine import runner
from workflows.store.db import transaction
from workflows.store.models import InboxItem
from workflows.store.sink_tables import SinkMessage
from workflows.users import Actor

# None is the caller without a token (API) or without a session (pages).
CALLERS: tuple[str | None, ...] = (*DEMO_USERS, None)
# credit_hold (tests/fixtures/acceptance): sales starts it; its first user task is the analysts' review.
HOLD = "credit_hold"
HOLD_START = {"order_amount": 1200.50, "available_limit": 1000, "order_number": "SO-7"}
_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")

# What a caller sends: keyword arguments of FlaskClient.open (json=, data=, content_type=), by user name.
Send = Callable[["Sample", str], dict[str, Any]]


@dataclass(frozen=True)
class Row:
    """What one route answers: `ok` to admins and the members of `groups`, `refused` to every other demo
    user, `anonymous` to a caller with no token or session (default: 401 under /api/, the redirect to
    /login for pages), and `users` for single users whose answer differs (the table says why)."""

    groups: frozenset[str]
    ok: int = 200
    refused: int = 403
    anonymous: int | None = None
    users: Mapping[str, int] = field(default_factory=dict)
    send: Send | None = None
    # Path parameters taken from another Sample attribute than their own name, e.g. a failed instance.
    params: Mapping[str, str] = field(default_factory=dict)
    # (path parameter, Sample method): a new record for it after every call that used one up.
    fresh: tuple[str, str] | None = None
    ends_session: bool = False

    def expected(self, rule: str, user: str | None) -> int:
        if user is None:
            if self.anonymous is not None:
                return self.anonymous
            return 401 if rule.startswith("/api/") else 302
        if user in self.users:
            return self.users[user]
        group = DEMO_USERS[user]
        return self.ok if group == ADMIN or group in self.groups else self.refused


@dataclass
class Sample:
    """The app with real records for every path parameter, and a client per caller."""

    app: Flask
    now: datetime
    tokens: dict[str, str]
    api: FlaskClient
    customer_id: int = 0
    supplier_id: int = 0
    contract_id: int = 0
    instance_id: int = 0
    task_id: int = 0
    failed_instance_id: int = 0
    order_id: int = 0
    orders_made: int = 0
    case_id: int = 0  # Quickbuild's dunning case (start_demo_cases), worked by collections
    message_id: int = 0
    key: str = HOLD
    version: int = 1
    picker: str = "customer_id"  # the `<field>` of /start/pick; `<item_id>` is then the customer
    filename: str = "app.css"
    web: dict[str | None, FlaskClient] = field(default_factory=dict)
    csrf: dict[str | None, str] = field(default_factory=dict)

    def actor(self, username: str) -> Actor:
        return Actor(username, frozenset({DEMO_USERS[username]}))

    def open_review(self) -> int:
        """A new credit_hold instance started by sales1; the id of its open review (credit analysts)."""
        rt = self.app.extensions["creditflow"].rt
        instance = runner.start_instance(rt, HOLD, HOLD_START, actor=self.actor("sales1"), now=self.now)
        with rt.factory() as session:
            query = select(InboxItem.id).where(InboxItem.instance_id == instance.id)
            return int(session.scalars(query).one())

    def claimed_review(self) -> int:
        """An open review, claimed by analyst1."""
        task_id = self.open_review()
        runner.claim_task(
            self.app.extensions["creditflow"].rt, task_id, actor=self.actor("analyst1"), now=self.now
        )
        return task_id

    def open_order(self) -> int:
        """A new open order of the sample customer (closing one uses it up)."""
        svc = self.app.extensions["creditflow"]
        self.orders_made += 1
        data = OrderInput(
            self.customer_id, f"MX-OPEN-{self.orders_made}", Decimal("10.00"), "EUR", self.now.date()
        )
        with transaction(svc.rt.factory) as session:
            base = svc.rt.settings.credit.base_currency
            return post_order(session, data, actor="finance1", now=self.now, base=base).id

    def log_in(self, user: str | None) -> None:
        """A fresh web client for `user` (None: a visitor), with its session's CSRF token."""
        client = self.app.test_client() if user is None else logged_in(self.app, user)
        self.web[user] = client
        self.csrf[user] = csrf_token(client)

    def values(self, row: Row) -> dict[str, Any]:
        """The path parameters of a row: the sample's records, or the attributes the row names."""
        values: dict[str, Any] = {
            "customer_id": self.customer_id,
            "supplier_id": self.supplier_id,
            "contract_id": self.contract_id,
            "instance_id": self.instance_id,
            "task_id": self.task_id,
            "message_id": self.message_id,
            "order_id": self.order_id,
            "case_id": self.case_id,
            "key": self.key,
            "version": self.version,
            "field": self.picker,
            "item_id": self.customer_id,
            "filename": self.filename,
        }
        return values | {name: getattr(self, source) for name, source in row.params.items()}

    def call(self, method: str, rule: str, row: Row, user: str | None, values: Mapping[str, Any]) -> int:
        """The status `user` gets for `method rule`, with path parameters from `values`."""
        path = _PARAMETER.sub(lambda m: str(values[m.group(1)]), rule)
        kwargs = row.send(self, user or "anonymous") if row.send else {}
        headers: dict[str, str] = {}
        if rule.startswith("/api/"):
            client = self.api
            if user is not None:
                headers = auth(self.tokens[user])
        else:
            client = self.web[user]
            if method != "GET":  # a real CSRF token, so the refusal comes from the rights, not the form
                if "json" in kwargs:
                    headers["X-CSRFToken"] = self.csrf[user]
                else:
                    kwargs["data"] = {**kwargs.get("data", {}), "csrf_token": self.csrf[user]}
        response = client.open(path, method=method, headers=headers, **kwargs)
        response.close()  # static files are streamed
        if row.ends_session:  # a new session has a new CSRF token (a failed login clears the visitor's too)
            self.log_in(user)
        return response.status_code


def build_sample(app: Flask, now: datetime, tokens: dict[str, str]) -> Sample:
    """The demo data (customers, suppliers, a contract with a change in review, a dunning case), credit_hold
    deployed by owner1 with one instance waiting for the analysts and one failed, and mail to collector1."""
    svc = app.extensions["creditflow"]
    sample = Sample(app=app, now=now, tokens=tokens, api=app.test_client())
    with transaction(svc.rt.factory) as session:
        seed_demo(session, now)
    start_demo_cases(svc.rt, now)
    deployed = sample.api.post(
        "/api/process-definitions", headers=auth(tokens["owner1"]), **bundle(sample, "")
    )
    assert deployed.status_code == 201, deployed.json
    sample.task_id = sample.open_review()
    # credit_hold's script lacks its inputs, so this instance fails at once.
    failed = runner.start_instance(
        svc.rt, HOLD, {"order_number": "SO-9"}, actor=sample.actor("sales1"), now=now
    )
    assert failed.status == "error"
    sample.failed_instance_id = failed.id
    with transaction(svc.rt.factory) as session:
        task = session.get(InboxItem, sample.task_id)
        assert task is not None
        sample.instance_id = task.instance_id
        customer = session.scalars(select(Customer).where(Customer.external_id == "C-1002")).one()
        assert customer.sales_owner == "sales1"
        sample.customer_id = customer.id
        contract = session.scalars(select(Contract).where(Contract.number == "PC-2026-001")).one()
        sample.contract_id, sample.supplier_id = contract.id, contract.supplier_id
        sample.case_id = session.scalars(select(DunningCase.id)).one()
        mail = SinkMessage(
            received_at=now,
            mail_from="creditflow@example.com",
            rcpt_to="collector1@example.com",
            subject="Reminder",
            message_id="<matrix@example.com>",
            raw="Subject: Reminder\r\nTo: collector1@example.com\r\n\r\nPlease call Quickbuild.\r\n",
        )
        session.add(mail)
        session.flush()
        sample.message_id = mail.id
    for user in CALLERS:
        sample.log_in(user)
    return sample


# --- what callers send: valid for the allowed groups and unique per user, so every allowed write succeeds ---

EUR = {"currency": "EUR"}


def bundle(s: Sample, user: str) -> dict[str, Any]:
    """credit_hold's files (deploying the same content again answers as a deploy that changed nothing)."""
    files = [(BytesIO(p.read_bytes()), p.name) for p in credit_hold_files()]
    return {"data": {"files": files}, "content_type": "multipart/form-data"}


def edited_xml(s: Sample, user: str) -> dict[str, Any]:
    diagram = next(p for p in credit_hold_files() if p.suffix == ".bpmn")
    return {"json": {"xml": diagram.read_text().replace("Review credit hold", f"Review ({user})")}}


def credit_application(s: Sample, user: str) -> dict[str, Any]:
    data = {
        "customer_id": s.customer_id,
        "requested_limit": "50000.00",
        "payment_terms_days": 30,
        "justification": f"The endpoint matrix, as {user}.",
    }
    return {"json": {"process_key": "credit_application", "business_key": f"MX-{user}", "data": data | EUR}}


def hold_start_form(s: Sample, user: str) -> dict[str, Any]:
    return {"data": {"business_key": f"MX-{user}", "data": json.dumps(HOLD_START)}}


def review_keep(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"data": {"decision": "keep", "comment": f"as {user}"}}}


def review_keep_form(s: Sample, user: str) -> dict[str, Any]:
    return {"data": {"decision": "keep", "comment": f"as {user}"}}


def promise_to_pay(s: Sample, user: str) -> dict[str, Any]:
    # No case waits under this key: the sender's right is checked all the same, and nothing changes.
    data = {"promised_date": "2026-04-01", "amount": "100.00"}
    return {"json": {"name": "promise_to_pay", "correlation_key": f"no-case-{user}", "data": data}}


def tick_now(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"now": s.now.isoformat()}}


def new_customer(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"name": f"Matrix Customer of {user}"} | EUR}


def fx_rate(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"currency": "GBP", "rate": "1.17", "date": "2026-03-01"}}


def rating(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"agency": "S&P", "rating": "BBB", "date": "2026-03-01"}}


def collateral(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"kind": "bank_guarantee", "value": "50000.00", "expires_on": "2027-12-31"} | EUR}


def invoice(s: Sample, user: str) -> dict[str, Any]:
    dates = {"issue_date": "2026-03-01", "due_date": "2026-03-31"}
    return {"json": {"customer_id": s.customer_id, "number": f"MX-{user}", "amount": "100.00", **dates} | EUR}


def order(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"customer_id": s.customer_id, "order_ref": f"MX-{user}", "amount": "10.00"} | EUR}


def credit_check(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"customer_id": s.customer_id, "order_ref": f"MX-CHECK-{user}", "amount": "10.00"} | EUR}


def payment(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"customer_id": s.customer_id, "amount": "10.00", "date": "2026-03-01"} | EUR}


def new_supplier(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"name": f"Matrix Supplier of {user}", "email": f"{user}@supplier.example"} | EUR}


def new_contract(s: Sample, user: str) -> dict[str, Any]:
    fields = {
        "number": f"MX-{user}",
        "value": "1000.00",
        "payment_terms_days": 30,
        "start_date": "2026-03-01",
    }
    return {"json": {**fields, "supplier_id": s.supplier_id} | EUR}


def login_form(s: Sample, user: str) -> dict[str, Any]:
    return {"data": {"username": user, "password": "demo"}}


def contact(s: Sample, user: str) -> dict[str, Any]:
    """A call on the sample's dunning case with no promise (a promise would pause it)."""
    return {"json": {"kind": "call", "outcome": "no_answer", "note": f"matrix call by {user}"}}


def contact_form(s: Sample, user: str) -> dict[str, Any]:
    return {"data": {"kind": "call", "outcome": "no_answer", "note": f"matrix call by {user}"}}
