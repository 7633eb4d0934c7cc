"""A worklist row's next action and its date: the one function the /collections page and GET /api/collections
both read, so they never disagree.

In order: a logged promise that no longer stands (refused, lapsed, replaced) asks a collector to check the
case now; else the next action the newest contact set (with its date); else the case's next dunning step and
the day it falls due, read from the timer its dunning instance waits on (the engine escalates at that very
time, so the page shows what will happen, spacing between notices and promise pauses included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.collection_contacts import CollectionContact
from workflows.credit.models import DunningCase, DunningStatus
from workflows.store.models import Timer

# dunning.bpmn's timers: the next ladder level (or, while a promise pauses the case, the day it is judged),
# and the day a promise awaiting a credit manager lapses because the next ladder step falls due.
NEXT_LEVEL_TIMER, PROMISE_LAPSE_TIMER = "next_level_due", "promise_approval_lapses"
LADDER_TIMERS = (NEXT_LEVEL_TIMER, PROMISE_LAPSE_TIMER)
# dunning_policy.dmn's levels, as its output labels name them.
LEVEL_STEPS = {
    1: "reminder",
    2: "second reminder with fee",
    3: "final demand, credit block and call",
    4: "legal handover proposal",
}
LAST_LEVEL = 4


class Source:
    VOID_PROMISE = "void_promise"  # the logged promise no longer stands: check the case now
    CONTACT = "contact"  # the newest contact set it
    LADDER = "ladder"  # no collector set one: the dunning ladder's next step
    NONE = "none"  # nothing is set and no ladder step is waiting (a task is open, or an imported case)
    ALL = (VOID_PROMISE, CONTACT, LADDER, NONE)


@dataclass(frozen=True)
class NextAction:
    text: str
    on: date | None
    source: str

    def due(self, today: date) -> bool:
        """Due today: a collector's next action dated today or earlier; or no collector set a dated one (a
        case never contacted, a contact without a date, a promise gone): a contact is owed."""
        if self.source == Source.CONTACT and self.on is not None:
            return self.on <= today
        return True


@dataclass(frozen=True)
class LadderStep:
    timer: str
    on: date


def ladder_steps(session: Session, cases: Sequence[DunningCase]) -> dict[int, LadderStep]:
    """{case id: the ladder timer its dunning instance waits on} for the cases that wait on one."""
    by_instance = {c.instance_id: c.id for c in cases if c.instance_id is not None}
    if not by_instance:
        return {}
    query = (
        select(Timer.instance_id, Timer.bpmn_id, Timer.due_at)
        .where(Timer.instance_id.in_(list(by_instance)), Timer.bpmn_id.in_(LADDER_TIMERS))
        .order_by(Timer.due_at)
    )
    found: dict[int, LadderStep] = {}
    for instance_id, bpmn_id, due_at in session.execute(query):
        found.setdefault(by_instance[instance_id], LadderStep(bpmn_id, due_at.date()))
    return found


def step_text(case: DunningCase, step: LadderStep) -> str:
    if step.timer == PROMISE_LAPSE_TIMER:
        return "Next dunning step: the promise awaiting approval lapses unless a credit manager decides"
    if case.status == DunningStatus.PAUSED:
        return "Promise judged: dunning resumes unless it was kept"
    level = case.level + 1
    if level > LAST_LEVEL:
        return "Next dunning step: legal handover proposed again"
    return f"Next dunning step: level {level}, {LEVEL_STEPS[level]}"


def next_action(
    case: DunningCase,
    contact: CollectionContact | None,
    promise_gone: str | None,
    step: LadderStep | None,
) -> NextAction:
    """The next action of a case and its date (see the module's docstring for the order)."""
    if promise_gone:
        return NextAction(f"The logged promise was {promise_gone}: check the case", None, Source.VOID_PROMISE)
    if contact is not None and contact.next_action_date is not None:
        return NextAction(contact.next_action or "Follow up", contact.next_action_date, Source.CONTACT)
    if step is not None:
        text = step_text(case, step)
        if contact is not None and contact.next_action:
            text = f"{contact.next_action} ({text})"
        return NextAction(text, step.on, Source.LADDER)
    return NextAction(contact.next_action if contact is not None else "", None, Source.NONE)
