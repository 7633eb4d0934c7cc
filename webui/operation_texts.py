"""The service operations' descriptions in the studio's properties panel, in the page's language.

A description is the first paragraph of its handler's docstring (workflows/definitions/operation_catalog.py),
English as the handler's author wrote it. Each is marked below as a catalogue msgid ("%" written "%%",
python-format) so that a zh page says it in Chinese; tests/webui/test_operation_texts.py fails when a
handler's docstring changes and its msgid here does not follow (its Chinese would then be lost).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext, lazy_gettext

from webui.i18n import current_language
from workflows.definitions.display_names import ENGLISH

OPERATION_TEXTS = (
    lazy_gettext(
        "Record the approvers; the request now waits for the supplier's countersignature. Moves money: "
        "its approvals (`change_approvals`) are checked before it runs."
    ),  # contract.approve_change
    lazy_gettext(
        "Close the request as expired: the supplier did not countersign in time; the contract stays."
    ),  # contract.expire_change
    lazy_gettext(
        "Record the change request of this instance (the contract is locked while another one is open)."
    ),  # contract.open_change
    lazy_gettext(
        "Attach the requester's guarantee or justification for a risky supplier to the change request."
    ),  # contract.record_safeguard
    lazy_gettext(
        "Apply the countersigned change: new current terms and an immutable contract version recorded by "
        "the person who reported the countersignature. Moves money: its approvals (`change_approvals`) "
        "are checked."
    ),  # contract.record_version
    lazy_gettext(
        "Close the request as rejected by whoever completed the last review or approval; the contract stays."
    ),  # contract.reject_change
    lazy_gettext(
        "Write the approved limit with a history entry naming the approvers and the instance; schedule "
        "the next review. The operation moves money: its approvals (`limit_approvals`) are checked before"
        " it runs."
    ),  # credit.apply_limit
    lazy_gettext(
        "What approval_authority.dmn needs of an analyst's recommendation: the amount in the base "
        "currency (unknown without a rate) and whether it lies above the policy's limit, which the "
        "analyst must justify."
    ),  # credit.check_recommendation
    lazy_gettext(
        "The facts an approver needs on the case: who the customer is, its limit, exposure and grade."
    ),  # credit.load_file
    lazy_gettext(
        "Need from expected sales and terms (or the request itself), capped by the grade's share of "
        "revenue and rounded down per limit_policy.dmn. An application proposes at most what was "
        "requested. A review proposes no increase when its trigger forbids one (overdue, dunning, a "
        "downgrade), and with revenue or financials missing it keeps the current limit for an analyst to "
        "decide: missing data never cuts."
    ),  # credit.propose_limit
    lazy_gettext(
        "Keep the analyst's ratings (1-5) on the credit file, named after the person whose review form "
        "gave them; 0 keeps the rating on file. `changed_file` says whether a rating on file changed: the"
        " diagrams then re-score the case before the recommendation is checked, so the ratings count in "
        "this case."
    ),  # credit.record_ratings
    lazy_gettext(
        "Store the new score and grade on the credit file with the date until which it is valid."
    ),  # credit.record_score
    lazy_gettext(
        "Score the customer from its credit file, collateral, the analyst's ratings and its payment "
        "history of the last 12 months, with the weights of its segment's scorecard."
    ),  # credit.score
    lazy_gettext(
        "Make the approved version the latest of its key: new instances start from it."
    ),  # definition.activate
    lazy_gettext(
        "Reject the pending version on the decision of the process owner who last completed a task here."
    ),  # definition.reject
    lazy_gettext(
        "End the hold without a credit note: the invoices are dunned again in full."
    ),  # dispute.close
    lazy_gettext(
        "E-mail the outcome to the customer and to the collector who raised the dispute (once each, "
        "whatever retries happen); a missing address is skipped and said so in the result."
    ),  # dispute.notify_outcome
    lazy_gettext(
        "Open the dispute the start data names and hold its amounts out of dunning; a dispute a dunning "
        "case opened for this (queued) instance is taken as it is."
    ),  # dispute.open
    lazy_gettext(
        "Post the approved credit as credit notes on the disputed invoices (checked by `credit_approvals`"
        " before it runs) and end the hold."
    ),  # dispute.post_credit
    lazy_gettext(
        "Record who proposed what (the person completing the owner's task)."
    ),  # dispute.record_proposal
    lazy_gettext(
        "Close the case. Only a paid, no-longer-overdue or recovered close lifts the credit block this "
        "case set (paid and recovered release its provision); a settlement or an uncollectable debt keeps"
        " the block until a credit manager lifts it. Every legal outcome starts a write_off instance with"
        " legal's proposal, which writes the invoices off (settled, uncollectable) or records the "
        "recovery."
    ),  # dunning.close_case
    lazy_gettext(
        "The customer's grade now, for the ladder the next review reads (dunning_policy.dmn): a case "
        "follows the grade the customer has at each level, not the one it had when the case opened. A "
        "change is recorded on the case (`ladder_grade`), and the case remembers the grade its schedule "
        "follows, so the daily run can tell a waiting case when the grade moves away from it."
    ),  # dunning.current_grade
    lazy_gettext(
        "The credit manager's decision on a promise outside the limits: approved, it pauses the case as a"
        " promise within them would; rejected, dunning goes on. The approver is a credit manager who "
        "completed approve_promise and did not record the promise (four eyes, whatever the diagram's "
        "fourEyes says)."
    ),  # dunning.decide_promise
    lazy_gettext(
        "Move the case up one level: the level's fee (dunning_charges.dmn, by currency) is added, L3 "
        "credit-blocks the customer. Returns the day the next step falls due, for the letter to name."
    ),  # dunning.escalate
    lazy_gettext(
        "Hand the case to legal: 100 %% specific provision and the case file e-mailed to the legal group."
    ),  # dunning.legal_handover
    lazy_gettext(
        "Open the customer's dunning case; a customer never has two active cases."
    ),  # dunning.open_case
    lazy_gettext(
        "Open a dispute on the customer's invoices, holding the disputed amounts out of this case (the "
        "rest is dunned on), and queue the `dispute_resolution` instance that settles it, started by who "
        "raised it (the sender of the message, or the collector who made the call). Nothing here credits "
        "anything."
    ),  # dunning.raise_dispute
    lazy_gettext(
        "Record the customer's promise. Within the policy's limits (date at most `max_days` ahead, amount"
        " at least `min_pct` %% of the overdue amount, at most `max_count` open or broken promises on the"
        " case) it pauses the case until the promised date plus grace; outside them it waits for the "
        "credit manager and the case goes on meanwhile."
    ),  # dunning.record_promise
    lazy_gettext(
        "Decide from the receivables whether the case closes, and when the next level is due."
    ),  # dunning.review
    lazy_gettext(
        "E-mail the level's notice to the customer, naming every overdue invoice; once per case and level."
    ),  # dunning.send_notice
    lazy_gettext(
        "Increases, changes after a fall of two grades or more, and any review of a credit file with "
        "revenue or financials missing need people; the rest applies at once. Missing data never decides "
        "on its own."
    ),  # limit.assess_review
    lazy_gettext(
        "Queue one templated e-mail in the step's transaction; a retried step does not queue it again."
    ),  # notify.email
    lazy_gettext(
        "The credit manager refused the release: the order stays held (a later check may start a new "
        "release)."
    ),  # order.keep_held
    lazy_gettext(
        "Release the held order: it counts in exposure from now on, and a later check of it answers "
        'approved ("released by NAME"). An order the ERP closed meanwhile stays closed.'
    ),  # order.release
    lazy_gettext(
        "Store the evaluation (append-only) as the supplier's current grade, and on the change request "
        "(only in an instance started by someone who may read suppliers, an admin or the system)."
    ),  # supplier.record_evaluation
    lazy_gettext(
        "Score the supplier from its size, age, litigation, penalties, delivery record and external "
        "rating (only in an instance started by someone who may read suppliers, an admin or the system)."
    ),  # supplier.risk_check
    lazy_gettext(
        "Record legal's proposal, or take up the one a dunning case's legal step recorded for this instance."
    ),  # write_off.open
    lazy_gettext(
        "Write the invoices off and use the provisions (or close a full recovery). Moves money: its "
        "approvals (`write_off_approvals`) are checked before it runs."
    ),  # write_off.post
    lazy_gettext(
        "Record that an approver refused the write-off; the invoices stay open and dunning resumes."
    ),  # write_off.reject
)


def operation_text(description: str) -> str:
    """A handler's description in the page's language; as written when English or not marked above."""
    if current_language() == ENGLISH or not description:
        return description
    return str(gettext(description.replace("%", "%%")) % {})


def said_operations(operations: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """describe_operations' list with each description in the page's language (the studio's choices)."""
    return [{**op, "description": operation_text(str(op.get("description") or ""))} for op in operations]
