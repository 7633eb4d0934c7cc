"""The dunning run's word to open cases whose customer was regraded: the message `grade_changed`."""

from __future__ import annotations

import logging
from datetime import date, datetime

from workflows.credit import dunning
from workflows.engine.runner import Runtime, deliver_message
from workflows.errors import DomainError
from workflows.users import SYSTEM

logger = logging.getLogger(__name__)


def tell_regraded_cases(rt: Runtime, as_of: date, now: datetime) -> int:
    """Send `grade_changed` to each open dunning case whose customer's grade moved away from the one its
    ladder follows (a review downgraded it), so the case re-reads its ladder today instead of at its
    next level. Returns how many cases took it.

    Each message is its own transaction, and the case records the grade it then follows: a run killed
    halfway, or a second run, sends only what is still due. A case busy elsewhere (a call, an approval)
    does not wait for the message; it reads the grade at its next review anyway.
    """
    with rt.factory() as session:
        regraded = dunning.regraded_cases(session)
    reached = 0
    for customer_id, grade in regraded:
        try:
            reached += len(
                deliver_message(
                    rt,
                    "grade_changed",
                    str(customer_id),
                    {"grade": grade},
                    actor=SYSTEM,
                    now=now,
                    internal=True,
                )
            )
        except DomainError as exc:  # one case's refusal must not stop the run
            logger.warning("grade_changed for customer %s on %s: %s", customer_id, as_of, exc)
    return reached
