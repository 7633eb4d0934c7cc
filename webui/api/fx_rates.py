"""/api/fx-rates: exchange rates into the base currency, posted by finance and credit managers."""

from __future__ import annotations

from typing import Self

from flask import Response, jsonify
from pydantic import Field, model_validator

from webui.api import bp, current_actor, json_body, paged, require_groups
from webui.api.openapi import Body, Day, Model, Page, PageQuery, Timestamp, api, responses
from webui.services import services
from workflows.credit.fx import list_rates, parse_rate, post_rate, rate_json
from workflows.credit.roles import FX_RATE_READERS, FX_RATE_WRITERS
from workflows.errors import Forbidden, Invalid
from workflows.messages import _
from workflows.store.db import transaction

RATE_PATTERN = r"^[0-9]{1,7}(\.[0-9]{1,10})?$"


class NewRate(Body):
    currency: str = Field(pattern="^[A-Z]{3}$", examples=["GBP"], description="not the base currency")
    rate: str | int = Field(
        description="units of the base currency per unit of `currency`: a positive decimal with at most "
        "ten places (a string, or an exact JSON number)",
        examples=["1.1700"],
        json_schema_extra={"anyOf": [{"type": "string", "pattern": RATE_PATTERN}, {"type": "number"}]},
    )
    date: Day = Field(examples=["2027-01-14"], description="the rate holds from this day on")
    source: str | None = Field(None, max_length=80, examples=["ECB reference rate"])
    force: bool | None = Field(
        None,
        description="admins only: store a rate that moves more than [credit] fx_max_move from the "
        "nearest stored rate of its currency (otherwise 422 naming that rate and the move); audited as "
        "fx_rate_forced",
    )


class Rate(Model):
    currency: str
    date: Day
    rate: str = Field(examples=["1.17"])
    source: str
    created_by: str
    created_at: Timestamp


class RateQuery(PageQuery):
    currency: str | None = Field(None, pattern="^[A-Z]{3}$", description="one currency")
    date_from: Day | None = Field(None, alias="from", description="the first day listed")
    date_to: Day | None = Field(None, alias="to", description="the last day listed")

    @model_validator(mode="after")
    def _from_before_to(self) -> Self:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(
                _(
                    "the from date %(start)s is after the to date %(end)s",
                    start=self.date_from,
                    end=self.date_to,
                )
            )
        return self


class RatePage(Page):
    items: list[Rate]


@bp.post("/fx-rates")
@api.validate(json=NewRate, resp=responses(201, Rate, 403, 413, 422))
def post_fx_rate() -> tuple[Response, int]:
    """Store the rate of a currency from a day on; a second rate for the same day replaces the first
    (both are in the audit trail). A rate that moves more than [credit] fx_max_move from the nearest stored
    rate of its currency is refused (422 naming that rate and the move) unless an admin sends force."""
    actor = current_actor()
    require_groups(actor, FX_RATE_WRITERS, _("post exchange rates"))
    svc = services()
    body = json_body()
    force = body.get("force")
    if force is not None and not isinstance(force, bool):
        raise Invalid(
            _("The exchange rate has errors: force: true or false"),
            details={"fields": {"force": _("true or false")}},
        )
    if force and not actor.is_admin:
        raise Forbidden(_("%(user)s may not force an exchange rate: only an admin may", user=actor.username))
    data = parse_rate(body, svc.rt.settings.credit.base_currency)
    settings = svc.rt.settings.credit
    with transaction(svc.rt.factory) as session:
        row = post_rate(
            session,
            data,
            actor=actor.username,
            now=svc.clock(),
            max_move=settings.fx_max_move,
            force=bool(force),
        )
        return jsonify(rate_json(row)), 201


@bp.get("/fx-rates")
@api.validate(resp=responses(200, RatePage, 403))
def get_fx_rates(query: RateQuery) -> Response:
    """Stored exchange rates, newest day first, filtered by currency and days."""
    actor = current_actor()
    require_groups(actor, FX_RATE_READERS, _("read exchange rates"))
    svc = services()
    with svc.rt.factory() as session:
        rows, total = list_rates(
            session,
            currency=query.currency,
            start=query.date_from,
            end=query.date_to,
            page=query.page,
            per_page=query.per_page,
        )
        return paged([rate_json(r) for r in rows], total, query.page, query.per_page)
