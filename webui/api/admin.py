"""POST /api/admin/tick: run one scheduler round at a given time; POST /api/admin/clock: move the simulated
clock (admins; tests, demos and training environments move time)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Response, jsonify
from pydantic import ConfigDict, Field

from webui.api import bp, current_actor, json_body
from webui.api.openapi import Body, JsonObject, Model, Timestamp, api, responses
from webui.services import services
from workflows.batch.jobs import tick
from workflows.clock import SIMULATED, parse_now
from workflows.errors import BadRequest, Conflict, Forbidden, message_of
from workflows.messages import _
from workflows.store.stored_clock import NOT_SIMULATED, move_clock, record_tick_as_of, tick_time


class TickRequest(Body):
    model_config = ConfigDict(extra="forbid")

    now: Timestamp | None = Field(
        None,
        description="the time to run the round at (default: now)",
        examples=["2026-03-02T09:00:00+00:00"],
    )


class TickResult(Model):
    timers: int = Field(description="timers fired")
    jobs: list[JsonObject] = Field(description="the daily jobs run, with what each did")
    emails: int = Field(description="e-mails sent")
    failed: list[int] = Field(
        default_factory=list,
        description="instances that failed this round: each in error with one incident, retried with backoff",
    )
    errors: list[str] = Field(
        default_factory=list, description="phases that stopped early; the later phases still ran"
    )


@bp.post("/admin/tick")
@api.validate(json=TickRequest, resp=responses(200, TickResult, 403, 409, 413))
def admin_tick() -> Response:
    """Do what the scheduler would have done by `now`: timers, daily jobs, e-mail (admins)."""
    actor = current_actor()
    if not actor.is_admin:
        raise Forbidden(_("%(user)s may not tick the scheduler: admin only", user=actor.username))
    raw = _only_now(json_body(), required=False)
    svc = services()
    # Simulated clock: the tick moves the one clock to `now` first (never back); real: `now` is for this tick.
    requested = None if raw is None else _requested_time(raw)
    now = tick_time(svc.rt.clock, requested, by=actor.username)
    record_tick_as_of(svc.rt.factory, svc.rt.clock, requested, by=actor.username)
    return jsonify(tick(svc.rt, svc.mailer(), now).as_dict())


class ClockRequest(Body):
    model_config = ConfigDict(extra="forbid")

    now: Timestamp = Field(
        description="the time to move the simulated clock to: at or after its current time",
        examples=["2026-04-01T09:00:00+00:00"],
    )


class ClockState(Model):
    mode: Literal["real", "simulated"] = Field(description="[clock] mode: the wall clock or one stored clock")
    now: Timestamp = Field(description="the time every action happens at now")


@bp.post("/admin/clock")
@api.validate(json=ClockRequest, resp=responses(200, ClockState, 403, 409, 413))
def admin_clock() -> Response:
    """Move the simulated clock forward to `now`; every later action happens then (admins; simulated mode)."""
    actor = current_actor()
    if not actor.is_admin:
        raise Forbidden(_("%(user)s may not move the clock: admin only", user=actor.username))
    body = json_body()  # a malformed body is a 400 in either mode
    svc = services()
    if svc.rt.settings.clock.mode != SIMULATED:
        raise Conflict(NOT_SIMULATED, details={"mode": svc.rt.settings.clock.mode})
    moved = move_clock(svc.rt.clock, _requested_time(_only_now(body, required=True)), by=actor.username)
    svc.nudge()  # the embedded scheduler acts on the new time at once
    return jsonify(clock_json(svc.rt.settings.clock.mode, moved))


def _only_now(body: dict[str, Any], *, required: bool) -> Any:
    """The body's `now`, the only field the tick and the clock take (spectree documents bodies, does not
    check them). A misspelt "now" would otherwise run the round at the real time, not the one meant.

    Raises:
        BadRequest: another field, or no `now` where it is required.
    """
    unknown = sorted(set(body) - {"now"})
    if unknown or (required and "now" not in body):
        rule = (
            _('the body takes exactly one field, now (an ISO 8601 time): {"now": "2026-04-01T09:00Z"}')
            if required
            else _('the body takes only one field, now (an ISO 8601 time): {"now": "2026-04-01T09:00Z"}')
        )
        if unknown:
            rule = _("unknown field(s) %(unknown)s: %(rule)s", unknown=", ".join(unknown), rule=rule)
        raise BadRequest(rule)
    return body.get("now")


def clock_json(mode: str, now: datetime) -> dict[str, Any]:
    """The clock as GET /api/health and POST /api/admin/clock show it."""
    return {"mode": mode, "now": now.isoformat()}


def _requested_time(raw: Any) -> datetime:
    try:
        if not isinstance(raw, str):
            raise ValueError(f"not {raw!r}")
        return parse_now(raw)  # an ISO 8601 time within EARLIEST..LATEST (workflows.clock)
    except ValueError as exc:
        raise BadRequest(
            _("now must be an ISO 8601 time from 1970 to 2999: %(problem)s", problem=message_of(exc))
        ) from exc
