"""The daily job `provision_run`: the monthly provision snapshot (credit/provision_snapshots)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.fx import BeyondMoneyBound
from workflows.credit.provision_matrix import MatrixError
from workflows.credit.provision_snapshots import (
    SYSTEM,
    AlreadyPosted,
    is_month_end,
    lock_runs,
    next_month_end,
    post_run,
)
from workflows.credit.provision_tables import ProvisionRun
from workflows.credit.provisions import MissingRates
from workflows.credit.record_fields import money_text
from workflows.engine.runtime import Runtime
from workflows.errors import Conflict
from workflows.mail.outbox import queue_email_by_language
from workflows.store.audit import record_event
from workflows.store.db import transaction
from workflows.users import emails_of


def month_end_provision_run(rt: Runtime, today: date, now: datetime) -> dict[str, Any]:
    """The daily job: on a month end, post its snapshot as the system (once: a second run, or one racing
    it on another worker, finds it posted), after any month end it missed. A missing rate or matrix is
    recorded and reported, not guessed: finance and the credit managers get an e-mail naming it; finance
    posts the rate, and either of them runs `creditflow provisions --post --as-of` for that day."""
    if not is_month_end(today):
        return {"posted": None, "reason": "not a month end"}
    base = rt.settings.credit.base_currency
    try:
        with transaction(rt.factory) as session:
            lock_runs(session)
            existing = session.scalar(select(ProvisionRun.id).where(ProvisionRun.as_of >= today))
            if existing is not None:
                return {"posted": None, "reason": "posted already", "run_id": existing}
            missed = _missed_month_ends(session, today)
            for day in missed[:MAX_CATCH_UP]:  # each as the book stood that day, in order: no month skipped
                post_run(session, day, base=base, actor=SYSTEM, now=now)
            if len(missed) > MAX_CATCH_UP:  # the next month end's run goes on from there
                caught_up = [d.isoformat() for d in missed[:MAX_CATCH_UP]]
                left = f"more month ends, {today.isoformat()} included, wait for the next month end's run"
                return {"posted": None, "caught_up": caught_up, "reason": left}
            run = post_run(session, today, base=base, actor=SYSTEM, now=now)
            summary = {"posted": today.isoformat(), "run_id": run.id, "closing": money_text(run.closing)}
            return {**summary, "caught_up": [d.isoformat() for d in missed]} if missed else summary
    except (IntegrityError, AlreadyPosted):  # another worker posted it between our check and insert
        return {"posted": None, "reason": "posted already"}
    except (MissingRates, MatrixError, BeyondMoneyBound) as exc:
        with transaction(rt.factory) as session:
            record_event(
                session,
                actor=SYSTEM,
                action="provision_run_refused",
                now=now,
                as_of=today.isoformat(),
                reason=exc.message,
                missing_rates=exc.details.get("missing_rates", []),
            )
            _tell_the_posters(session, today, exc, base, now)
        return {"posted": None, "reason": exc.message, "missing_rates": exc.details.get("missing_rates", [])}


# The most month ends the daily job posts late in one run (a year); it goes on at the next month end.
MAX_CATCH_UP = 12


def _missed_month_ends(session: Session, today: date) -> list[date]:
    """The month ends after the latest snapshot and before `today` that have none: the scheduler was down
    on one, or its run was refused and nobody posted it since. Posting `today` alone would skip them for
    good (snapshots are posted in order), so the daily job posts them first (at most MAX_CATCH_UP + 1 are
    listed: enough to know there are more)."""
    day = session.scalar(select(func.max(ProvisionRun.as_of)))
    missed: list[date] = []
    while day is not None and (day := next_month_end(day)) < today and len(missed) <= MAX_CATCH_UP:
        missed.append(day)
    return missed


# The refusals of a month end that its posters hear of (template provision_run_refused).
Refusal = MissingRates | MatrixError | BeyondMoneyBound


def _tell_the_posters(session: Session, day: date, refusal: Refusal, base: str, now: datetime) -> None:
    """E-mail finance (who posts rates) and the credit managers (who may post the run): why the month
    end waits. The template (provision_run_refused) says it in the readers' language from the refusal's
    data: the currencies without a rate, or whose converted amounts are beyond any amount; a matrix problem
    is said in the readers' words too, with its English detail in the English version only."""
    recipients = emails_of(session, groups=sorted(roles.PROVISION_POSTERS))
    if not recipients:
        return
    # The currencies without a rate (MissingRates), or whose converted amounts are too large.
    currencies = refusal.details.get("missing_rates") or refusal.details.get("currencies") or []
    if isinstance(refusal, MissingRates):
        problem = "missing_rates"
    elif isinstance(refusal, BeyondMoneyBound):
        problem = "beyond_bound"
    else:
        problem = "matrix"
    queue_email_by_language(  # finance and the credit managers may read different languages
        session,
        to=recipients,
        template="provision_run_refused",
        context={
            "as_of": day.isoformat(),
            "problem": problem,
            "currencies": list(currencies),
            "base": base,
            "reason": refusal.message,
        },
        dedupe_key=f"provision_run:{day.isoformat()}:refused",
        now=now,
    )


def post_last_month_end(rt: Runtime, now: datetime) -> str | None:
    """`creditflow init --demo`: the snapshot of the month end before today, posted by the system, so the
    demo's GET /api/provisions has one to read; None when one of that day or later exists, or it cannot be
    computed (the reason is the daily job's to report)."""
    month_end = now.date().replace(day=1) - timedelta(days=1)
    try:
        with transaction(rt.factory) as session:
            lock_runs(session)
            if session.scalar(select(ProvisionRun.id).where(ProvisionRun.as_of >= month_end)) is not None:
                return None
            base = rt.settings.credit.base_currency
            run = post_run(session, month_end, base=base, actor=SYSTEM, now=now)
            return f"snapshot of {month_end.isoformat()} posted (allowance {money_text(run.closing)} {base})"
    except (Conflict, IntegrityError):  # a missing rate or matrix, a month end before it not posted, ...
        return None
