"""POST /api/admin/tick: run one scheduler round at a given time (admins; tests and demos move the clock)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, jsonify
from pydantic import Field

from webui.api import bp, current_actor, json_body
from webui.api.openapi import Body, JsonObject, Model, Timestamp, api, responses
from webui.services import services
from workflows.batch.jobs import tick
from workflows.clock import parse_now
from workflows.errors import BadRequest, Forbidden

EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)


class TickRequest(Body):
    now: Timestamp | None = Field(
        None,
        description="the time to run the round at (default: now)",
        examples=["2026-03-02T09:00:00+00:00"],
    )


class TickResult(Model):
    timers: int = Field(description="timers fired")
    jobs: list[JsonObject] = Field(description="the daily jobs run, with what each did")
    emails: int = Field(description="e-mails sent")


@bp.post("/admin/tick")
@api.validate(json=TickRequest, resp=responses(200, TickResult, 403, 413))
def admin_tick() -> Response:
    """Do what the scheduler would have done by `now`: timers, daily jobs, e-mail (admins)."""
    actor = current_actor()
    if not actor.is_admin:
        raise Forbidden(f"{actor.username} may not tick the scheduler: admin only")
    raw = json_body().get("now")
    svc = services()
    try:
        if raw is not None and not isinstance(raw, str):
            raise ValueError(raw)
        now = parse_now(raw)
    except (ValueError, OverflowError) as exc:  # OverflowError: 0001-01-01T00:00+14:00 in UTC
        raise BadRequest(f"now must be an ISO 8601 time, not {raw!r}") from exc
    if not EARLIEST <= now < LATEST:
        # The daily jobs count days and months back and forth from `now`: year 1 or 9999 overflows.
        raise BadRequest(f"now must lie from {EARLIEST.year} to {LATEST.year - 1}, not {raw!r}")
    return jsonify(tick(svc.rt, svc.mailer(), now).as_dict())
