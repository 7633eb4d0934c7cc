"""Labels for the case-data keys of the processes beyond credit application and limit review: what the
dunning, write-off, order release, payment terms, dispute and supplier contract change diagrams and their
handlers write into a case, and the keys of the audit's history details (`business_key`, `before`,
`assignee`, ...). webui/case_labels.py reads this table with its own, and falls back to the shipped forms'
field titles (`title_zh`) for a key a person typed in a form; its values that are our codes (a form's enum,
a group, a status) are said by case_labels.data_value.

The stored data keeps its keys (the API and the diagrams' expressions name them so); pages in every
language, English too, read these labels.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from flask_babel import lazy_gettext

from webui.group_labels import GROUP_LABELS, group_label
from webui.i18n import STATUS_LABELS
from webui.suppliers import CHANGE_STATUS_LABELS, CHANGE_TYPE_LABELS
from workflows.credit import roles
from workflows.definitions.shipped import shipped_bundles
from workflows.settings import BPMN_DIR

KEY_LABELS: dict[str, Any] = {
    "action": lazy_gettext("Next action"),
    "active": lazy_gettext("Active"),
    "after": lazy_gettext("After"),
    "age": lazy_gettext("Years in business"),
    "allowance": lazy_gettext("Allowance"),
    "amount": lazy_gettext("Amount"),
    "applied": lazy_gettext("Limit applied"),
    "approval": lazy_gettext("Approval"),
    "approval_letter": lazy_gettext("Approval letter"),
    "approval_level": lazy_gettext("Approval level"),
    "approved_by": lazy_gettext("Approved by"),
    "approvers": lazy_gettext("Approved by"),
    "as_of": lazy_gettext("As of"),
    "assignee": lazy_gettext("Assignee"),
    "before": lazy_gettext("Before"),
    "business_key": lazy_gettext("Business key"),
    "case": lazy_gettext("Dunning case"),
    "case_id": lazy_gettext("Case number"),
    "cfo_notified": lazy_gettext("CFO notified"),
    "change_request": lazy_gettext("Change request"),
    "change_request_id": lazy_gettext("Change request number"),
    "change_type": lazy_gettext("Type of change"),
    "changed": lazy_gettext("Changed"),
    "changed_file": lazy_gettext("Credit file changed"),
    "changes": lazy_gettext("Changes"),
    "charge": lazy_gettext("Charge"),
    "check_id": lazy_gettext("Credit check number"),
    "cleared": lazy_gettext("Cleared"),
    "closed_by": lazy_gettext("Closed by"),
    "closing": lazy_gettext("Case closing"),
    "collateral_id": lazy_gettext("Collateral number"),
    "contact_name": lazy_gettext("Contact person"),
    "content_hash": lazy_gettext("Content fingerprint"),
    "contract_id": lazy_gettext("Contract number"),
    "contract_number": lazy_gettext("Contract reference"),
    "correlation_key": lazy_gettext("Correlation key"),
    "costs": lazy_gettext("Costs"),
    "countersign_by": lazy_gettext("Countersign by"),
    "countersign_reminder": lazy_gettext("Countersignature reminder"),
    "countersign_request": lazy_gettext("Countersignature request"),
    "countersigned_by": lazy_gettext("Countersigned by"),
    "credit": lazy_gettext("Credit note"),
    "credit_balance": lazy_gettext("Credit balance"),
    "credit_base": lazy_gettext("Credit amount in the base currency"),
    "credit_limit": lazy_gettext("Credit limit"),
    "limit": lazy_gettext("Credit limit"),  # a weighed recommendation's amount (limit_recommendation_weighed)
    "credit_notes": lazy_gettext("Credit notes"),
    "current": lazy_gettext("Current terms"),
    "current_ratio": lazy_gettext("Current ratio"),
    "customer": lazy_gettext("Customer"),
    "customer_ids": lazy_gettext("Customer numbers"),
    "day": lazy_gettext("Day"),
    "debt_ratio": lazy_gettext("Debt ratio"),
    "decide_by": lazy_gettext("Decide by"),
    "decided_by": lazy_gettext("Decided by"),
    "decision_notice": lazy_gettext("Decision notice"),
    "definition_id": lazy_gettext("Definition number"),
    "delivery": lazy_gettext("Delivery"),
    "delivery_score": lazy_gettext("Delivery score"),
    "deployed_by": lazy_gettext("Deployed by"),
    "description": lazy_gettext("Description"),
    "dispute": lazy_gettext("Dispute"),
    "dispute_id": lazy_gettext("Dispute number"),
    "dispute_owner": lazy_gettext("Department investigating the dispute"),
    "dispute_reason": lazy_gettext("Reason of the dispute"),
    "dispute_record": lazy_gettext("Dispute record"),
    "disputed": lazy_gettext("Disputed"),
    "disputed_amount": lazy_gettext("Disputed amount"),
    "disputed_invoices": lazy_gettext("Disputed invoices"),
    "due_date": lazy_gettext("Due on"),
    "email": lazy_gettext("E-mail"),
    "end_date": lazy_gettext("End date"),
    "escalation": lazy_gettext("Escalation"),
    "evaluation": lazy_gettext("Supplier evaluation"),
    "evaluation_id": lazy_gettext("Evaluation number"),
    "expires_on": lazy_gettext("Expires on"),
    "expiry": lazy_gettext("Expiry"),
    "expiry_notice": lazy_gettext("Expiry notice"),
    "external_id": lazy_gettext("External number"),
    "factors": lazy_gettext("Factors"),
    "fee_level_1": lazy_gettext("Fee at level 1"),
    "fee_level_2": lazy_gettext("Fee at level 2"),
    "fee_level_3": lazy_gettext("Fee at level 3"),
    "fees": lazy_gettext("Fees charged"),
    "finance_review": lazy_gettext("Finance's review"),
    "financial_size": lazy_gettext("Financial size"),
    "founded_year": lazy_gettext("Year founded"),
    "grade_valid_months": lazy_gettext("Grade valid for (months)"),
    "grade_valid_to": lazy_gettext("Grade valid until"),
    "groups_added": lazy_gettext("Groups added"),
    "handover": lazy_gettext("Legal handover"),
    "impact_in_base": lazy_gettext("Value impact in the base currency"),
    "increase_allowed": lazy_gettext("Increase allowed"),
    "instance_id": lazy_gettext("Case number"),
    "interest_margin_points": lazy_gettext("Interest margin (points)"),
    "interest_on": lazy_gettext("Interest charged"),
    "interest_reference_rate": lazy_gettext("Reference interest rate"),
    "invoice": lazy_gettext("Invoice"),
    "invoices": lazy_gettext("Invoices"),
    "issue_date": lazy_gettext("Issue date"),
    "kind": lazy_gettext("Kind"),
    "language": lazy_gettext("Language"),
    "legal_review": lazy_gettext("Legal's review"),
    "level": lazy_gettext("Dunning level"),
    "level_1_days": lazy_gettext("Days to level 1"),
    "level_2_days": lazy_gettext("Days to level 2"),
    "level_3_days": lazy_gettext("Days to level 3"),
    "level_4_days": lazy_gettext("Days to level 4"),
    "liability": lazy_gettext("Liability"),
    "limit_amount": lazy_gettext("Credit limit"),
    "limit_in_base": lazy_gettext("Credit limit in the base currency"),
    "lines": lazy_gettext("Lines"),
    "lines_text": lazy_gettext("Disputed lines"),
    "litigation": lazy_gettext("Litigation"),
    "litigation_count": lazy_gettext("Lawsuits"),
    "manager_notified": lazy_gettext("Manager notified"),
    "matrix": lazy_gettext("Matrix"),
    "name": lazy_gettext("Name"),
    "needs_safeguard": lazy_gettext("Needs a safeguard"),
    "new_limit": lazy_gettext("New credit limit"),
    "new_version": lazy_gettext("New contract version"),
    "next_action_at": lazy_gettext("Next action on"),
    "next_level_at": lazy_gettext("Next level on"),
    "next_review_date": lazy_gettext("Next review on"),
    "notice": lazy_gettext("Notice"),
    "number": lazy_gettext("Number"),
    "old_limit": lazy_gettext("Previous credit limit"),
    "oldest_due": lazy_gettext("Oldest due date"),
    "open": lazy_gettext("Open"),
    "open_amount": lazy_gettext("Open amount"),
    "open_amounts": lazy_gettext("Open amounts"),
    "open_entries": lazy_gettext("Open entries"),
    "opened": lazy_gettext("Opened"),
    "operations": lazy_gettext("Service operations"),
    "order_id": lazy_gettext("Order number"),
    "order_ref": lazy_gettext("Order reference"),
    "order_status": lazy_gettext("Order status"),
    "order_value": lazy_gettext("Order value"),
    "outcome": lazy_gettext("Outcome"),
    "outside": lazy_gettext("Outside the promise rules"),
    "owner_group": lazy_gettext("Responsible group"),
    "paid_on": lazy_gettext("Paid on"),
    "password_changed": lazy_gettext("Password changed"),
    "password_set": lazy_gettext("Password set"),
    "penalties": lazy_gettext("Penalties"),
    "penalties_count": lazy_gettext("Penalties"),
    "posted": lazy_gettext("Posting"),
    "previous": lazy_gettext("Previous"),
    "price": lazy_gettext("Price"),
    "process_key": lazy_gettext("Process"),
    "promise_decision": lazy_gettext("Promise decision"),
    "promise_grace_days": lazy_gettext("Grace days for a promise"),
    "promise_id": lazy_gettext("Promise number"),
    "promise_max_count": lazy_gettext("Most promises"),
    "promise_max_days": lazy_gettext("Longest promise (days)"),
    "promise_min_pct": lazy_gettext("Smallest promise (share)"),
    "promise_record": lazy_gettext("Promise record"),
    "promised_amount": lazy_gettext("Promised amount"),
    "promised_date": lazy_gettext("Promised payment date"),
    "proposed_by": lazy_gettext("Proposed by"),
    "provision": lazy_gettext("Specific provision"),
    "provision_used": lazy_gettext("Provision used"),
    "quantity": lazy_gettext("Quantity"),
    "queued": lazy_gettext("Queued for sending"),
    "raised_by": lazy_gettext("Raised by"),
    "rate": lazy_gettext("Rate applied"),
    "rate_known": lazy_gettext("Exchange rate known"),
    "rated_by": lazy_gettext("Rated by"),
    "ratings": lazy_gettext("Ratings"),
    "recipients": lazy_gettext("Recipients"),
    "recorded_by": lazy_gettext("Recorded by"),
    "reference": lazy_gettext("Reference"),
    "registration_no": lazy_gettext("Registration number"),
    "rejected": lazy_gettext("Rejection"),
    "rejected_at_step": lazy_gettext("Rejected at"),
    "rejected_by": lazy_gettext("Rejected by"),
    "rejection": lazy_gettext("Rejection"),
    "rejection_notice": lazy_gettext("Rejection notice"),
    "release": lazy_gettext("Release"),
    "reminder": lazy_gettext("Reminder"),
    "report": lazy_gettext("Review report"),
    "request_id": lazy_gettext("Request number"),
    "requested_terms_days": lazy_gettext("Requested terms (days)"),
    "requester_notified": lazy_gettext("Requester notified"),
    "requester_told": lazy_gettext("Requester told"),
    "result": lazy_gettext("Result"),
    "review": lazy_gettext("Review"),
    "review_need": lazy_gettext("Review needed"),
    "risk": lazy_gettext("Risk"),
    "rules": lazy_gettext("Rules"),
    "safeguard_record": lazy_gettext("Safeguard record"),
    "signed_by": lazy_gettext("Signed by"),
    "source": lazy_gettext("Source"),
    "standard_terms_days": lazy_gettext("Standard terms (days)"),
    "standing": lazy_gettext("Standing"),
    "start_date": lazy_gettext("Start date"),
    "status": lazy_gettext("Status"),
    "summary": lazy_gettext("Summary"),
    "supplier_email": lazy_gettext("Supplier's e-mail"),
    "supplier_grade": lazy_gettext("Supplier grade"),
    "supplier_id": lazy_gettext("Supplier number"),
    "supplier_name": lazy_gettext("Supplier name"),
    "termination": lazy_gettext("Termination"),
    "terms": lazy_gettext("Terms"),
    "told": lazy_gettext("People told"),
    "unallocated": lazy_gettext("Unallocated"),
    "unblocked": lazy_gettext("Unblocked"),
    "updated": lazy_gettext("Updated"),
    "uploader_told": lazy_gettext("Uploader told"),
    "used": lazy_gettext("Used"),
    "username": lazy_gettext("User name"),
    "valid_to": lazy_gettext("Valid until"),
    "value": lazy_gettext("Value"),
    "value_impact": lazy_gettext("Value impact"),
    "version": lazy_gettext("Version"),
    "version_notice": lazy_gettext("Version notice"),
    "write_off_amount": lazy_gettext("Write-off amount"),
    "write_off_base": lazy_gettext("Write-off amount in the base currency"),
    "write_off_instance": lazy_gettext("Write-off case"),
    "written_off": lazy_gettext("Written off"),
}

# Values that are our codes, by the key that holds them (a form's choices come from the form, below).
VALUE_LABELS: dict[str, dict[str, Any]] = {
    "action": {"wait": lazy_gettext("wait for payment"), "close": lazy_gettext("close the case")},
    "change": {
        "increase": lazy_gettext("limit increase"),
        "decrease": lazy_gettext("limit decrease"),
        "unchanged": lazy_gettext("limit unchanged"),
    },
    "status": {"posted": lazy_gettext("posted to the ledger")},
}
# Keys whose value is a group id (the approver's level, the group that owns a dispute).
GROUP_KEYS = frozenset({"approval_level", "owner_group", "dispute_owner", "groups_added"})
_CREDIT = frozenset({roles.CREDIT_APPLICATION, roles.CREDIT_LIMIT_REVIEW})
# The shipped processes whose handlers, decision tables or forms write each coded key: there its value is
# our code. In any other process's case (a diagram a process owner uploaded) the same key holds what a
# person typed ('wait', 'posted', 'sales'), shown as stored. Without a process (a history line, a panel of
# another object) the key is ours; `groups_added` is only ever a user event's.
CODE_PROCESSES: dict[str, frozenset[str]] = {
    "action": frozenset({roles.DUNNING}),  # the dunning review's next step
    "change": frozenset({roles.CREDIT_LIMIT_REVIEW}),  # limit_review.assess_review
    "status": frozenset(
        {
            roles.DUNNING,
            roles.DISPUTE_RESOLUTION,
            roles.SUPPLIER_CONTRACT_CHANGE,
            roles.WRITE_OFF,
            roles.ORDER_RELEASE,
            roles.DEFINITION_APPROVAL,
        }
    ),
    "change_type": frozenset({roles.SUPPLIER_CONTRACT_CHANGE}),
    "approval_level": frozenset(  # the authority tables' output
        {
            *_CREDIT,
            roles.DISPUTE_RESOLUTION,
            roles.PAYMENT_TERMS_EXCEPTION,
            roles.SUPPLIER_CONTRACT_CHANGE,
            roles.WRITE_OFF,
        }
    ),
    "owner_group": frozenset({roles.DISPUTE_RESOLUTION, roles.DUNNING}),
    "dispute_owner": frozenset({roles.DUNNING}),
    "groups_added": frozenset(),
    # The credit file and its scoring (credit_file.py, scorecard_weights.dmn); an order release loads the
    # credit file too (credit.load_file, ebd7e1a), so its case holds the customer's industry and ownership.
    "scorecard": _CREDIT,
    "industry": _CREDIT | {roles.ORDER_RELEASE},
    "ownership": _CREDIT | {roles.ORDER_RELEASE},
}


def coded_in(key: str, process: str | None) -> bool:
    """Whether `key`'s value is one of our codes in `process`'s case (CODE_PROCESSES)."""
    return process is None or process in CODE_PROCESSES.get(key, frozenset())


@cache
def _form_texts(language: str) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """The shipped forms' field titles and choice titles in `language` (`title_zh`, `enum_titles_zh`), by
    field key: what a person typed into a form lands in the case under that key."""
    titles: dict[str, str] = {}
    choices: dict[tuple[str, str], str] = {}
    for path in sorted(BPMN_DIR.glob("*.json")):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # not a form: the diagrams' readers report it, pages only skip it
            continue
        fields = schema.get("properties") if isinstance(schema, dict) else None
        for key, field in (fields or {}).items():
            if not isinstance(field, dict):
                continue
            # English is the form's own `title` / `enum_titles` (bpmn/README.md, "Forms").
            suffix = "" if language == "en" else f"_{language}"
            title = field.get(f"title{suffix}")
            if isinstance(title, str):
                titles.setdefault(key, title)
            for code, said in (field.get(f"enum_titles{suffix}") or {}).items():
                choices.setdefault((key, str(code)), str(said))
    return titles, choices


@cache
def _choice_processes() -> dict[tuple[str, str], frozenset[str]]:
    """Which shipped processes offer each (field key, code) as a form choice: the processes whose diagram
    (bpmn/KEY.bpmn) names the form file, or whose start form it is. A code is ours only in such a process's
    case; the same word under the same key elsewhere ("overdue" as a contract change's typed reason) is what
    a person wrote."""
    users: dict[str, set[str]] = {}
    for bundle in shipped_bundles():  # each diagram with the forms it names and its start form
        for form in bundle[1:]:
            users.setdefault(form.name, set()).add(bundle[0].stem)
    owners: dict[tuple[str, str], set[str]] = {}
    for path in sorted(BPMN_DIR.glob("*.json")):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        fields = schema.get("properties") if isinstance(schema, dict) else None
        for key, field in (fields or {}).items():
            for code in (field.get("enum") or ()) if isinstance(field, dict) else ():
                owners.setdefault((key, str(code)), set()).update(users.get(path.name, ()))
    return {choice: frozenset(processes) for choice, processes in owners.items()}


def _offered_in(key: str, value: str, process: str | None) -> bool:
    """Whether `process`'s forms offer the choice; without a process (a panel of another object) any
    shipped form counts."""
    return process is None or process in _choice_processes().get((key, value), frozenset())


def form_title(key: str, language: str) -> str | None:
    return _form_texts(language)[0].get(key)


def coded_value(key: str, value: str, language: str, process: str | None = None) -> str | None:
    """A value that is one of our codes, said in `language`; None for anything else (stored data).
    `process`: the case's process key, when known (a form's choice, or a key our code fills, is a code only
    in a process that offers or writes it)."""
    if key in CODE_PROCESSES and not coded_in(key, process):
        return None
    said = VALUE_LABELS.get(key, {}).get(value)
    if said is not None:
        return str(said)
    if key in GROUP_KEYS and value in GROUP_LABELS:
        return group_label(value)
    if key == "status" and value in STATUS_LABELS:
        return str(STATUS_LABELS[value])
    if key == "status" and value in CHANGE_STATUS_LABELS:  # a contract change request's
        return str(CHANGE_STATUS_LABELS[value])
    if key == "change_type" and value in CHANGE_TYPE_LABELS:
        return str(CHANGE_TYPE_LABELS[value])
    if not _offered_in(key, value, process):
        return None
    said = _form_texts(language)[1].get((key, value))
    if said is None and language == "en" and (key, value) in _choice_processes():
        # A shipped form's choice without an English title (the forms give `enum_titles_zh` only): the code
        # is its English word, written as a word ("request_info" reads "request info").
        return value.replace("_", " ")
    return said
