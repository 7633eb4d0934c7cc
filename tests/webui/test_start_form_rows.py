"""Start forms draw an array of objects (a dispute's invoices) as repeatable rows: one input per property,
an enum as a select, rows read back into the list on the server and checked as the API checks them; a bad
row comes back with its values and the error at its cell (422), never a 500, and nothing is started."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from tests.collections_desk import Collections
from tests.helpers import auth
from tests.webui.test_pages import csrf_token, logged_in
from webui.schema_forms import MAX_ROWS, form_widgets, submitted_rows
from workflows.errors import Invalid
from workflows.store.models import ProcessInstance

pytestmark = pytest.mark.usefixtures("shipped")

REASONS = ["price", "quantity", "quality", "delivery", "duplicate", "other"]


def _instances(app: Flask) -> int:
    with app.extensions["creditflow"].rt.factory() as session:
        return int(session.scalar(select(func.count()).select_from(ProcessInstance)) or 0)


def _post(client: FlaskClient, customer: int, **rows: str) -> Any:
    form = {
        "csrf_token": csrf_token(client, f"/start/dispute_resolution?customer_id={customer}"),
        "customer_id": str(customer),
        "owner_group": "sales",
        "description": "Short delivery and a price the customer did not agree.",
        **rows,
    }
    return client.post("/start/dispute_resolution", data=form)


def test_the_dispute_start_form_draws_invoice_rows_with_a_reason_select(
    app: Flask, desk: Collections
) -> None:
    customer = desk.customer("Rowed Goods Ltd")
    page = logged_in(app, "collector1").get(f"/start/dispute_resolution?customer_id={customer}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="invoices"' not in html  # no JSON text area any more
    for prop in ("number", "amount", "reason"):
        assert f'name="invoices-0-{prop}"' in html and f'name="invoices-__row__-{prop}"' in html
    reason = re.search(r'<select id="f-invoices-0-reason"[^>]*>(.*?)</select>', html, re.DOTALL)
    assert reason and re.findall(r'<option value="(\w+)"', reason.group(1)) == REASONS
    assert 'data-add-row="invoices"' in html and 'data-max-rows="200"' in html
    assert re.search(rf'<option value="{customer}" selected>', html)  # the customer page's link preselects


def test_rows_start_a_dispute_with_the_list_of_invoices(app: Flask, desk: Collections) -> None:
    customer = desk.customer("Rowed Goods Ltd")
    desk.invoice(customer, "RG-1", "1000.00")
    desk.invoice(customer, "RG-2", "500.00")
    collector = logged_in(app, "collector1")
    started = _post(
        collector,
        customer,
        **{
            "invoices-0-number": "RG-1",
            "invoices-0-amount": "250.50",
            "invoices-0-reason": "price",
            "invoices-1-number": "",  # a blank row in between is ignored
            "invoices-1-amount": "",
            "invoices-1-reason": "",
            "invoices-2-number": "RG-2",
            "invoices-2-amount": "100",
            "invoices-2-reason": "delivery",
        },
    )
    assert started.status_code == 302, started.get_data(as_text=True)
    disputes = desk.client.get(
        f"/api/disputes?customer_id={customer}", headers=auth(desk.tokens["collector1"])
    ).json["items"]
    [dispute] = disputes
    assert dispute["raised_by"] == "collector1" and dispute["disputed_amount"] == "350.50"
    assert [(line["number"], line["amount"], line["reason"]) for line in dispute["invoices"]] == [
        ("RG-1", "250.50", "price"),
        ("RG-2", "100.00", "delivery"),
    ]


@pytest.mark.parametrize(
    ("rows", "cell", "message"),
    [
        ({"invoices-0-number": "RG-1", "invoices-0-reason": "price"}, "amount", "This field is required."),
        (
            {"invoices-0-number": "RG-1", "invoices-0-amount": "-5", "invoices-0-reason": "price"},
            "amount",
            "greater than 0",
        ),
        (
            {"invoices-0-number": "RG-1", "invoices-0-amount": "abc", "invoices-0-reason": "price"},
            "amount",
            "",
        ),
        (
            {"invoices-0-number": "RG-1", "invoices-0-amount": "9" * 400, "invoices-0-reason": "price"},
            "amount",
            "",
        ),
        (
            {"invoices-0-number": "RG-1", "invoices-0-amount": "10", "invoices-0-reason": "bribery"},
            "reason",
            "Choose one of: price",
        ),
        (  # the service task's own check: not this customer's invoice
            {"invoices-0-number": "NOPE-9", "invoices-0-amount": "10", "invoices-0-reason": "price"},
            "number",
            "has no invoice NOPE-9",
        ),
        (  # more than is open
            {"invoices-0-number": "RG-1", "invoices-0-amount": "5000", "invoices-0-reason": "price"},
            "amount",
            "is more",
        ),
    ],
)
def test_a_bad_row_comes_back_with_its_values_and_the_error_at_its_cell(
    app: Flask, desk: Collections, rows: dict[str, str], cell: str, message: str
) -> None:
    customer = desk.customer("Rowed Goods Ltd")
    desk.invoice(customer, "RG-1", "1000.00")
    before = _instances(app)
    refused = _post(logged_in(app, "collector1"), customer, **rows)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert _instances(app) == before  # nothing started, nothing half-written
    assert 'value="RG-1"' in html or 'value="NOPE-9"' in html  # the typed values are kept
    cell_html = re.search(
        rf'<td class="has-error">(?:(?!</td>).)*name="invoices-0-{cell}"(.*?)</td>', html, re.DOTALL
    )
    assert cell_html, f"no error at the {cell} cell"
    assert message in cell_html.group(1)


def test_no_row_at_all_is_a_missing_field(app: Flask, desk: Collections) -> None:
    customer = desk.customer("Rowed Goods Ltd")
    refused = _post(logged_in(app, "collector1"), customer, **{"invoices-0-number": " "})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    block = html[html.index('data-field="invoices"') :]
    assert "This field is required." in block[: block.index("</fieldset>") + 200]


def test_more_rows_than_max_items_are_refused_not_cut(app: Flask, desk: Collections) -> None:
    customer = desk.customer("Rowed Goods Ltd")
    rows = {f"invoices-{i}-number": f"RG-{i}" for i in range(201)}
    refused = _post(logged_in(app, "collector1"), customer, **rows)
    assert refused.status_code == 422 and "At most 200 rows; 201 were filled." in refused.get_data(
        as_text=True
    )


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku"],
                "properties": {
                    "sku": {"type": "string"},
                    "qty": {"type": "integer"},
                    "kind": {"type": "string", "enum": ["a", "b"]},
                },
            },
        },
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}


def test_any_array_of_objects_is_rows_read_in_row_order() -> None:
    form = MultiDict(
        {
            "lines-10-sku": "late",
            "lines-2-sku": "early",
            "lines-2-qty": "3",
            "lines-2-kind": "b",
            "lines-3-unknown": "dropped",
            "lines-x-sku": "not a row",
        }
    )
    assert submitted_rows(SCHEMA, form) == {
        "lines": [{"sku": "early", "qty": 3, "kind": "b"}, {"sku": "late"}]
    }
    [lines, tags] = form_widgets(SCHEMA, form)
    assert lines.kind == "rows" and tags.kind != "rows"  # an array of strings is not rows
    assert [c.kind for c in lines.columns] == ["text", "integer", "select"]  # two options: still a select
    assert [[c.value for c in row] for row in lines.rows[:2]] == [["early", "3", "b"], ["late", "", ""]]
    assert len(lines.rows) == 4 and lines.columns[0].required and not lines.rows[0][0].required
    assert lines.attrs["data-max-rows"] == str(MAX_ROWS)
    too_many = MultiDict({f"lines-{i}-sku": "x" for i in range(MAX_ROWS + 1)})
    with pytest.raises(Invalid) as refused:
        submitted_rows(SCHEMA, too_many)
    assert "lines" in refused.value.details["fields"]
