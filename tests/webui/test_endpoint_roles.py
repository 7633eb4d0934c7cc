"""Every route of the app, called by every demo user and by nobody, gives the status in MATRIX (issue 14).

MATRIX is README.md's "Who may do what" as a table: one row per method and route, read as "`ok` for
admins and the groups named, 403 for every other demo user, 401 without a token (for pages: the
redirect to /login, 302)". A route without a row fails the test, so no new route slips in unreviewed.
Groups are spelled out here rather than taken from the sets in workflows/credit/roles.py, so a change
there shows up as a failing cell. Auditors read everything and change nothing: every write refuses them.
The machinery (the sample records, the clients, what writes send) is in role_matrix.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine

from handlers.registry import build_operations
from tests.conftest import POSTGRES_URL, SteppingClock, empty_postgres
from tests.webui.role_matrix import (
    CALLERS,
    Row,
    Sample,
    build_sample,
    bundle,
    collateral,
    contact,
    contact_form,
    credit_application,
    credit_check,
    edited_xml,
    fx_rate,
    hold_start_form,
    invoice,
    login_form,
    new_contract,
    new_customer,
    new_supplier,
    order,
    payment,
    promise_to_pay,
    rating,
    review_keep,
    review_keep_form,
    tick_now,
)
from webui import create_app
from workflows.cli.demo import seed_demo_users
from workflows.credit.roles import (
    AUDITOR,
    CFO,
    COLLECTIONS,
    COLLECTIONS_LEAD,
    CREDIT_ANALYST,
    CREDIT_MANAGER,
    FINANCE,
    GROUPS,
    LEGAL,
    LOGISTICS,
    PROCESS_OWNER,
    PROCUREMENT,
    PROCUREMENT_MANAGER,
    SALES,
)
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.settings import Settings, load_settings
from workflows.store.db import transaction
from workflows.users import issue_token

pytestmark = pytest.mark.db  # CI reruns it on PostgreSQL, although it builds its own module-wide app

# --- who (README.md, "Who may do what"; admins may do everything) ------------------------------------------

EVERYONE = frozenset(GROUPS)
ADMINS_ONLY: frozenset[str] = frozenset()
SALES_ONLY = frozenset({SALES})
ANALYSTS = frozenset({CREDIT_ANALYST})
COLLECTORS = frozenset({COLLECTIONS})
CUSTOMER_CREATORS = frozenset({SALES, CREDIT_ANALYST, CREDIT_MANAGER})
# "the staff whose work touches them, and auditors"
CUSTOMER_STAFF = frozenset(
    {SALES, CREDIT_ANALYST, CREDIT_MANAGER, CFO, COLLECTIONS, LEGAL, FINANCE, PROCUREMENT, AUDITOR}
)
SUPPLIER_STAFF = frozenset(
    {PROCUREMENT, PROCUREMENT_MANAGER, FINANCE, LEGAL, CFO, CREDIT_ANALYST, CREDIT_MANAGER, AUDITOR}
)
SUPPLIER_CREATORS = frozenset({PROCUREMENT, PROCUREMENT_MANAGER})
RECEIVABLE_WRITERS = frozenset({FINANCE, COLLECTIONS})
ORDER_WRITERS = frozenset({FINANCE, SALES})  # the ERP's users: orders and their credit checks
PROVISION_READERS = frozenset({FINANCE, CREDIT_MANAGER, CFO, COLLECTIONS, AUDITOR})
# Exchange rates: finance and credit managers post them; customer and supplier staff read them.
FX_RATE_WRITERS = frozenset({FINANCE})
FX_RATE_READERS = CUSTOMER_STAFF | SUPPLIER_STAFF
RATING_RECORDERS = frozenset({CREDIT_ANALYST, CREDIT_MANAGER})
# Disputes and credit notes: the customer staff, and who investigates (logistics) or approves (the lead).
DISPUTE_STAFF = CUSTOMER_STAFF | {LOGISTICS, COLLECTIONS_LEAD}
# The sample instance (credit_hold) was started by sales1 and offers its review to the credit analysts.
INSTANCE_READERS = frozenset({SALES, CREDIT_ANALYST, AUDITOR})
TASK_READERS = frozenset({CREDIT_ANALYST, AUDITOR})
# A diagram: process owners, auditors, its starters (sales) and whoever may read one of its instances.
DIAGRAM_READERS = frozenset({PROCESS_OWNER, AUDITOR, SALES, CREDIT_ANALYST})
OWNERS = frozenset({PROCESS_OWNER})
# The workbench's pages are reads: auditors see them, without the upload form and the modeler.
DEFINITION_READERS = frozenset({PROCESS_OWNER, AUDITOR})
JOB_READERS = frozenset({AUDITOR})
# The audit trail and the segregation-of-duties report (README.md, "Who may do what").
AUDIT_READERS = frozenset({AUDITOR})

OPEN_TASK = ("task_id", "open_review")  # a claim or completion uses its task up: the next gets a new one
CLAIMED_TASK = ("task_id", "claimed_review")
FAILED = {"instance_id": "failed_instance_id"}  # a retry re-fails (the inputs are still missing): 200 again

BLOCK_LIFTERS = frozenset({CREDIT_MANAGER})
# The early-warning watchlist: credit staff, the CFO and auditors; sales read their own customers' entries.
WATCHLIST_READERS = frozenset({CREDIT_MANAGER, CREDIT_ANALYST, CFO, AUDITOR, SALES})
# Key customers are named by the credit staff; the portfolio is read by them, the CFO and auditors.
KEY_CUSTOMER_SETTERS = frozenset({CREDIT_ANALYST, CREDIT_MANAGER})
PORTFOLIO_READERS = frozenset({CREDIT_ANALYST, CREDIT_MANAGER, CFO, AUDITOR})
# The collectors' worklist: collectors, and the leads, credit managers and auditors who oversee them. A case's
# contacts are logged by its dunning version's collector groups (promise_to_pay's senderGroups: collections).
COLLECTION_READERS = frozenset({COLLECTIONS, COLLECTIONS_LEAD, CREDIT_MANAGER, AUDITOR})
# The credit KPIs (GET /api/kpis): the credit staff and the CFO; auditors read them.
KPI_READERS = frozenset({CREDIT_ANALYST, CREDIT_MANAGER, CFO, AUDITOR})


def recovery(s: Sample, user: str) -> dict[str, Any]:
    body = {
        "customer_id": s.customer_id,
        "invoice_number": "MX-NONE",
        "amount": "10.00",
        "date": "2026-03-01",
    }
    return {"json": body | {"currency": "EUR", "reference": f"MX-RECOVERY-{user}"}}


def what_if_upload(s: Sample, user: str) -> dict[str, Any]:
    table = (Path(__file__).resolve().parents[2] / "bpmn" / "approval_authority.dmn").read_bytes()
    form = {"definition_key": "credit_application", "from": "2026-01-01", "to": "2026-03-31"}
    return {
        "data": {"files": [(BytesIO(table), "approval_authority.dmn")], **form},
        "content_type": "multipart/form-data",
    }


def new_process(s: Sample, user: str) -> dict[str, Any]:
    return {"query_string": {"key": "matrix_process", "name": f"Matrix ({user})", "group": "sales"}}


def new_process_xml(s: Sample, user: str) -> dict[str, Any]:
    return {**edited_xml(s, user), "query_string": {"key": "credit_hold"}}


def preview_texts(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"instance_id": None, "subject": f'"preview by {user}"'}}


def preview_timer(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"kind": "timeDuration", "expression": '"P2D"', "start": "2027-01-12 09:00"}}


def key_customer(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"key_customer": True, "account_owner": "manager1"}}


def unblock(s: Sample, user: str) -> dict[str, Any]:
    return {"json": {"reason": f"matrix call by {user}"}}


def unblock_form(s: Sample, user: str) -> dict[str, Any]:
    return {"data": {"reason": f"matrix call by {user}"}}


# --- the table ---------------------------------------------------------------------------------------------

MATRIX: dict[str, Row] = {
    # API, public: the contract and the health check.
    "GET /api/health": Row(EVERYONE, anonymous=200),
    "GET /api/openapi.json": Row(EVERYONE, anonymous=200),
    "GET /api/docs": Row(EVERYONE, anonymous=200),
    # Definitions and instances.
    "GET /api/process-definitions": Row(EVERYONE),
    "POST /api/process-definitions": Row(OWNERS, ok=201, send=bundle),
    "GET /api/process-definitions/<key>/diff": Row(DEFINITION_READERS),
    "POST /api/what-if": Row(OWNERS, send=what_if_upload),  # reads only, but a POST: no auditors
    "POST /api/definitions/validate": Row(OWNERS, send=bundle),  # checks only, but a POST: no auditors
    "GET /api/operations": Row(EVERYONE),
    "GET /api/process-instances": Row(EVERYONE),  # each finds the instances they may read
    "POST /api/process-instances": Row(SALES_ONLY, ok=201, send=credit_application),
    "GET /api/process-instances/<int:instance_id>": Row(INSTANCE_READERS),
    "GET /api/process-instances/<int:instance_id>/decisions": Row(INSTANCE_READERS),
    "POST /api/process-instances/<int:instance_id>/retry": Row(ADMINS_ONLY, params=FAILED),
    # Tasks and messages.
    "GET /api/tasks": Row(EVERYONE),  # each finds the tasks they may act on
    "GET /api/tasks/<int:task_id>": Row(TASK_READERS),
    "POST /api/tasks/<int:task_id>/claim": Row(ANALYSTS, fresh=OPEN_TASK),
    "POST /api/tasks/<int:task_id>/unclaim": Row(ANALYSTS, fresh=CLAIMED_TASK),
    "POST /api/tasks/<int:task_id>/complete": Row(ANALYSTS, fresh=OPEN_TASK, send=review_keep),
    "POST /api/messages": Row(COLLECTORS, send=promise_to_pay),  # promise_to_pay's senderGroups
    "POST /api/admin/tick": Row(ADMINS_ONLY, send=tick_now),
    # The matrix's app runs the real clock, which cannot be moved: 409 for admins (200 in simulated mode).
    "POST /api/admin/clock": Row(ADMINS_ONLY, ok=409, send=tick_now),
    # Customers and receivables.
    "GET /api/customers": Row(CUSTOMER_STAFF),
    "POST /api/customers": Row(CUSTOMER_CREATORS, ok=201, send=new_customer),
    "GET /api/customers/<int:customer_id>": Row(CUSTOMER_STAFF),
    "POST /api/customers/<int:customer_id>/rating": Row(RATING_RECORDERS, send=rating),
    "POST /api/customers/<int:customer_id>/key-customer": Row(KEY_CUSTOMER_SETTERS, send=key_customer),
    "GET /api/customers/<int:customer_id>/collateral": Row(CUSTOMER_STAFF),
    "GET /api/portfolio": Row(PORTFOLIO_READERS),
    "POST /api/customers/<int:customer_id>/collateral": Row(RATING_RECORDERS, ok=201, send=collateral),
    "GET /api/invoices": Row(CUSTOMER_STAFF),
    "POST /api/invoices": Row(RECEIVABLE_WRITERS, ok=201, send=invoice),
    "POST /api/payments": Row(RECEIVABLE_WRITERS, ok=201, send=payment),
    "GET /api/orders": Row(CUSTOMER_STAFF),
    "POST /api/orders": Row(ORDER_WRITERS, ok=201, send=order),
    "DELETE /api/orders/<int:order_id>": Row(ORDER_WRITERS, fresh=("order_id", "open_order")),
    "GET /api/credit-checks": Row(CUSTOMER_STAFF),
    "POST /api/credit-checks": Row(ORDER_WRITERS, send=credit_check),
    "GET /api/aging": Row(CUSTOMER_STAFF),
    # No snapshot is posted in the sample: the readers get 404 naming how to post one.
    "GET /api/provisions": Row(PROVISION_READERS, ok=404),
    "GET /api/provisions/preview": Row(PROVISION_READERS),
    "GET /api/kpis": Row(KPI_READERS),
    "GET /api/fx-rates": Row(FX_RATE_READERS),
    "POST /api/fx-rates": Row(FX_RATE_WRITERS, ok=201, send=fx_rate),
    "GET /api/dunning-cases": Row(CUSTOMER_STAFF),
    "GET /api/collections": Row(COLLECTION_READERS),
    "GET /api/dunning-cases/<int:case_id>/contacts": Row(COLLECTION_READERS),
    "POST /api/dunning-cases/<int:case_id>/contacts": Row(COLLECTORS, ok=201, send=contact),
    # Disputes: the sample has none, so one dispute is a 404 for those who may read it.
    "GET /api/disputes": Row(DISPUTE_STAFF),
    "GET /api/disputes/<int:dispute_id>": Row(DISPUTE_STAFF, ok=404, params={"dispute_id": "customer_id"}),
    "GET /api/disputes/summary": Row(DISPUTE_STAFF),
    "GET /api/credit-notes": Row(DISPUTE_STAFF),
    # Legal outcomes: the sample has no written-off invoice, so a recovery allowed past the group check
    # finds none (404), and the sample customer is not blocked, so lifting its block is a conflict (409).
    "GET /api/write-offs": Row(CUSTOMER_STAFF),
    "GET /api/recoveries": Row(CUSTOMER_STAFF),
    "POST /api/recoveries": Row(RECEIVABLE_WRITERS, ok=404, send=recovery),
    "POST /api/customers/<int:customer_id>/unblock": Row(BLOCK_LIFTERS, ok=409, send=unblock),
    # Suppliers and contracts.
    "GET /api/suppliers": Row(SUPPLIER_STAFF),
    "POST /api/suppliers": Row(SUPPLIER_CREATORS, ok=201, send=new_supplier),
    "GET /api/suppliers/<int:supplier_id>": Row(SUPPLIER_STAFF),
    "GET /api/contracts": Row(SUPPLIER_STAFF),
    "POST /api/contracts": Row(SUPPLIER_CREATORS, ok=201, send=new_contract),
    "GET /api/contracts/<int:contract_id>": Row(SUPPLIER_STAFF),
    # The outbox and the daily jobs.
    "GET /api/emails": Row(EVERYONE),  # mail addressed to the caller; admins and auditors all of it
    "GET /api/jobs": Row(JOB_READERS),
    # The audit trail and the segregation-of-duties report (JSON, or CSV with format=csv).
    "GET /api/audit": Row(AUDIT_READERS),
    "GET /api/audit/sod": Row(AUDIT_READERS),
    "GET /api/watchlist": Row(WATCHLIST_READERS),
    # Pages. Logging in again as oneself is a redirect too; the visitor "anonymous" is unknown (401).
    "GET /": Row(EVERYONE, ok=302, anonymous=302),
    "GET /login": Row(EVERYONE, anonymous=200),
    "POST /login": Row(EVERYONE, ok=302, anonymous=401, send=login_form, ends_session=True),
    "POST /logout": Row(EVERYONE, ok=302, anonymous=302, ends_session=True),
    # The header's language switch: remembered on the user, or in a visitor's session (issue 20).
    "POST /language": Row(EVERYONE, ok=302, anonymous=302, send=lambda s, user: {"data": {"language": "en"}}),
    "GET /static/<path:filename>": Row(EVERYONE, anonymous=200),
    "GET /inbox": Row(EVERYONE),
    "POST /inbox/<int:task_id>/claim": Row(ANALYSTS, ok=302, fresh=OPEN_TASK),
    "POST /inbox/<int:task_id>/unclaim": Row(ANALYSTS, ok=302, fresh=CLAIMED_TASK),
    "GET /tasks/<int:task_id>": Row(TASK_READERS),
    "POST /tasks/<int:task_id>": Row(ANALYSTS, ok=302, fresh=OPEN_TASK, send=review_keep_form),
    "GET /instances": Row(EVERYONE),
    "GET /instances/<int:instance_id>": Row(INSTANCE_READERS),
    "POST /instances/<int:instance_id>/retry": Row(ADMINS_ONLY, ok=302, params=FAILED),
    "GET /start": Row(EVERYONE),  # each finds what they may start
    "GET /start/<key>": Row(SALES_ONLY),
    "POST /start/<key>": Row(SALES_ONLY, ok=302, send=hold_start_form),
    "GET /start/pick/<field>": Row(CUSTOMER_STAFF),
    "GET /start/pick/<field>/<int:item_id>": Row(CUSTOMER_STAFF),
    "GET /definitions": Row(DEFINITION_READERS),
    "POST /definitions/upload": Row(OWNERS, ok=302, send=bundle),
    "GET /definitions/<key>/<int:version>": Row(DEFINITION_READERS),
    "GET /definitions/<key>/<int:version>/diagram.bpmn": Row(DIAGRAM_READERS),
    "GET /definitions/<key>/<int:version>/edit": Row(OWNERS),  # the modeler: a tool for deploying
    "POST /definitions/<key>/<int:version>/validate": Row(OWNERS, send=edited_xml),
    "POST /definitions/<key>/<int:version>/deploy": Row(OWNERS, ok=201, send=edited_xml),
    "POST /definitions/<key>/<int:version>/dmn-diff": Row(OWNERS, send=edited_xml),
    # credit_hold has no decision table to edit: an owner's what-if is refused as a bad request (400).
    "POST /definitions/<key>/<int:version>/what-if": Row(OWNERS, ok=400, send=edited_xml),
    # The studio panel's previews (webui/studio_previews.py): reads, but for the modeler's users only.
    "POST /definitions/<key>/<int:version>/preview/texts": Row(OWNERS, send=preview_texts),
    "POST /definitions/<key>/<int:version>/preview/timer": Row(OWNERS, send=preview_timer),
    "GET /definitions/<key>/compare": Row(DEFINITION_READERS),
    "GET /definitions/new": Row(OWNERS),
    "GET /definitions/new/edit": Row(OWNERS, send=new_process),
    "GET /definitions/new/template.bpmn": Row(OWNERS, send=new_process),
    "POST /definitions/new/validate": Row(OWNERS, send=new_process_xml),
    # credit_hold's diagram alone misses its forms: refused (422) before its taken key would be (409).
    "POST /definitions/new/deploy": Row(OWNERS, ok=422, send=new_process_xml),
    "POST /definitions/new/preview/texts": Row(OWNERS, send=preview_texts),
    "POST /definitions/new/preview/timer": Row(OWNERS, send=preview_timer),
    "GET /mail": Row(EVERYONE),  # mail addressed to the caller; admins and auditors all of it
    "GET /mail/<int:message_id>": Row(frozenset({COLLECTIONS, AUDITOR})),  # the sample mail is collector1's
    "GET /customers": Row(CUSTOMER_STAFF),
    "GET /customers/<int:customer_id>": Row(CUSTOMER_STAFF),
    # The sample customer is not blocked: a credit manager gets the conflict, every other user 403.
    "POST /customers/<int:customer_id>/unblock": Row(BLOCK_LIFTERS, ok=409, send=unblock_form),
    "GET /collections": Row(COLLECTION_READERS),
    "GET /collections/<int:case_id>": Row(COLLECTION_READERS),
    "POST /collections/<int:case_id>/contacts": Row(COLLECTORS, ok=302, send=contact_form),
    "GET /suppliers": Row(SUPPLIER_STAFF),
    "GET /suppliers/<int:supplier_id>": Row(SUPPLIER_STAFF),
    "GET /contracts": Row(SUPPLIER_STAFF),
    "GET /contracts/<int:contract_id>": Row(SUPPLIER_STAFF),
    "GET /jobs": Row(JOB_READERS),
    "GET /audit": Row(AUDIT_READERS),
    "GET /audit.csv": Row(AUDIT_READERS),
    "GET /audit/sod": Row(AUDIT_READERS),
    "GET /audit/sod.csv": Row(AUDIT_READERS),
    # The cockpit (issue 17): the dashboard for the credit staff and the CFO; the provisions as the API.
    "GET /dashboard": Row(frozenset({CREDIT_MANAGER, CREDIT_ANALYST, CFO})),
    "GET /provisions": Row(PROVISION_READERS),
    "GET /watchlist": Row(WATCHLIST_READERS),
    "GET /portfolio": Row(PORTFOLIO_READERS),
    "GET /portfolio.csv": Row(PORTFOLIO_READERS),
    "GET /portfolio.xlsx": Row(PORTFOLIO_READERS),
}
# Writes that are not changes of the credit domain: anyone, auditors included, may log in and out and choose
# the language they read the pages in.
SESSION_ROUTES = {"POST /login", "POST /logout", "POST /language"}


# --- one app for the module: ~900 calls on one database ----------------------------------------------------


@pytest.fixture(scope="module")
def matrix_settings(
    tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path, postgres_engine: Engine | None
) -> Settings:
    """As conftest's `settings`, for the whole module."""
    directory = tmp_path_factory.mktemp("matrix")
    if postgres_engine is not None:
        empty_postgres(postgres_engine)
        url = POSTGRES_URL
    else:
        shutil.copy(migrated_sqlite, directory / "creditflow.db")
        url = f"sqlite:///{directory / 'creditflow.db'}"
    return load_settings(
        {},
        database={"url": url},
        web={"secret_key": "test-secret"},
        mail={"sink_port": 0},
        scheduler={"lock_file": str(directory / "scheduler.lock")},
    )


@pytest.fixture(scope="module")
def sample(matrix_settings: Settings) -> Iterator[Sample]:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    application: Flask = create_app(matrix_settings, clock=SteppingClock(now))
    application.config["TESTING"] = True
    with transaction(application.extensions["creditflow"].rt.factory) as session:
        for shipped in shipped_bundles():  # as `creditflow init` deploys them
            deploy_files(session, read_files(shipped), build_operations(), deployed_by="system", now=now)
        tokens = {name: issue_token(session, name, now) for name in seed_demo_users(session, now)}
    yield build_sample(application, now, tokens)
    application.extensions["creditflow"].engine.dispose()


# --- the tests ----------------------------------------------------------------------------------------------


def served_routes(app: Flask) -> list[str]:
    """ "METHOD rule" of every route the app serves."""
    return sorted(
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    )


def test_every_route_has_a_row_and_every_row_a_route(sample: Sample) -> None:
    served = served_routes(sample.app)
    missing = [route for route in served if route not in MATRIX]
    assert not missing, f"routes without a row in MATRIX (who may call them?): {missing}"
    stale = [route for route in MATRIX if route not in served]
    assert not stale, f"rows of MATRIX for routes the app does not serve: {stale}"


def test_the_table_refuses_every_write_to_the_auditor() -> None:
    writes = [route for route in MATRIX if not route.startswith("GET ") and route not in SESSION_ROUTES]
    assert len(writes) >= 20
    allowed = [route for route in writes if MATRIX[route].expected(route.split()[1], "auditor1") != 403]
    assert not allowed, f"auditors change nothing, but these rows let auditor1 write: {allowed}"


def test_every_route_gives_every_caller_the_status_of_its_row(sample: Sample) -> None:
    wrong = []
    for route, row in MATRIX.items():
        method, rule = route.split(" ", 1)
        values = sample.values(row)
        used_up = True
        for user in CALLERS:
            if row.fresh and used_up:
                values[row.fresh[0]] = getattr(sample, row.fresh[1])()
            status = sample.call(method, rule, row, user, values)
            used_up = status < 400  # a claim or completion went through: the next caller needs a new task
            expected = row.expected(rule, user)
            if status != expected:
                wrong.append(f"{route} as {user or 'nobody'}: expected {expected}, got {status}")
    assert not wrong, f"{len(wrong)} of {len(MATRIX) * len(CALLERS)} calls:\n" + "\n".join(wrong)
