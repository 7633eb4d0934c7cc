"""GET /api/dunning-cases: dunning cases with their levels, fees and history."""

from __future__ import annotations

from flask import Response, request

from webui.api import bp, current_actor, id_arg, paged, paging_args, require_groups
from webui.services import services
from workflows.credit.dunning import cases_json, list_cases
from workflows.credit.roles import CUSTOMER_READERS


@bp.get("/dunning-cases")
def get_dunning_cases() -> Response:
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, "read dunning cases")
    page, per_page = paging_args()
    with services().rt.factory() as session:
        rows, total = list_cases(
            session,
            customer_id=id_arg("customer_id"),
            status=request.args.get("status") or None,
            page=page,
            per_page=per_page,
        )
        return paged(cases_json(session, rows), total, page, per_page)
