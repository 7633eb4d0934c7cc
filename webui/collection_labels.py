"""The collectors' words in the page's language (issue 20): contact kinds and outcomes, promise statuses and
the worklist's next-action sentences. The domain (workflows/credit/collection_next.py) writes the next action
in English for the API and the logs; the pages say the same sentence again through the catalogue."""

from __future__ import annotations

from flask_babel import lazy_gettext

from webui.i18n import label_of
from workflows.credit.collection_next import LAST_LEVEL, LEVEL_STEPS, NextAction, Source
from workflows.credit.models import DunningCase

CONTACT_KINDS = {
    "call": lazy_gettext("call"),
    "email": lazy_gettext("e-mail"),
    "letter": lazy_gettext("letter"),
    "visit": lazy_gettext("visit"),
}
CONTACT_OUTCOMES = {
    "reached": lazy_gettext("reached"),
    "no_answer": lazy_gettext("no answer"),
    "promise": lazy_gettext("promise"),
    "dispute": lazy_gettext("dispute"),
    "refused": lazy_gettext("refused to pay"),
    "wrong_contact": lazy_gettext("wrong contact"),
}
PROMISE_STATUSES = {
    "pending_approval": lazy_gettext("pending approval"),
    "open": lazy_gettext("open"),
    "kept": lazy_gettext("kept"),
    "partly_kept": lazy_gettext("partly kept"),
    "broken": lazy_gettext("broken"),
    "refused": lazy_gettext("refused"),
    "replaced": lazy_gettext("replaced"),
    "lapsed": lazy_gettext("lapsed"),
}
PROMISE_LAPSES = "Next dunning step: the promise awaiting approval lapses unless a credit manager decides"
LEVEL_STEP_LABELS = {
    1: lazy_gettext("reminder"),
    2: lazy_gettext("second reminder with fee"),
    3: lazy_gettext("final demand, credit block and call"),
    4: lazy_gettext("legal handover proposal"),
}


# Next actions the system writes when a collector leaves the field empty (collection_contacts.py, a promise;
# collection_next.py, a dated contact without words).
SYSTEM_NEXT_ACTIONS = {
    "Check the promised payment": lazy_gettext("Check the promised payment"),
    "Follow up": lazy_gettext("Follow up"),
}


def next_action_words(text: str | None) -> str:
    """A contact's stored next action: the system's words in the page's language, a collector's as typed."""
    if not text:
        return ""
    return label_of(SYSTEM_NEXT_ACTIONS, text) if text in SYSTEM_NEXT_ACTIONS else text


def contact_kind(kind: str) -> str:
    return label_of(CONTACT_KINDS, kind)


def contact_outcome(outcome: str) -> str:
    return label_of(CONTACT_OUTCOMES, outcome)


def promise_status(status: str) -> str:
    return label_of(PROMISE_STATUSES, status)


def _ladder_text(case: DunningCase) -> dict[str, str]:
    """The English sentences collection_next.step_text may have written for this case, each in the page's
    language (the timer it waits on is not on the row; the sentence says which it was)."""
    level = case.level + 1
    texts = {
        PROMISE_LAPSES: lazy_gettext(
            "Next dunning step: the promise awaiting approval lapses unless a credit manager decides"
        ),
        "Promise judged: dunning resumes unless it was kept": lazy_gettext(
            "Promise judged: dunning resumes unless it was kept"
        ),
        "Next dunning step: legal handover proposed again": lazy_gettext(
            "Next dunning step: legal handover proposed again"
        ),
    }
    if level <= LAST_LEVEL:
        texts[f"Next dunning step: level {level}, {LEVEL_STEPS[level]}"] = lazy_gettext(
            "Next dunning step: level %(level)s, %(step)s", level=level, step=LEVEL_STEP_LABELS[level]
        )
    return {english: str(said) for english, said in texts.items()}


def next_action_text(case: DunningCase, next_action: NextAction) -> str:
    """The worklist's next action in the page's language. A collector's own words stay as typed; the
    sentences the system writes (the ladder's next step, a promise gone) are translated."""
    text = next_action.text
    if next_action.source == Source.VOID_PROMISE:
        for status in ("refused", "lapsed", "replaced"):
            if text == f"The logged promise was {status}: check the case":
                said = lazy_gettext(
                    "The logged promise was %(status)s: check the case", status=promise_status(status)
                )
                return str(said)
        return text
    if next_action.source in (Source.CONTACT, Source.NONE):
        return next_action_words(text)
    if next_action.source != Source.LADDER:
        return text
    ladder = _ladder_text(case)
    if text in ladder:
        return ladder[text]
    for english, said in ladder.items():  # a contact's next action, then the ladder's step in brackets
        if text.endswith(f" ({english})"):
            return f"{next_action_words(text.removesuffix(f' ({english})'))} ({said})"
    return text


# The pages' Jinja globals (webui/collections.py registers them with its blueprint).
TEMPLATE_GLOBALS = (contact_kind, contact_outcome, promise_status, next_action_text, next_action_words)
