"""/api/provisions: the monthly provision snapshots, and a preview of the allowance on any day."""

from __future__ import annotations

from flask import Response, jsonify
from pydantic import Field

from webui.api import bp, current_actor, require_groups
from webui.api.openapi import Day, Model, Money, Query, Timestamp, api, responses
from webui.services import services
from workflows.credit.provision_snapshots import preview, run_json, run_on
from workflows.credit.roles import PROVISION_READERS
from workflows.errors import NotFound
from workflows.messages import _


class ProvisionQuery(Query):
    as_of: Day | None = Field(None, description="the day to report on (default: today)")


class BucketSums(Model):
    balance: Money = Field(description="open balance, base currency")
    provision: Money = Field(description="provision, base currency")


class ProvisionLine(Model):
    kind: str = Field(examples=["matrix", "specific"])
    bucket: str = Field(examples=["days_1_30", "specific"])
    currency: str = Field(examples=["GBP"])
    balance: Money = Field(description="open balance in `currency`")
    fx_rate: str = Field(description="base units per unit of `currency` on the day", examples=["1.17"])
    balance_base: Money
    rate: str = Field(description="the provision rate, a decimal fraction", examples=["0.02"])
    provision: Money = Field(description="base currency")
    customer_id: int | None = Field(None, description="specific lines: the customer")


class Movement(Model):
    opening: Money = Field(description="the previous snapshot's allowance (0.00 for the first)")
    charge: Money = Field(description="added to the allowance in the period (expense)")
    release: Money = Field(description="taken back in the period (income)")
    used: Money = Field(description="used by write-offs in the period")
    closing: Money = Field(description="opening + charge - release - used")


class ProvisionSnapshot(Model):
    as_of: Day = Field(description="the month end of the snapshot (the latest on or before as_of)")
    base_currency: str
    matrix: str = Field(description="the deployed table that gave the rates")
    posted_by: str
    posted_at: Timestamp
    previous_as_of: Day | None
    balance: Money
    matrix_total: Money
    specific_total: Money
    total: Money
    movement: Movement
    by_bucket: dict[str, BucketSums]
    lines: list[ProvisionLine]


class ProvisionPreview(Model):
    as_of: Day
    base_currency: str
    matrix: str
    buckets: list[str] = Field(description="the matrix's buckets, in order")
    rates: dict[str, str] = Field(description="each bucket's rate in the deployed table")
    by_bucket: dict[str, BucketSums]
    lines: list[ProvisionLine]
    balance: Money
    matrix_total: Money
    specific_total: Money
    total: Money


@bp.get("/provisions")
@api.validate(resp=responses(200, ProvisionSnapshot, 403, 404))
def get_provisions(query: ProvisionQuery) -> Response:
    """The provision snapshot of the latest month end on or before as_of, with its movement against the
    previous one (404 when none was posted by then)."""
    actor = current_actor()
    require_groups(actor, PROVISION_READERS, _("read provisions"))
    svc = services()
    as_of = query.as_of or svc.clock().date()
    with svc.rt.factory() as session:
        run = run_on(session, as_of)
        if run is None:
            raise NotFound(
                _(
                    "no provision snapshot was posted on or before %(as_of)s; the daily job "
                    "posts one on each month end, `creditflow provisions --post --as-of "
                    "DATE` posts a missed one, and GET /api/provisions/preview shows the "
                    "allowance on any day",
                    as_of=as_of.isoformat(),
                )
            )
        return jsonify(run_json(session, run))


@bp.get("/provisions/preview")
@api.validate(resp=responses(200, ProvisionPreview, 403, 409))
def get_provisions_preview(query: ProvisionQuery) -> Response:
    """The allowance as a run on as_of would post it (nothing is stored); 409 names each currency without
    a rate, or the missing matrix."""
    actor = current_actor()
    require_groups(actor, PROVISION_READERS, _("read provisions"))
    svc = services()
    as_of = query.as_of or svc.clock().date()
    with svc.rt.factory() as session:
        return jsonify(preview(session, as_of, svc.rt.settings.credit.base_currency).as_dict())
