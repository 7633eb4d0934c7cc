"""An audit event's detail on the task and instance pages' history, in the reader's language: each key by
its label (the case-data labels of webui/case_labels.py and a few of the audit's own), statuses, groups and
process keys by their labels, a limit change's reasons as said_stored says them, a contract change's terms
as "old → new", a dispute proposal's decision and credit in a dispute's words, dates as the page writes
them. What people typed and the data a case started with are stored values: shown as they are, inside
`data-value` (the language tests skip them), even a typed word the catalogue holds. English pages read the
same labels in English."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask_babel import gettext, lazy_gettext
from markupsafe import Markup, escape

from webui.case_keys import coded_value
from webui.case_labels import (
    SENTENCE_KEYS,
    data_list,
    data_value,
    invoice_lines,
    known_label,
    limit_reason,
)
from webui.customer_labels import CHECK_RESULTS, OUTCOMES
from webui.diagram_names import key_label
from webui.formatting import format_day, format_value, page_locale
from webui.group_labels import group_list
from webui.i18n import STATUS_LABELS, current_language, label_of, list_separator
from webui.incident_texts import KEPT_BACK, detail_as_read, incident_said
from webui.stored_sentences import said_stored, stored_msgid
from workflows.credit.dispute_reasons import lines_said
from workflows.credit.roles import DISPUTE_RESOLUTION
from workflows.definitions.display_names import ENGLISH
from workflows.languages import clauses_joined
from workflows.money import as_decimal, format_money

# The audit's own keys (workflows/instances.py, workflows/credit/customers.py change_limit, ...).
AUDIT_LABELS: dict[str, Any] = {
    "old": lazy_gettext("old limit"),
    "new": lazy_gettext("new limit"),
    "approvers": lazy_gettext("approved by"),
    "groups": lazy_gettext("offered to"),
    "process_key": lazy_gettext("process"),
    "version": lazy_gettext("version"),
    "status": lazy_gettext("status"),
    "data": lazy_gettext("start data"),
    "message": lazy_gettext("error message"),  # an instance_failed event's: the incident's sentence
}
# A dispute's proposal event (workflows/credit/disputes.propose, its before/after): the decision the
# dispute_proposal form offers and the credit note it proposes, not a limit proposal.
DISPUTE_LABELS: dict[str, Any] = {
    "proposal": lazy_gettext("Proposed decision"),
    "proposed_credit": lazy_gettext("Proposed credit"),
}
LIMIT_CHANGE, DISPUTE_PROPOSAL = "limit change", "dispute proposal"
# Codes our events store under these keys (a credit check's, workflows/credit/credit_checks.py), by label.
ORDER_STATUSES = ("open", "held", "released", "invoiced", "cancelled")  # order_tables.OrderStatus
EVENT_CODES: dict[str, Mapping[str, Any]] = {
    "result": CHECK_RESULTS,
    "order_status": {code: STATUS_LABELS[code] for code in ORDER_STATUSES},
}
# An invoice's statuses beyond the instances' and orders' (workflows/credit/models.InvoiceStatus), said as the
# customer page says them.
INVOICE_STATUSES = {code: OUTCOMES[code] for code in ("paid", "written_off")}
# Keys an event's line leaves out: a service call's operation id (the task column names the element in the
# reader's language; the id stays in the audit trail and GET /api/audit).
LEFT_OUT = frozenset({"operation"})
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _stored(value: Any) -> Markup:
    return Markup('<span data-value="">%s</span>') % format_value("", value)


def _our_sentence(value: str) -> str:
    """Another event's reason than a limit change's: a sentence of ours with parameters (a credit check's,
    a provision's) said again; anything else as stored, even a word the catalogue holds: a contract change's
    typed reason 'overdue' or 'open' is what the buyer wrote, not 已逾期 or 待处理."""
    if current_language() != ENGLISH:
        msgid = stored_msgid(value)
        if msgid is None or "%(" not in msgid:
            return value
    return said_stored(value)


def _listed(parts: list[Markup | str]) -> Markup:
    return Markup(list_separator()).join(escape(part) for part in parts)


def _fields(data: Mapping[str, Any], currency: str | None, process: str | None, depth: int) -> Markup:
    """Case data (what a case started with, a record inside it) as "label: value" pairs, each value as the
    case-data table says it."""
    english = current_language() == ENGLISH
    separator = gettext("%(label)s: %(value)s")
    parts = []
    for key, value in data.items():
        label = known_label(key)
        if label is not None and english:
            label = _inline(label)
        name = escape(label) if label is not None else Markup('<span data-value="">%s</span>') % key
        shown = escape(_data_said(key, value, currency, process, depth))
        parts.append(Markup(separator % {"label": name, "value": shown}))
    return Markup(clauses_joined(parts, Markup("; " if english else "；")))


def _data_said(
    key: str, value: Any, currency: str | None, process: str | None, depth: int = 0
) -> Markup | str:
    """A case-data value inside a history line: amounts, days and our codes as the case-data table says them
    (webui/case_labels.data_value, with the case's process), records as their labelled fields, what people
    typed as stored."""
    if value is None or (isinstance(value, Mapping | list | str) and not value):
        return "—"
    if (listed := data_list(value, key)) is not None:
        return listed
    if (lines := invoice_lines(value, key, currency, process)) is not None:
        return lines
    english = current_language() == ENGLISH
    if isinstance(value, Mapping | list) and depth >= 3:  # deeper than any case of ours: as stored
        return _stored(value)
    if isinstance(value, Mapping):
        return Markup("(%s)" if english else "（%s）") % _fields(value, currency, process, depth + 1)
    if isinstance(value, list):
        if key in SENTENCE_KEYS:  # our sentence keys hold one sentence: a list's items are typed
            return _listed([_stored(v) for v in value])
        return _listed(
            [
                _fields(v, currency, process, depth + 1)
                if isinstance(v, Mapping)
                else _data_said(key, v, currency, process, depth + 1)
                for v in value
            ]
        )
    shown = format_value(key, value)
    said = data_value(key, value, shown, currency, process)
    if not isinstance(value, str) or said != shown:
        return said
    # The same text back: what people typed (as stored), or a code whose English is itself ("approve").
    return said if coded_value(key, value, current_language(), process) is not None else _stored(value)


def _said(
    key: str, value: Any, currency: str | None = None, kind: str | None = None, process: str | None = None
) -> Markup | str:
    """`value` as the line says it; `kind`: LIMIT_CHANGE or DISPUTE_PROPOSAL when the event is one."""
    if isinstance(value, str | list) and not value:  # a form's field left empty (a comment, no invoices)
        return "—"
    if kind == DISPUTE_PROPOSAL and key == "proposed_credit" and as_decimal(value) is not None:
        return format_money(value, currency, locale=page_locale())
    if kind == DISPUTE_PROPOSAL and key == "proposal" and isinstance(value, str):  # the form's choice
        said = coded_value("decision", value, current_language(), DISPUTE_RESOLUTION)
        return said if said is not None else _stored(value)
    if key in ("old", "new") and not isinstance(value, bool) and as_decimal(value) is not None:
        return format_money(value, currency, locale=page_locale())  # a limit change's amounts
    if key == "written_off" and isinstance(value, Mapping) and value:
        # A write-off's decision: {invoice id: amount}; each invoice has its own line (invoice_written_off),
        # this one says the total.
        amounts = [as_decimal(v) for v in value.values() if not isinstance(v, bool)]
        if len(amounts) == len(value) and all(a is not None for a in amounts):
            return format_money(sum(a for a in amounts if a is not None), currency, locale=page_locale())
    if key == "lines" and (lines := lines_said(value, currency, current_language())) is not None:
        return lines  # a dispute's lines (its opening event): invoice, amount and reason each
    if key == "groups" and isinstance(value, list):
        return group_list(str(v) for v in value)
    if key == "approvers" and isinstance(value, list):
        return Markup('<span data-value="">%s</span>') % "、".join(map(str, value))
    if isinstance(value, str):
        if key in EVENT_CODES and value in EVENT_CODES[key]:
            return str(EVENT_CODES[key][value])
        if key == "status":  # an instance's, a task's, an invoice's or a contract change request's
            if value in INVOICE_STATUSES:
                return str(INVOICE_STATUSES[value])
            return coded_value(key, value, current_language()) or label_of(STATUS_LABELS, value)
        if key == "process_key":
            return key_label(value)
        if key == "reason":  # a limit change's reason, another event's: a sentence of ours, or typed
            said = limit_reason(value) if kind == LIMIT_CHANGE else _our_sentence(value)
            return said if said != value else _stored(value)
        if key == "message":  # an incident's sentence (an admin's), or KEPT_BACK (anyone else's): ours
            said = said_stored(value)
            return said if said != value or value is KEPT_BACK else _stored(value)
        if _ISO_DAY.fullmatch(value):
            try:
                return format_day(value)
            except ValueError:  # the shape of a day but none (a typed "2026-02-30"): as stored, not a 500
                return _stored(value)
        # The event's own keys are ours in every process (a contract change request's status, a dispute's
        # owner group): said without the process, unlike the case data it carries (_data_said).
        said = data_value(key, value, value, currency)
        if said == value and coded_value(key, value, current_language()) is None:
            return _stored(value)  # what people typed: as stored (a code whose English is itself is ours)
        return said
    if isinstance(value, Mapping | list):
        return _data_said(key, value, currency, process, 1)
    return format_value(key, value)


@dataclass(frozen=True)
class _Change:
    """A term a contract change request asks for (`new`) and the value it replaces (`old`, None if unset)."""

    old: Any
    new: Any


def _inline(label: str) -> str:
    """A case-data label inside an English history line, as the audit's own labels read there ("old limit:
    … · customer number: 1"); an acronym stays as written ("DSO")."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _currency(flat: Mapping[str, Any], case_currency: str | None) -> str | None:
    """The currency of an event's amounts: the event's own (a limit change names it since issue 20), else
    the case's (an older event)."""
    found = flat.get("currency")
    if isinstance(found, str) and len(found) == 3 and found.isalpha():
        return found.upper()
    return case_currency


def history_detail(
    detail: Mapping[str, Any] | None, currency: str | None = None, process: str | None = None
) -> Markup | str:
    """The detail line of one history row ("offered to: 信用分析师", "offered to: Credit analyst"); an
    instance's start data on a second line, field by field. `process`: the case's process key (its codes
    and sentences are said as the case-data table says them)."""
    if not detail:
        return ""
    flat: dict[str, Any] = {}
    changes, previous = detail.get("changes"), detail.get("previous")
    asked = isinstance(changes, Mapping) and isinstance(previous, Mapping)  # a contract change request's
    replaced: Mapping[str, Any] = previous if isinstance(previous, Mapping) else {}
    for key, value in detail.items():
        if asked and key == "changes":  # each term as asked beside the value it replaces ("old → new")
            flat.update({name: _Change(replaced.get(name), new) for name, new in value.items()})
        elif asked and key == "previous":
            continue
        # One level flattened: a completion's submitted data ("decision: keep · comment: …") and an
        # instance start's "after" (whose own "data", what the case started with, stays one value); a
        # write-off decision's amounts by invoice id stay one value (their total, _said).
        elif isinstance(value, Mapping) and key != "written_off":
            flat.update(value)
        else:
            flat[key] = value
    for key in LEFT_OUT:
        flat.pop(key, None)
    if "before" in flat and flat["before"] is None:  # an instance start's: nothing came before it
        del flat["before"]
    started_with = flat.pop("data") if isinstance(flat.get("data"), Mapping) else None
    amounts_in = _currency(flat, currency)
    kind = None
    if "old" in flat and "new" in flat:  # credit_limit_changed: its reason is a limit reason
        kind = LIMIT_CHANGE
        flat.pop("currency", None)  # said with the amounts
    elif "dispute_id" in flat and "proposal" in flat:
        kind = DISPUTE_PROPOSAL
    labels = {**AUDIT_LABELS, **DISPUTE_LABELS} if kind == DISPUTE_PROPOSAL else AUDIT_LABELS
    english = current_language() == ENGLISH
    separator = gettext("%(label)s: %(value)s")
    parts = []
    for key, value in flat.items():
        label = labels.get(key) or known_label(key)
        if label is not None and english:
            label = _inline(str(label))
        if isinstance(value, _Change):
            asked_for = escape(_said(key, value.new, amounts_in))
            was = None if value.old is None else escape(_said(key, value.old, amounts_in))
            shown = asked_for if was is None else Markup("%s → %s") % (was, asked_for)
        else:
            shown = escape(_said(key, value, amounts_in, kind, process))
        name = escape(str(label)) if label is not None else Markup('<span data-value="">%s</span>') % key
        parts.append(Markup(separator % {"label": name, "value": shown}))
    line = Markup(" · ").join(parts)
    if started_with is None:
        return line
    label = str(AUDIT_LABELS["data"])
    fields = _fields(started_with, _currency(started_with, currency), process, 0) if started_with else "—"
    label = _inline(label) if english else label
    data = Markup(separator % {"label": escape(label), "value": escape(fields)})
    return Markup("<br>").join(part for part in (line, data) if part)


def register(app: Flask) -> None:
    app.jinja_env.globals.update(
        history_detail=history_detail, detail_as_read=detail_as_read, incident_said=incident_said
    )
